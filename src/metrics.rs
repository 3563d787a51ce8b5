//! Prometheus metrics (prometheus-client), served at `/metrics` in the OpenMetrics text format.
//!
//! Counted as things happen, per instance: HTTP requests by method, route pattern (never the
//! raw path: paths carry private tokens) and status, their latency, applications received,
//! scheduler runs. Read from PostgreSQL at scrape time: the deliveries of the runs in progress
//! by status, and the queue depths. Those are global figures (every instance reports the same), read with a short
//! statement timeout; counters could not see what other instances or earlier lives of the
//! process did, and the campaign senders would have to report every status change. Read from
//! the r2d2 pool at scrape time: connections and idle connections.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::db::enums::{DeliveryStatus, RunStatus};
use crate::db::schema::campaign_runs;
use crate::db::PgPool;

/// The longest a scrape's queries may run; past it the database figures are skipped.
const SCRAPE_STATEMENT_TIMEOUT_MS: u32 = 1000;
/// The longest a scrape waits for a pooled connection.
const SCRAPE_CONNECTION_WAIT: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 5 ms to about 10 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 12))
}

/// The registry and the handles to its metrics; one per running service, shared by `Arc`.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    applications: Counter,
    scheduler_runs: Family<JobLabels, Counter>,
    deliveries: Family<StatusLabels, Gauge>,
    queue_depth: Family<QueueLabels, Gauge>,
    pool_connections: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    database_up: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("vocation");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (until the response head), by method and route pattern",
            latency.clone(),
        );
        let applications = Counter::default();
        registry.register(
            "applications_received",
            "New applications recorded (a resubmitted form, or an open application completed, is not counted)",
            applications.clone(),
        );
        let scheduler_runs = Family::<JobLabels, Counter>::default();
        registry.register(
            "scheduler_runs",
            "Scheduled job runs on this instance, by job and outcome (ok, error)",
            scheduler_runs.clone(),
        );
        let deliveries = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "campaign_deliveries",
            "Deliveries of the campaign runs being sent or paused, by status \
             (all instances, read at scrape time)",
            deliveries.clone(),
        );
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "queue_depth",
            "Messages waiting to be sent (all instances, read at scrape time): \
             outbound_emails (single e-mails) and deliveries (campaign mail)",
            queue_depth.clone(),
        );
        let pool_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Connections open in this instance's database pool",
            pool_connections.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle connections in this instance's database pool",
            pool_idle.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "Size limit of this instance's database pool (database.pool_size)",
            pool_max.clone(),
        );
        let database_up = Gauge::default();
        registry.register(
            "database_up",
            "1 when the scrape could read the queue figures from PostgreSQL, else 0",
            database_up.clone(),
        );
        registry.register(
            "worker_panics",
            "Panics caught in background tasks since the process started, by task (the task \
             goes on; see src/supervise.rs)",
            crate::supervise::panics().clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            applications,
            scheduler_runs,
            deliveries,
            queue_depth,
            pool_connections,
            pool_idle,
            pool_max,
            database_up,
        }
    }

    /// One answered request. `route` is the route pattern, never the path.
    pub fn observe_request(
        &self,
        method: &'static str,
        route: &str,
        status: u16,
        elapsed: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn application_received(&self) {
        self.applications.inc();
    }

    /// One run of a scheduled job.
    pub fn scheduler_run(&self, job: &'static str, ok: bool) {
        self.scheduler_runs
            .get_or_create(&JobLabels {
                job,
                outcome: if ok { "ok" } else { "error" },
            })
            .inc();
    }

    /// Refreshes the figures read at scrape time (blocking: call it off the async threads),
    /// then encodes everything.
    pub fn scrape(&self, pool: &PgPool) -> String {
        let state = pool.state();
        self.pool_connections.set(i64::from(state.connections));
        self.pool_idle.set(i64::from(state.idle_connections));
        self.pool_max.set(i64::from(pool.max_size()));
        match read_queues(pool) {
            Ok(figures) => {
                for status in DeliveryStatus::ALL {
                    let count = figures
                        .deliveries
                        .iter()
                        .find(|(code, _)| code == status.code())
                        .map_or(0, |(_, n)| *n);
                    self.deliveries
                        .get_or_create(&StatusLabels {
                            status: status.code(),
                        })
                        .set(count);
                }
                self.queue_depth
                    .get_or_create(&QueueLabels {
                        queue: "outbound_emails",
                    })
                    .set(figures.pending_emails);
                self.queue_depth
                    .get_or_create(&QueueLabels {
                        queue: "deliveries",
                    })
                    .set(figures.pending_deliveries);
                self.database_up.set(1);
            }
            Err(e) => {
                // Stale figures would mislead: drop them until the database answers again.
                tracing::warn!(error = %e, "metrics: queue figures unavailable");
                self.deliveries.clear();
                self.queue_depth.clear();
                self.database_up.set(0);
            }
        }
        self.encode()
    }

    /// The registry as OpenMetrics text, without touching the database.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

struct QueueFigures {
    deliveries: Vec<(String, i64)>,
    pending_emails: i64,
    pending_deliveries: i64,
}

#[derive(QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn read_queues(pool: &PgPool) -> anyhow::Result<QueueFigures> {
    let mut conn = pool.get_timeout(SCRAPE_CONNECTION_WAIT)?;
    let figures = conn.transaction(|conn| -> QueryResult<QueueFigures> {
        diesel::sql_query(format!(
            "SET LOCAL statement_timeout = {SCRAPE_STATEMENT_TIMEOUT_MS}"
        ))
        .execute(conn)?;
        // The runs in progress first, then their deliveries through the (run_id, …) index: the
        // whole table grows with every run (about 200 ms to count a million rows on two
        // cores), a run in progress is what an operator watches (25 ms for 50,000).
        let active: Vec<i64> = campaign_runs::table
            .filter(campaign_runs::status.eq_any([RunStatus::Sending, RunStatus::Paused]))
            .select(campaign_runs::id)
            .load(conn)?;
        let deliveries: Vec<StatusCount> = if active.is_empty() {
            Vec::new()
        } else {
            diesel::sql_query(
                "SELECT status, count(*) AS n FROM deliveries WHERE run_id = ANY($1) \
                 GROUP BY status",
            )
            .bind::<Array<BigInt>, _>(&active)
            .load(conn)?
        };
        // The partial index the mail worker scans.
        let pending_emails: Count =
            diesel::sql_query("SELECT count(*) AS n FROM outbound_emails WHERE status = 'pending'")
                .get_result(conn)?;
        // Pending deliveries belong to runs sending or paused, counted above.
        let pending_deliveries = deliveries
            .iter()
            .filter(|d| d.status == "en_attente")
            .map(|d| d.n)
            .sum();
        Ok(QueueFigures {
            deliveries: deliveries.into_iter().map(|d| (d.status, d.n)).collect(),
            pending_emails: pending_emails.n,
            pending_deliveries,
        })
    })?;
    Ok(figures)
}
