//! PostgreSQL access: the connection pool, database creation, embedded migrations, and the one
//! helper that runs diesel code on actix's blocking thread pool.

pub mod enums;
pub mod schema;

use std::time::Duration;

use anyhow::Context;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::{mask_database_url, Settings};
use crate::error::AppError;

// deliveries reference their run and contact through statement-level triggers rather than
// foreign keys (migration 000017), so `diesel print-schema` does not see these two joins.
diesel::joinable!(schema::deliveries -> schema::campaign_runs (run_id));
diesel::joinable!(schema::deliveries -> schema::contacts (contact_id));

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type PgPooled = PooledConnection<ConnectionManager<PgConnection>>;

diesel::define_sql_function! {
    /// SQL `lower(text)`, for the case-insensitive unique indexes on e-mail addresses and names.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// SQL `lower(text)` of a nullable column (a contact's e-mail address is optional).
    #[sql_name = "lower"]
    fn lower_opt(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Why the database could not be reached, in one line with the URL tried (password masked).
#[derive(Debug, thiserror::Error)]
#[error("PostgreSQL injoignable à {url} : {reason}")]
pub struct Unreachable {
    pub url: String,
    pub reason: String,
}

fn split_database_name(url: &str) -> anyhow::Result<(url::Url, String)> {
    let parsed = url::Url::parse(url).context("adresse de base de données illisible")?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    anyhow::ensure!(
        !name.is_empty(),
        "l'adresse de base de données ne nomme pas de base"
    );
    Ok((parsed, name))
}

/// Creates the database named in `url` if it does not exist yet.
pub fn ensure_database(url: &str) -> Result<(), Unreachable> {
    let unreachable = |reason: String| Unreachable {
        url: mask_database_url(url),
        reason,
    };
    match PgConnection::establish(url) {
        Ok(_) => return Ok(()),
        Err(e) if !e.to_string().contains("does not exist") => {
            return Err(unreachable(first_line(&e.to_string())))
        }
        Err(_) => {}
    }
    let (mut admin_url, name) = split_database_name(url).map_err(|e| unreachable(e.to_string()))?;
    admin_url.set_path("/postgres");
    let mut admin = PgConnection::establish(admin_url.as_str())
        .map_err(|e| unreachable(first_line(&e.to_string())))?;
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match diesel::sql_query(format!("CREATE DATABASE {quoted}")).execute(&mut admin) {
        Ok(_) => {
            tracing::info!("database created");
            Ok(())
        }
        // Another instance created it between our two attempts.
        Err(e) if e.to_string().contains("already exists") => Ok(()),
        Err(e) => Err(unreachable(format!(
            "création de la base impossible : {}",
            first_line(&e.to_string())
        ))),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_owned()
}

/// Runs every pending migration; returns how many ran.
pub fn run_migrations(conn: &mut PgConnection) -> anyhow::Result<usize> {
    // Several instances may start together: one migrates while the others wait.
    diesel::sql_query("SELECT pg_advisory_lock(861370001)").execute(conn)?;
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|v| v.len())
        .map_err(|e| anyhow::anyhow!("échec des migrations : {e}"));
    diesel::sql_query("SELECT pg_advisory_unlock(861370001)").execute(conn)?;
    result
}

/// Creates the database if needed, migrates it and builds the pool.
pub fn prepare(settings: &Settings) -> anyhow::Result<PgPool> {
    let url = settings.database_url();
    ensure_database(url)?;
    let mut conn = PgConnection::establish(url).map_err(|e| Unreachable {
        url: mask_database_url(url),
        reason: first_line(&e.to_string()),
    })?;
    let applied = run_migrations(&mut conn)?;
    if applied > 0 {
        tracing::info!(applied, "migrations applied");
    }
    build_pool(settings)
}

/// The service's sessions are short requests (pages, forms) running side by side: a parallel
/// plan spends more CPU in total (workers started, results gathered) to shorten one request,
/// which under concurrency only delays the others. Measured on the board's filtered counts
/// (50,051 applications, one client, machine under load): 29 → 22 ms (part time), 55 → 32 ms
/// (centre), 51 → 39 ms (general practice).
#[derive(Debug)]
struct ServiceSession;

impl diesel::r2d2::CustomizeConnection<PgConnection, diesel::r2d2::Error> for ServiceSession {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        diesel::sql_query("SET max_parallel_workers_per_gather = 0")
            .execute(conn)
            .map(|_| ())
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

pub fn build_pool(settings: &Settings) -> anyhow::Result<PgPool> {
    let manager = ConnectionManager::<PgConnection>::new(settings.database_url());
    Pool::builder()
        .max_size(settings.database.pool_size)
        .connection_customizer(Box::new(ServiceSession))
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(
            settings.database.connect_timeout_seconds,
        ))
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| {
            Unreachable {
                url: mask_database_url(settings.database_url()),
                reason: first_line(&e.to_string()),
            }
            .into()
        })
}

/// Runs `f` with a pooled connection on the blocking thread pool. A pool timeout or a lost
/// connection becomes a 503; any other failure a 500 with the cause logged.
pub async fn run<T, F>(pool: &PgPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    // Log lines written on the blocking thread keep the request's span (and its request id).
    let span = tracing::Span::current();
    actix_web::web::block(move || {
        let _entered = span.enter();
        let mut conn = pool
            .get()
            .map_err(|e| AppError::Unavailable(anyhow::Error::new(e)))?;
        f(&mut conn)
    })
    .await
    .map_err(|e| AppError::Unexpected(anyhow::anyhow!("blocking task failed: {e}")))?
}
