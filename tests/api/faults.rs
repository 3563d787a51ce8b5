//! Proof under faults (issue 6): the service against real parts that fail.
//!
//! - PostgreSQL stopped and started again (a private cluster, never the shared one) while
//!   several clients submit the application form: every success is stored once, every failure
//!   is a French 503 page, the service recovers by itself.
//! - The SMTP relay down (421, then refusing connections) for `FAULTS_SMTP_OUTAGE_SECONDS`
//!   (90 by default), then back: the campaign run and the transactional outbox lose nothing,
//!   send each message once, and retry a bounded number of times.
//! - Two `vocation serve` processes on one database for a scheduled campaign: one run, each
//!   recipient once.
//! - Hostile input on the public HTML endpoints: 4xx with a French message or the text stored
//!   as typed and shown escaped, never a 500, nothing stored half-way; and a property-based
//!   test of the form parser and validator.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use tokio::sync::Notify;
use vocation::campaigns::runs::{self, CampaignInput, Schedule};
use vocation::config::Settings;
use vocation::mail::outbox::Dispatcher;

use crate::campaigns::{sender_settings, start_sender};
use crate::helpers::{field_error, Fields, FormTokens, TempDir, TestApp, TestDatabase};
use crate::smtp_server::{Behaviour, SmtpServer};

/// Prints a line to the test log even when the test passes (libtest captures `eprintln!`).
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

// ---------------------------------------------------------------------------------------------
// Small SQL helpers on any connection

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
        .get_result::<N>(conn)
        .expect("count query")
        .n
}

fn texts(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = Nullable<Text>)]
        t: Option<String>,
    }
    diesel::sql_query(sql)
        .load::<T>(conn)
        .expect("text query")
        .into_iter()
        .map(|t| t.t.unwrap_or_default())
        .collect()
}

/// What a page must never show: traces of the machinery behind it.
const INTERNALS: &[&str] = &[
    "diesel",
    "r2d2",
    "panicked",
    "PoolError",
    "postgres",
    "PostgreSQL",
    "SQLSTATE",
    "stack backtrace",
    "src/",
    "Error(",
    "connection to server",
];

/// A 503 page as the service must give it: French, saying nothing was recorded, no internals.
fn assert_french_503(body: &str) {
    assert!(
        body.contains("lang=\"fr\"") && body.contains("Service momentanément indisponible"),
        "a French 503 page: {body}"
    );
    assert!(
        body.contains("été enregistré"),
        "the 503 page says nothing was recorded: {body}"
    );
    for word in INTERNALS {
        assert!(
            !body.contains(word),
            "the 503 page shows « {word} »: {body}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A private PostgreSQL cluster

/// A throwaway PostgreSQL cluster on a free loopback port, in a temporary directory, that the
/// test may stop and start at will (the shared server on :5432 is never touched). Stopped
/// (immediate mode) and removed when dropped.
struct PrivatePostgres {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

impl PrivatePostgres {
    fn start() -> PrivatePostgres {
        let bin = postgres_bin_dir();
        let dir = std::env::temp_dir().join(format!(
            "vocation-faults-pg-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("the cluster's directory");
        // PostgreSQL refuses to run as root: then the cluster belongs to the postgres account.
        let as_postgres = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        if as_postgres {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(status.success(), "chown of {}", dir.display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = PrivatePostgres {
            dir,
            port,
            bin,
            as_postgres,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
        );
        pg.pg_ctl(&[
            "start",
            "-w",
            "-t",
            "60",
            "-l",
            &pg.log(),
            "-o",
            &pg.options(),
        ]);
        pg
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn log(&self) -> String {
        self.dir.join("server.log").display().to_string()
    }

    fn options(&self) -> String {
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            self.port,
            self.dir.display()
        )
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let output = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.data();
        let mut all = vec!["-D", data.as_str()];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }

    /// Fast shutdown: open transactions are rolled back, clients disconnected.
    fn stop(&self) {
        self.pg_ctl(&["stop", "-w", "-m", "fast"]);
    }

    fn start_again(&self) {
        self.pg_ctl(&[
            "start",
            "-w",
            "-t",
            "60",
            "-l",
            &self.log(),
            "-o",
            &self.options(),
        ]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let exe = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = command
            .args(["-D", &data, "stop", "-w", "-m", "immediate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server binaries: `VOCATION_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`.
fn postgres_bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("VOCATION_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries under /usr/lib/postgresql (or VOCATION_TEST_PG_BIN)")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL version with pg_ctl").1
}

// ---------------------------------------------------------------------------------------------
// 1. PostgreSQL restarted during a stream of form submissions

/// Concurrent clients submitting the form.
const CLIENTS: usize = 4;
/// How long PostgreSQL stays stopped.
const DATABASE_DOWN: Duration = Duration::from_secs(3);

/// What one client saw.
#[derive(Default)]
struct ClientLog {
    /// Addresses whose submission was answered 303 (at least once).
    succeeded: Vec<String>,
    /// 503 answers (form page or submission).
    unavailable: usize,
    /// Successes after the restart.
    succeeded_after_restart: usize,
    /// Double submissions answered 303 (the same key sent again).
    resubmitted: usize,
    /// Anything else: (what, status, body start).
    unexpected: Vec<(String, u16, String)>,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A valid application from a person of their own (no shared e-mail, phone or RPPS: not merged
/// with another candidate).
fn distinct_applicant(email: &str, n: usize) -> Fields {
    Fields::valid()
        .set("courriel", email)
        .set("telephone", &format!("06{:08}", n % 100_000_000))
        .set("rpps", "")
}

async fn form_tokens(client: &reqwest::Client, base: &str, log: &mut ClientLog) -> FormTokens {
    loop {
        match client.get(format!("{base}/candidature")).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                match status {
                    200 => return FormTokens::from_html(&body),
                    503 => {
                        assert_french_503(&body);
                        log.unavailable += 1;
                    }
                    _ => log.unexpected.push((
                        "GET /candidature".into(),
                        status,
                        body.chars().take(300).collect(),
                    )),
                }
            }
            Err(e) => log
                .unexpected
                .push(("GET /candidature".into(), 0, e.to_string())),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post_form(
    client: &reqwest::Client,
    base: &str,
    tokens: &FormTokens,
    fields: &Fields,
) -> Result<(u16, String), String> {
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", tokens.csrf.clone())
        .text("soumission", tokens.soumission.clone());
    for (k, v) in fields.iter() {
        form = form.text(k.clone(), v.clone());
    }
    let r = client
        .post(format!("{base}/candidature"))
        .multipart(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    Ok((status, r.text().await.unwrap_or_default()))
}

/// Submits applications until told to stop; a submission answered 503 is sent again, with the
/// same double-submit key, until it is accepted; every fifth success is sent twice.
async fn submit_stream(
    id: usize,
    base: String,
    stop: Arc<AtomicBool>,
    restarted: Arc<AtomicBool>,
) -> ClientLog {
    let client = client();
    let mut log = ClientLog::default();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let email = format!("panne-{id}-{n}@exemple.fr");
        let fields = distinct_applicant(&email, id * 10_000 + n);
        let tokens = form_tokens(&client, &base, &mut log).await;
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            match post_form(&client, &base, &tokens, &fields).await {
                Ok((303, _)) => {
                    log.succeeded.push(email.clone());
                    if restarted.load(Ordering::SeqCst) {
                        log.succeeded_after_restart += 1;
                    }
                    break;
                }
                Ok((503, body)) => {
                    assert_french_503(&body);
                    log.unavailable += 1;
                }
                Ok((status, body)) => {
                    log.unexpected.push((
                        "POST /candidature".into(),
                        status,
                        body.chars().take(300).collect(),
                    ));
                }
                Err(e) => log
                    .unexpected
                    .push(("POST /candidature".into(), 0, e.to_string())),
            }
            assert!(
                Instant::now() < give_up,
                "client {id}: {email} never accepted"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        if n % 5 == 0 {
            // A double click: the same form (same key) again.
            if let Ok((303, _)) = post_form(&client, &base, &tokens, &fields).await {
                log.resubmitted += 1;
            }
        }
    }
    log
}

/// Meanwhile, other public pages (and a failed sign-in) are asked for: each answers as usual or
/// with the French 503 page, never anything else. Returns (503 answers, other answers).
async fn probe_pages(base: String, stop: Arc<AtomicBool>) -> (usize, Vec<(String, u16)>) {
    let client = client();
    let mut unavailable = 0;
    let mut unexpected = Vec::new();
    let csrf = client
        .get(format!("{base}/connexion"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|html| crate::helpers::hidden_value(&html, "csrf"))
        .unwrap_or_default();
    while !stop.load(Ordering::SeqCst) {
        let requests = [
            ("GET /", client.get(format!("{base}/"))),
            (
                "GET /candidature/merci/{key}",
                client.get(format!("{base}/candidature/merci/{}", uuid::Uuid::new_v4())),
            ),
            (
                "POST /connexion",
                client.post(format!("{base}/connexion")).form(&[
                    ("csrf", csrf.as_str()),
                    ("courriel", "personne@cds32.test"),
                    ("mot_de_passe", "pas le bon mot de passe"),
                    ("suite", "/recrutement"),
                ]),
            ),
        ];
        for (what, request) in requests {
            match request.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap_or_default();
                    if status == 503 {
                        assert_french_503(&body);
                        unavailable += 1;
                    } else if status >= 500 {
                        unexpected.push((what.to_owned(), status));
                    }
                }
                Err(_) => unexpected.push((what.to_owned(), 0)),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (unavailable, unexpected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_during_form_submissions_loses_no_accepted_application() {
    let pg = PrivatePostgres::start();
    let url = pg.url("vocation_faults");
    let app = TestApp::builder().database_url(&url).spawn().await;
    let stop = Arc::new(AtomicBool::new(false));
    let restarted = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            tokio::spawn(submit_stream(
                i,
                app.address.clone(),
                stop.clone(),
                restarted.clone(),
            ))
        })
        .collect();
    let prober = tokio::spawn(probe_pages(app.address.clone(), stop.clone()));

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_stop = count(
        &mut PgConnection::establish(&url).unwrap(),
        "SELECT count(*) FROM applications",
    );
    let pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        std::thread::sleep(DATABASE_DOWN);
        pg.start_again();
        pg
    })
    .await
    .unwrap();
    restarted.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    let mut logs = Vec::new();
    for c in clients {
        logs.push(c.await.expect("a client task"));
    }
    let (pages_unavailable, pages_unexpected) = prober.await.expect("the page prober");

    let succeeded: Vec<&String> = logs.iter().flat_map(|l| &l.succeeded).collect();
    let unavailable: usize = logs.iter().map(|l| l.unavailable).sum();
    let after: usize = logs.iter().map(|l| l.succeeded_after_restart).sum();
    let resubmitted: usize = logs.iter().map(|l| l.resubmitted).sum();
    let unexpected: Vec<_> = logs.iter().flat_map(|l| &l.unexpected).collect();
    report!(
        "faults: PostgreSQL stopped {} s during {CLIENTS} clients' submissions: {} accepted \
         ({before_stop} before the stop, {after} after the restart), {unavailable} answers 503, \
         {resubmitted} double submissions, {} other answers; other pages: {pages_unavailable} \
         answers 503, {} other 5xx",
        DATABASE_DOWN.as_secs(),
        succeeded.len(),
        unexpected.len(),
        pages_unexpected.len()
    );
    assert!(
        pages_unexpected.is_empty(),
        "other pages answered 5xx other than 503: {pages_unexpected:?}"
    );
    assert!(pages_unavailable > 0, "the other pages saw the outage too");
    assert!(
        unexpected.is_empty(),
        "only 303 or 503 are acceptable: {unexpected:?}"
    );
    assert!(unavailable > 0, "the outage was seen by the clients");
    assert!(after > 0, "the service recovered without a restart");
    assert!(before_stop > 0, "submissions were accepted before the stop");

    let mut conn = PgConnection::establish(&url).unwrap();
    let stored = texts(
        &mut conn,
        "SELECT c.email AS t FROM applications a JOIN candidates c ON c.id = a.candidate_id",
    );
    let mut per_email: HashMap<&str, usize> = HashMap::new();
    for e in &stored {
        *per_email.entry(e.as_str()).or_default() += 1;
    }
    let distinct: HashSet<&String> = succeeded.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        succeeded.len(),
        "each address accepted once"
    );
    for email in &succeeded {
        assert_eq!(
            per_email.get(email.as_str()).copied().unwrap_or(0),
            1,
            "{email} was answered 303: stored exactly once"
        );
    }
    assert_eq!(
        stored.len(),
        succeeded.len(),
        "nothing stored that was not answered with success"
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM candidates"),
        succeeded.len() as i64,
        "one candidate per accepted application"
    );
    // Every accepted application queued its two e-mails, and only those.
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM outbound_emails"),
        2 * succeeded.len() as i64
    );
    drop(conn);
    drop(app);
    drop(pg);
}

// ---------------------------------------------------------------------------------------------
// 2. The SMTP relay down for minutes, then back

/// How long the relay is down: `FAULTS_SMTP_OUTAGE_SECONDS`, 90 by default.
fn smtp_outage() -> Duration {
    Duration::from_secs(
        std::env::var("FAULTS_SMTP_OUTAGE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(90),
    )
}

/// First retry delay in these tests (doubled at each attempt).
const RETRY_BASE_SECONDS: i64 = 2;

/// The fewest attempts whose backoff (base, 2×base, 4×base…) spans the outage with a margin,
/// plus two: enough never to give up during the outage, and still a bound.
fn attempts_spanning(outage: Duration) -> i32 {
    let needed = outage.as_secs() as i64 + 15;
    let mut attempts = 1;
    let mut waited = 0;
    while waited < needed {
        waited += RETRY_BASE_SECONDS << (attempts - 1);
        attempts += 1;
    }
    attempts + 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_run_survives_a_relay_outage_and_sends_each_message_once() {
    let outage = smtp_outage();
    let max_attempts = attempts_spanning(outage);
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let mut conn = app.conn();
    let list = crate::campaigns::seed_list_on(&mut conn, "Panne relais", "relais", 60);
    let campaign = create_campaign(&mut conn, list, 600, Schedule::Now);
    runs::schedule(&mut conn, campaign, Utc::now(), None).unwrap();
    let mut settings = sender_settings(&app, &smtp);
    settings.campaigns.retry_base_seconds = RETRY_BASE_SECONDS;
    settings.campaigns.max_attempts = max_attempts;
    settings.campaigns.lease_seconds = 20;
    let _sender = start_sender(settings);

    // Some messages go out, then the relay fails.
    let before = smtp.wait_for(15, Duration::from_secs(60)).await;
    assert!(before >= 15, "the run started sending ({before} messages)");
    let started = Instant::now();
    smtp.set_default(Behaviour::Close421);
    tokio::time::sleep(outage / 2).await;
    let during_421 = smtp.count();
    let per_recipient_first = smtp.per_recipient();
    let port = smtp.port;
    drop(smtp); // Connections refused from now on.
    tokio::time::sleep(outage - outage / 2).await;
    let pending = count(
        &mut conn,
        &format!(
            "SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
             WHERE r.campaign_id = {campaign} AND d.status = 'en_attente'"
        ),
    );
    assert!(
        pending > 0,
        "deliveries were still waiting when the relay came back"
    );
    let back = SmtpServer::start_on(port);
    let finished = wait_for_sql(
        &mut conn,
        &format!("SELECT count(*) FROM campaigns WHERE id = {campaign} AND status = 'terminee'"),
        1,
        outage * 2 + Duration::from_secs(120),
    );
    report!(
        "faults: relay down {} s (421 then refused): {before} sent before, {} during the 421 \
         phase, {pending} waiting when it came back, run finished {} s after the outage began, \
         max_attempts {max_attempts}",
        outage.as_secs(),
        during_421 - before,
        (finished - started).as_secs()
    );

    let mut received = per_recipient_first;
    for (rcpt, n) in back.per_recipient() {
        *received.entry(rcpt).or_default() += n;
    }
    let ledger = texts(
        &mut conn,
        &format!(
            "SELECT lower(d.email) || ' ' || d.status || ' ' || d.attempts AS t FROM deliveries d \
             JOIN campaign_runs r ON r.id = d.run_id WHERE r.campaign_id = {campaign}"
        ),
    );
    assert_eq!(ledger.len(), 60);
    let mut retried = 0;
    for row in &ledger {
        let parts: Vec<&str> = row.split(' ').collect();
        let (email, status, attempts) = (parts[0], parts[1], parts[2].parse::<i32>().unwrap());
        assert_eq!(status, "envoye", "{email}: {row}");
        assert_eq!(received.get(email), Some(&1), "{email} received once");
        assert!(attempts <= max_attempts, "{email}: {attempts} attempts");
        if attempts > 1 {
            retried += 1;
        }
    }
    assert_eq!(received.len(), 60, "only the run's recipients were mailed");
    assert!(
        retried > 0,
        "some deliveries were retried during the outage"
    );
    assert_eq!(
        count(
            &mut conn,
            &format!(
                "SELECT count(*) FROM campaign_runs WHERE campaign_id = {campaign} \
                 AND status = 'termine'"
            )
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_outbox_sends_every_queued_email_once_the_relay_is_back() {
    let outage = smtp_outage();
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let port = smtp.port;
    // The real worker loop, writing to the programmable relay.
    let mut settings: Settings = app_settings_for_relay(&app, port);
    settings.mail.worker.retry_base_seconds = RETRY_BASE_SECONDS;
    settings.mail.worker.max_attempts = attempts_spanning(outage);
    let pool = vocation::db::build_pool(&settings).expect("pool");
    let dispatcher = Dispatcher::new(&settings, pool).expect("dispatcher");
    let wake = Arc::new(Notify::new());
    // Kept until the end of the test: a dropped sender stops the worker.
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(dispatcher.run(wake.clone(), Duration::from_millis(200), stop_rx));

    // The relay fails, then applications come in.
    smtp.set_default(Behaviour::Close421);
    let started = Instant::now();
    const APPLICATIONS: usize = 5;
    for i in 0..APPLICATIONS {
        let r = app
            .apply(&distinct_applicant(&format!("outbox-{i}@exemple.fr"), i))
            .await;
        assert_eq!(r.status(), 303);
        wake.notify_one();
    }
    let queued = app.count("SELECT count(*) FROM outbound_emails");
    assert_eq!(queued, 2 * APPLICATIONS as i64);
    tokio::time::sleep(outage / 2).await;
    assert_eq!(
        smtp.count(),
        0,
        "nothing accepted while the relay answers 421"
    );
    drop(smtp);
    tokio::time::sleep(outage.saturating_sub(started.elapsed())).await;
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE status = 'sent'"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE status = 'failed'"),
        0,
        "nothing given up during the outage"
    );
    let attempts_during = app.count("SELECT sum(attempts) FROM outbound_emails");
    let back = SmtpServer::start_on(port);
    let mut conn = app.conn();
    let done = wait_for_sql(
        &mut conn,
        "SELECT count(*) FROM outbound_emails WHERE status = 'sent'",
        queued,
        outage * 2 + Duration::from_secs(120),
    );
    worker.abort();
    report!(
        "faults: outbox with the relay down {} s: {queued} e-mails queued, {attempts_during} \
         attempts during the outage, all sent {} s after it began",
        outage.as_secs(),
        (done - started).as_secs()
    );
    assert!(
        attempts_during > queued,
        "the worker retried during the outage"
    );
    assert_eq!(back.count(), queued as usize, "each e-mail sent once");
    for i in 0..APPLICATIONS {
        assert_eq!(back.count_for(&format!("outbox-{i}@exemple.fr")), 1);
    }
    assert_eq!(
        back.count_for(crate::helpers::RECRUITERS),
        APPLICATIONS,
        "one notification per application"
    );
    assert!(
        app.count("SELECT max(attempts) FROM outbound_emails")
            <= i64::from(settings.mail.worker.max_attempts)
    );
}

/// The test app's settings with mail going to `port` (the programmable relay).
fn app_settings_for_relay(app: &TestApp, port: u16) -> Settings {
    let scratch = TempDir::new();
    let mut s = TestApp::builder()
        .database_url(&app.db.url)
        .settings(&app.db, &app.smtp, &scratch);
    s.mail.smtp.port = port;
    s.mail.smtp.timeout_seconds = 2;
    s
}

/// Polls `sql` until it counts `n`; returns when it did. Panics after `timeout`.
fn wait_for_sql(conn: &mut PgConnection, sql: &str, n: i64, timeout: Duration) -> Instant {
    let start = Instant::now();
    loop {
        let got = count(conn, sql);
        if got == n {
            return Instant::now();
        }
        assert!(
            start.elapsed() < timeout,
            "waited {} s for {sql} = {n}, got {got}",
            timeout.as_secs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------------------------
// Campaign data

fn create_campaign(conn: &mut PgConnection, list: i64, rate: i32, schedule: Schedule) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let template = diesel::sql_query(
        "INSERT INTO mail_templates (name, subject, body_text, body_html) VALUES \
         ('Pannes ' || gen_random_uuid(), 'Bonjour {{prenom}} : exercer dans le Gers', \
          'Bonjour {{prenom}} {{nom}},\n\nLe Gers recrute des médecins salariés. \
Candidatez : {{lien_candidature}}\n\nBien cordialement', '') RETURNING id",
    )
    .get_result::<Id>(conn)
    .unwrap()
    .id;
    runs::create(
        conn,
        &CampaignInput {
            name: "Médecins retraités – pannes".into(),
            template_id: template,
            list_ids: vec![list],
            sender_name: "Recrutement CDS32".into(),
            sender_email: "recrutement@vocation.test".into(),
            rate_per_minute: rate,
            schedule,
        },
        None,
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// 3. Two service instances on one database for a scheduled campaign

/// `vocation serve` as a child process with the scheduler and the campaign senders on; killed
/// when dropped. Its stderr goes to a file, printed when the test fails.
struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    fn start(database_url: &str, smtp_port: u16) -> Service {
        let log = std::env::temp_dir().join(format!(
            "vocation-faults-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let stderr = File::create(&log).expect("the service's log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_vocation"));
        command.current_dir(env!("CARGO_MANIFEST_DIR"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("VOCATION") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        let child = command
            .arg("serve")
            .env("VOCATION_ENV", "test")
            .env("VOCATION__DATABASE__URL", database_url)
            .env("VOCATION__DATABASE__POOL_SIZE", "6")
            .env("VOCATION__HTTP__PORT", "0")
            .env("VOCATION__HTTP__PUBLIC_URL", "http://vocation.test")
            .env("VOCATION__MAIL__TRANSPORT", "smtp")
            .env("VOCATION__MAIL__SMTP__HOST", "127.0.0.1")
            .env("VOCATION__MAIL__SMTP__PORT", smtp_port.to_string())
            .env("VOCATION__MAIL__SMTP__TLS", "none")
            .env("VOCATION__MAIL__WORKER__ENABLED", "true")
            .env("VOCATION__CAMPAIGNS__ENABLED", "true")
            .env("VOCATION__CAMPAIGNS__CONNECTIONS", "2")
            .env("VOCATION__CAMPAIGNS__BATCH_SIZE", "10")
            .env("VOCATION__CAMPAIGNS__POLL_INTERVAL_MS", "100")
            // The scheduler ticks every five seconds in both instances.
            .env("VOCATION__CAMPAIGNS__TICK_CRON", "*/5 * * * * *")
            .env("VOCATION__LOG__LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("starting vocation serve");
        Service { child, log }
    }

    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("vocation serve exited: {status}");
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let mut log = String::new();
            if let Ok(mut f) = File::open(&self.log) {
                let _ = f.read_to_string(&mut log);
            }
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(100)..];
            eprintln!("---- vocation serve stderr ----\n{}\n----", tail.join("\n"));
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

const SCHEDULED_RECIPIENTS: usize = 300;

#[test]
fn two_instances_send_a_scheduled_campaign_once_to_each_recipient() {
    let db = TestDatabase::create();
    let mut conn = db.connect();
    let list =
        crate::campaigns::seed_list_on(&mut conn, "Deux instances", "deux", SCHEDULED_RECIPIENTS);
    let smtp = SmtpServer::start_counting_only();
    let mut first = Service::start(&db.url, smtp.port);
    let mut second = Service::start(&db.url, smtp.port);
    // Programmed a few seconds ahead: both instances are up when it falls due.
    let at = Utc::now() + chrono::Duration::seconds(8);
    let campaign = create_campaign(&mut conn, list, 6000, Schedule::At(at));
    runs::schedule(&mut conn, campaign, Utc::now(), None).unwrap();
    let start = Instant::now();
    loop {
        let done = count(
            &mut conn,
            &format!(
                "SELECT count(*) FROM campaigns WHERE id = {campaign} AND status = 'terminee'"
            ),
        );
        if done == 1 {
            break;
        }
        first.assert_alive();
        second.assert_alive();
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "the campaign did not finish: {} messages received",
            smtp.count()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let finished = start.elapsed();
    first.assert_alive();
    second.assert_alive();
    drop(first);
    drop(second);

    let runs = count(
        &mut conn,
        &format!("SELECT count(*) FROM campaign_runs WHERE campaign_id = {campaign}"),
    );
    let per_recipient = smtp.per_recipient();
    let ids: HashSet<String> = smtp.message_ids().into_iter().collect();
    report!(
        "faults: two instances, campaign due at +8 s with {SCHEDULED_RECIPIENTS} recipients: \
         {runs} run, {} messages to {} recipients, finished {:.1} s after programming",
        smtp.count(),
        per_recipient.len(),
        finished.as_secs_f64()
    );
    assert_eq!(runs, 1, "the run is created once");
    assert_eq!(per_recipient.len(), SCHEDULED_RECIPIENTS);
    let repeated: Vec<_> = per_recipient.iter().filter(|(_, n)| **n != 1).collect();
    assert!(repeated.is_empty(), "received more than once: {repeated:?}");
    assert_eq!(smtp.count(), SCHEDULED_RECIPIENTS);
    assert_eq!(
        ids.len(),
        SCHEDULED_RECIPIENTS,
        "one Message-ID per message"
    );
    let run = format!("(SELECT id FROM campaign_runs WHERE campaign_id = {campaign})");
    assert_eq!(
        count(
            &mut conn,
            &format!(
                "SELECT count(*) FROM deliveries WHERE run_id = {run} AND status = 'envoye' \
                 AND attempts = 1"
            )
        ),
        SCHEDULED_RECIPIENTS as i64,
        "the ledger shows each delivery sent once, at the first attempt"
    );
    let ledger_ids: HashSet<String> = texts(
        &mut conn,
        &format!("SELECT message_id AS t FROM deliveries WHERE run_id = {run}"),
    )
    .into_iter()
    .collect();
    assert!(
        ledger_ids == ids,
        "the Message-IDs received are the ledger's"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Hostile input on the public HTML endpoints

/// Rows that a request must not leave half-written.
fn stored_rows(app: &TestApp) -> [i64; 5] {
    [
        app.count("SELECT count(*) FROM candidates"),
        app.count("SELECT count(*) FROM applications"),
        app.count("SELECT count(*) FROM outbound_emails"),
        app.count("SELECT count(*) FROM suppressions"),
        app.count("SELECT count(*) FROM link_clicks"),
    ]
}

/// A refusal as the service must give it: a 4xx (never a 500) with a French page, no internals.
fn assert_refused(what: &str, status: u16, body: &str) {
    assert!(
        (400..500).contains(&status),
        "{what}: a 4xx refusal expected, got {status}: {}",
        body.chars().take(500).collect::<String>()
    );
    assert!(
        body.contains("lang=\"fr\""),
        "{what}: a French page expected ({status}): {}",
        body.chars().take(500).collect::<String>()
    );
    for word in INTERNALS {
        assert!(!body.contains(word), "{what}: the page shows « {word} »");
    }
}

/// Sends a request and checks it is refused with a French page and changes nothing.
async fn refused(app: &TestApp, what: &str, request: reqwest::RequestBuilder) -> (u16, String) {
    let before = stored_rows(app);
    let r = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = r.status().as_u16();
    let body = r.text().await.unwrap_or_default();
    assert_refused(what, status, &body);
    assert_eq!(stored_rows(app), before, "{what}: nothing stored");
    (status, body)
}

/// A multipart body written by hand (reqwest cannot send invalid UTF-8 in a text part).
fn raw_multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----vocationfaultsboundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, value) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The valid fields with the form's tokens, as raw parts.
fn valid_parts(tokens: &FormTokens) -> Vec<(String, Vec<u8>)> {
    let mut parts = vec![
        ("csrf".to_owned(), tokens.csrf.clone().into_bytes()),
        (
            "soumission".to_owned(),
            tokens.soumission.clone().into_bytes(),
        ),
    ];
    for (k, v) in Fields::valid().iter() {
        parts.push((k.clone(), v.clone().into_bytes()));
    }
    parts
}

fn post_raw(app: &TestApp, path: &str, parts: &[(String, Vec<u8>)]) -> reqwest::RequestBuilder {
    let borrowed: Vec<(&str, &[u8])> = parts
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let (content_type, body) = raw_multipart(&borrowed);
    app.client
        .post(app.url(path))
        .header("Content-Type", content_type)
        .body(body)
}

fn replace_part(parts: &[(String, Vec<u8>)], name: &str, value: &[u8]) -> Vec<(String, Vec<u8>)> {
    parts
        .iter()
        .map(|(k, v)| {
            if k == name {
                (k.clone(), value.to_vec())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

#[tokio::test]
async fn hostile_application_forms_are_refused_in_french_and_store_nothing() {
    let app = TestApp::spawn().await;
    let tokens = app.form_tokens("/candidature").await;
    let parts = valid_parts(&tokens);

    // Invalid UTF-8 in a text field.
    let (_, body) = refused(
        &app,
        "invalid UTF-8",
        post_raw(
            &app,
            "/candidature",
            &replace_part(&parts, "nom", b"Mar\xff\xfetin"),
        ),
    )
    .await;
    assert!(body.contains("encodage UTF-8"), "{body}");
    // A duplicated field.
    let mut twice = parts.clone();
    twice.push(("prenom".into(), b"Paul".to_vec()));
    let (_, body) = refused(
        &app,
        "duplicated field",
        post_raw(&app, "/candidature", &twice),
    )
    .await;
    assert!(body.contains("plusieurs fois"), "{body}");
    // A text field over 32 KiB.
    let long = vec![b'a'; 40 * 1024];
    let (status, body) = refused(
        &app,
        "huge text field",
        post_raw(
            &app,
            "/candidature",
            &replace_part(&parts, "message", &long),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("trop long"), "{body}");
    // A body over the 16 MiB cap.
    let huge = vec![b'x'; 17 * 1024 * 1024];
    let mut big = parts.clone();
    big.push(("cv".into(), huge));
    let (status, body) = refused(&app, "huge body", post_raw(&app, "/candidature", &big)).await;
    assert_eq!(status, 413);
    assert!(body.contains("Mo"), "{body}");
    // Too many fields.
    let mut many = parts.clone();
    for i in 0..80 {
        many.push((format!("champ{i}"), b"x".to_vec()));
    }
    let (_, body) = refused(
        &app,
        "too many fields",
        post_raw(&app, "/candidature", &many),
    )
    .await;
    assert!(body.contains("trop de champs"), "{body}");
    // Wrong content types.
    for (what, content_type, body) in [
        (
            "urlencoded",
            "application/x-www-form-urlencoded",
            "prenom=Claire&nom=Martin".to_owned(),
        ),
        (
            "json",
            "application/json",
            r#"{"prenom":"Claire"}"#.to_owned(),
        ),
        ("text", "text/plain", "bonjour".to_owned()),
        (
            "multipart without boundary",
            "multipart/form-data",
            "--x\r\n\r\n".to_owned(),
        ),
        (
            "broken multipart",
            "multipart/form-data; boundary=abc",
            "--abc\r\nContent-Disposition: form-data; name=\"nom\"\r\n\r\nMartin".to_owned(),
        ),
    ] {
        let (status, page) = refused(
            &app,
            what,
            app.client
                .post(app.url("/candidature"))
                .header("Content-Type", content_type)
                .body(body),
        )
        .await;
        if what == "urlencoded" || what == "json" || what == "text" {
            assert_eq!(status, 415, "{what}");
            assert!(page.contains("multipart/form-data"), "{page}");
        }
    }
    // Missing fields: every required one is named.
    let bare = vec![
        ("csrf".to_owned(), tokens.csrf.clone().into_bytes()),
        (
            "soumission".to_owned(),
            tokens.soumission.clone().into_bytes(),
        ),
    ];
    let (status, page) = refused(
        &app,
        "missing fields",
        post_raw(&app, "/candidature", &bare),
    )
    .await;
    assert_eq!(status, 422);
    for field in [
        "civilite",
        "prenom",
        "nom",
        "courriel",
        "telephone",
        "consentement",
    ] {
        assert!(field_error(&page, field).is_some(), "{field}: {page}");
    }
    // No CSRF token, no submission key.
    let without: Vec<_> = parts
        .iter()
        .filter(|(k, _)| k != "csrf" && k != "soumission")
        .cloned()
        .collect();
    let (status, _) = refused(&app, "no tokens", post_raw(&app, "/candidature", &without)).await;
    assert_eq!(status, 403);
    // Scripts and template syntax in a form with an error: shown back escaped, not run.
    let hostile = "<script>alert(1)</script>{{{settings}}}{{> layouts/base}}";
    let with_error = replace_part(
        &replace_part(&parts, "prenom", hostile.as_bytes()),
        "courriel",
        b"pas-une-adresse",
    );
    let (status, page) = refused(
        &app,
        "script in a wrong form",
        post_raw(&app, "/candidature", &with_error),
    )
    .await;
    assert_eq!(status, 422);
    assert!(!page.contains("<script>alert(1)"), "the script is escaped");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        page.contains("{{{settings}}}{{&gt; layouts/base}}"),
        "the template syntax is shown as typed"
    );
}

#[tokio::test]
async fn scripts_sql_and_template_syntax_are_stored_as_typed_and_shown_escaped() {
    let app = TestApp::spawn().await;
    let first = "<script>alert('x')</script>";
    let last = "O'Brien'); DROP TABLE candidates; --";
    let message = "{{settings.security.secret_key}} {{{lien}}} {{#each this}}{{@key}}{{/each}} \
                   {{> layouts/base}} <img src=x onerror=alert(1)> ' OR 1=1 --";
    let r = app
        .apply(
            &Fields::valid()
                .set("prenom", first)
                .set("nom", last)
                .set("message", message)
                .set("courriel", "hostile@exemple.fr"),
        )
        .await;
    assert_eq!(r.status(), 303, "accepted");
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 1);
    assert_eq!(
        app.text("SELECT first_name FROM candidates").as_deref(),
        Some(first),
        "stored as typed"
    );
    assert_eq!(
        app.text("SELECT last_name FROM candidates").as_deref(),
        Some(last)
    );
    assert_eq!(
        app.text("SELECT message FROM applications").as_deref(),
        Some(message)
    );

    // The e-mails show the text as typed, never evaluated.
    app.dispatch_all_pending_emails().await;
    let mails = app.smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2);
    for mail in &mails {
        let html = mail.html();
        assert!(!html.contains("<script>alert"), "escaped in the HTML part");
        assert!(
            !html.contains("development-only-secret"),
            "no template evaluated"
        );
        let text = mail.text();
        assert!(
            !text.contains("development-only-secret"),
            "no template evaluated"
        );
    }
    let confirmation = app.smtp.received_by("hostile@exemple.fr");
    assert_eq!(confirmation.len(), 1);
    assert!(
        confirmation[0]
            .html()
            .contains("O&#x27;Brien&#x27;); DROP TABLE candidates; --")
            && !confirmation[0].html().contains("<script>"),
        "{}",
        confirmation[0].html()
    );

    // The staff pages show it escaped.
    let staff = app.staff(vocation::db::enums::StaffRole::Recruiter).await;
    let id = app.count("SELECT id FROM candidates");
    let (status, page) = staff
        .get_html(&format!("/recrutement/candidats/{id}"))
        .await;
    assert_eq!(status, 200);
    assert!(!page.contains("<script>alert"), "escaped on the staff page");
    assert!(page.contains("&lt;script&gt;"), "shown as typed");
    assert!(page.contains("{{settings.security.secret_key}}"));
    assert!(!page.contains("<img src=x"), "{page}");
    let (status, board) = staff.get_html("/recrutement").await;
    assert_eq!(status, 200);
    assert!(!board.contains("<script>alert"), "escaped on the board");
}

#[tokio::test]
async fn hostile_links_sign_in_and_query_strings_never_give_a_500() {
    let app = TestApp::spawn().await;
    let long = "A".repeat(10_000);
    // Unsubscribe and tracked links with forged, malformed, undecodable and huge tokens.
    for token in [
        "1.AAAAAAAAAAAAAAAAAAAAAA",
        "abc",
        "%FF%FE",
        "%00",
        "..%2F..%2Fetc%2Fpasswd",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "%7B%7Bsettings%7D%7D",
        "1%27%20OR%201%3D1",
        long.as_str(),
    ] {
        for (what, request) in [
            (
                format!("GET /desinscription/{token}"),
                app.client.get(app.url(&format!("/desinscription/{token}"))),
            ),
            (
                format!("POST /desinscription/{token}"),
                app.client
                    .post(app.url(&format!("/desinscription/{token}")))
                    .header("Content-Type", "application/json")
                    .body(vec![0xff_u8; 100_000]),
            ),
        ] {
            refused(&app, &what, request).await;
        }
        // A bad tracked link leads to the form (a redirect), never to an error.
        let before = stored_rows(&app);
        let r = app.get(&format!("/c/{token}")).await;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        if status == 303 {
            assert!(body.is_empty());
        } else {
            assert_refused(&format!("GET /c/{token}"), status, &body);
        }
        assert_eq!(stored_rows(&app), before);
    }

    // The sign-in form: missing, duplicated, undecodable fields, wrong types, huge bodies.
    let html = app.get_html("/connexion").await.1;
    let csrf = crate::helpers::hidden_value(&html, "csrf");
    let staff_before = app.count("SELECT count(*) FROM staff_sessions");
    for (what, content_type, body) in [
        ("empty", "application/x-www-form-urlencoded", Vec::new()),
        (
            "missing password",
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&courriel=a%40b.fr").into_bytes(),
        ),
        (
            "duplicated fields",
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&courriel=a%40b.fr&courriel=c%40d.fr&mot_de_passe=x&mot_de_passe=y")
                .into_bytes(),
        ),
        (
            "invalid UTF-8",
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&courriel=%FF%FE&mot_de_passe=%C3%28").into_bytes(),
        ),
        (
            "raw invalid UTF-8",
            "application/x-www-form-urlencoded",
            b"courriel=\xff\xfe&mot_de_passe=\xc3\x28".to_vec(),
        ),
        (
            "SQL and script",
            "application/x-www-form-urlencoded",
            format!(
                "csrf={csrf}&courriel=%27%20OR%201%3D1%20--&mot_de_passe=%3Cscript%3E&suite=%7B%7Bx%7D%7D"
            )
            .into_bytes(),
        ),
        (
            "huge body",
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&courriel={}", "a".repeat(200_000)).into_bytes(),
        ),
        ("json", "application/json", br#"{"courriel":"a@b.fr"}"#.to_vec()),
        ("multipart", "multipart/form-data; boundary=x", b"--x--\r\n".to_vec()),
    ] {
        let r = app
            .client
            .post(app.url("/connexion"))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let page = r.text().await.unwrap();
        assert_refused(&format!("POST /connexion ({what})"), status, &page);
        assert!(!page.contains("<script>"), "{what}: escaped");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM staff_sessions"),
        staff_before,
        "no session opened"
    );

    // Query strings of the public pages.
    for path in [
        "/candidature?poste=%FF&utm_source=%3Cscript%3Ealert(1)%3C/script%3E",
        "/candidature?poste=1%27%20OR%201%3D1&utm_campaign=%7B%7B%7Bx%7D%7D%7D",
        "/candidature?utm_source=%FF%FE",
        "/candidature?poste=1&poste=2",
        "/?x=%FF",
        "/connexion?suite=%FF",
        "/connexion?suite=https://ailleurs.example/%3Cscript%3E",
        "/donnees-personnelles?%00=%00",
        "/accessibilite?a=%",
        "/candidature/merci/%FF",
        "/candidature/merci/pas-une-cle",
    ] {
        let long_path = format!("{path}&long={}", "b".repeat(4000));
        for p in [path, long_path.as_str()] {
            let r = app.get(p).await;
            let status = r.status().as_u16();
            let page = r.text().await.unwrap();
            if status >= 400 {
                assert_refused(&format!("GET {p}"), status, &page);
            } else {
                assert!(status == 200 || status == 303, "GET {p}: {status}");
            }
            assert!(!page.contains("<script>alert"), "GET {p}: escaped");
            assert!(
                !page.contains("https://ailleurs.example"),
                "GET {p}: no open redirect"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Property-based: the form parser and validator

mod properties {
    use actix_web::http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
    use actix_web::web::Bytes;
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use vocation::applications::{self as rules, Choices, RawApplicationForm};
    use vocation::error::AppError;
    use vocation::web::form::{self, ReadError};

    const NAMES: &[&str] = &[
        "civilite",
        "prenom",
        "nom",
        "courriel",
        "telephone",
        "rpps",
        "specialite",
        "situation",
        "disponibilite",
        "temps_travail",
        "demi_journees",
        "centres",
        "garde",
        "maitre_stage",
        "message",
        "connaissance",
        "poste",
        "consentement",
        "vivier",
        "utm_source",
        "suivi",
        "canal",
        "utm_medium",
        "utm_campaign",
        "soumission",
        "csrf",
        "site_web",
        "cv",
    ];

    fn body(parts: &[(String, Vec<u8>)]) -> (String, Vec<u8>) {
        let borrowed: Vec<(&str, &[u8])> = parts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        super::raw_multipart(&borrowed)
    }

    /// Runs the real multipart reader over `parts`, split into chunks of `chunk` bytes.
    fn read(parts: &[(String, Vec<u8>)], chunk: usize) -> Result<RawApplicationForm, ReadError> {
        let (content_type, bytes) = body(parts);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(&content_type).unwrap());
        let chunks: Vec<Result<Bytes, actix_web::error::PayloadError>> = bytes
            .chunks(chunk.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let multipart =
            actix_multipart::Multipart::new(&headers, futures_util::stream::iter(chunks));
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(form::read(multipart, 1024))
    }

    fn choices(codes: &[String]) -> Choices<'_> {
        Choices {
            specialty_codes: codes,
            centre_ids: &[1, 2, 3],
            published_position_ids: &[7],
            privacy_notice_version: "2026-01",
            today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        }
    }

    fn field_name() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::sample::select(NAMES).prop_map(str::to_owned),
            1 => "[a-z_]{1,12}",
        ]
    }

    fn field_value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<String>().prop_map(String::into_bytes),
            "\\PC{0,40}".prop_map(String::into_bytes),
            proptest::sample::select(vec![
                "<script>alert(1)</script>",
                "{{settings}}",
                "{{{x}}}",
                "'; DROP TABLE candidates; --",
                "oui",
                "madame",
                "temps_partiel",
                "remplacant",
                "10132437004",
                "06 12 34 56 78",
                "a@b.fr",
                "2027-09-01",
                "31/02/2027",
                "99999999999999999999",
                "-1",
                "7",
            ])
            .prop_map(|s| s.as_bytes().to_vec()),
        ]
    }

    /// An RPPS number: ten digits and the Luhn key.
    fn rpps(digits: &[u8]) -> String {
        let mut s: String = digits.iter().map(|d| char::from(b'0' + d % 10)).collect();
        for key in 0..10u8 {
            let candidate = format!("{s}{key}");
            let sum: u32 = candidate
                .chars()
                .rev()
                .enumerate()
                .map(|(i, c)| {
                    let d = c.to_digit(10).unwrap();
                    if i % 2 == 1 {
                        let x = d * 2;
                        if x > 9 {
                            x - 9
                        } else {
                            x
                        }
                    } else {
                        d
                    }
                })
                .sum();
            if sum.is_multiple_of(10) {
                s = candidate;
                break;
            }
        }
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any field map, in any chunking: the reader and the validator never panic; a refusal
        /// is a 400 with a French message.
        #[test]
        fn arbitrary_field_maps_never_panic(
            parts in proptest::collection::vec((field_name(), field_value()), 0..70),
            chunk in 1usize..200,
        ) {
            let codes = vec!["SM54".to_owned()];
            match read(&parts, chunk) {
                Ok(raw) => {
                    if let Ok(app) = rules::validate(&raw, &choices(&codes)) {
                        prop_assert!(raw.consentement);
                        prop_assert!(!app.first_name.as_str().is_empty());
                        prop_assert!(app.centre_ids.iter().all(|c| [1, 2, 3].contains(c)));
                    }
                }
                Err(ReadError::Bad(AppError::BadRequest(message))) => {
                    prop_assert!(message.contains("champ") || message.contains("Formulaire")
                        || message.contains("fichier") || message.contains("Fichier"),
                        "{}", message);
                }
                Err(ReadError::TooLarge) => {}
                Err(ReadError::Bad(other)) => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        /// Valid answers, however typed, are accepted and kept as typed.
        #[test]
        fn valid_inputs_are_accepted(
            civilite in proptest::sample::select(vec!["madame", "monsieur", "non_precise"]),
            prenom in "[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ' -]{0,30}[A-Za-zÀ-ÿ]",
            nom in "[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ' -]{0,30}",
            local in "[a-z0-9]{1,12}(\\.[a-z0-9]{1,8})?",
            domain in "[a-z]{2,12}\\.(fr|com|org|net)",
            phone in "0[1-9]( ?[0-9]{2}){4}",
            rpps_digits in proptest::collection::vec(0u8..10, 10),
            with_rpps in any::<bool>(),
            situation in proptest::sample::select(vec![
                "interne", "jeune_diplome", "remplacant", "liberal", "salarie", "retraite",
                "diplome_etranger", "autre",
            ]),
            days in 0i64..1500,
            part_time in proptest::option::of(1i16..=9),
            centres in proptest::collection::vec(1i64..=3, 0..4),
            message in "\\PC{0,300}",
            connaissance in proptest::sample::select(vec!["", "presse", "faculte", "autre"]),
            poste in proptest::sample::select(vec!["", "7"]),
            vivier in any::<bool>(),
            chunk in 1usize..500,
        ) {
            let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap() + chrono::Duration::days(days);
            let email = format!("{local}@{domain}");
            let mut parts: Vec<(String, Vec<u8>)> = vec![
                ("civilite".into(), civilite.into()),
                ("prenom".into(), prenom.clone().into_bytes()),
                ("nom".into(), nom.clone().into_bytes()),
                ("courriel".into(), email.clone().into_bytes()),
                ("telephone".into(), phone.into_bytes()),
                ("rpps".into(), if with_rpps { rpps(&rpps_digits).into_bytes() } else { Vec::new() }),
                ("specialite".into(), b"SM54".to_vec()),
                ("situation".into(), situation.into()),
                ("disponibilite".into(), date.format(if days % 2 == 0 { "%Y-%m-%d" } else { "%d/%m/%Y" }).to_string().into_bytes()),
                ("temps_travail".into(), if part_time.is_some() { b"temps_partiel".to_vec() } else { b"temps_plein".to_vec() }),
                ("demi_journees".into(), part_time.map(|n| n.to_string()).unwrap_or_default().into_bytes()),
                ("message".into(), message.clone().into_bytes()),
                ("connaissance".into(), connaissance.into()),
                ("poste".into(), poste.into()),
                ("consentement".into(), b"oui".to_vec()),
                ("soumission".into(), uuid::Uuid::new_v4().to_string().into_bytes()),
            ];
            if vivier {
                parts.push(("vivier".into(), b"oui".to_vec()));
            }
            for c in &centres {
                parts.push(("centres".into(), c.to_string().into_bytes()));
            }
            let raw = read(&parts, chunk).expect("a well-formed body is read");
            let codes = vec!["SM54".to_owned()];
            let app = rules::validate(&raw, &choices(&codes));
            prop_assert!(app.is_ok(), "refused: {:?}", app.err());
            let app = app.unwrap();
            let folded = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            prop_assert_eq!(app.first_name.as_str(), folded(&prenom));
            prop_assert_eq!(app.last_name.as_str(), folded(&nom));
            prop_assert_eq!(app.email.as_str(), email.as_str());
            prop_assert_eq!(app.pool_consent, vivier);
            prop_assert_eq!(app.part_time_half_days, part_time);
            prop_assert_eq!(app.message.as_str(), message.trim());
            prop_assert!(app.centre_ids.iter().all(|c| centres.contains(c)));
        }
    }
}
