//! Benchmark of the application form POST under 32 concurrent clients, with PostgreSQL alone
//! (pgbench running the same transaction) as the reference, measured in the same run.
//! Also: the service's resident memory at rest and under load, and its cold start with
//! migrations on an empty database. See BENCHMARKS.md.
//!
//! ```sh
//! cargo build --release && cargo bench --bench form_post
//! ```
//!
//! Environment: `BENCH_SECONDS` (measured seconds per phase, default 20), `BENCH_WARMUP_SECONDS`
//! (default 3), `BENCH_CLIENTS` (default 32), `BENCH_ADMIN_URL` (default
//! `postgres://postgres@localhost:5432/postgres`), `BENCH_BINARY` (another build of `vocation`
//! to measure, e.g. to compare before and after a change).
//!
//! Order of a run: the service phase (fresh database, cold start, RSS at rest, warm-up, measured
//! load, RSS peak, service killed, checks of what was written), then the pgbench phase on another
//! fresh database migrated by `vocation migrate`. Both databases are dropped at the end.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

#[path = "support/mod.rs"]
mod support;
use support::*;

const RECRUITERS: &str = "recrutement@cds32.test";

// Targets from the quality bar.
const TARGET_RATIO: f64 = 0.5;
const TARGET_P99_MS: f64 = 50.0;
const TARGET_RSS_REST_MB: f64 = 50.0;
const TARGET_RSS_LOAD_MB: f64 = 100.0;
const TARGET_COLD_START_S: f64 = 2.0;

/// The release binary cargo built for this bench, or `BENCH_BINARY` (to compare two builds).
fn binary() -> PathBuf {
    let path = std::env::var_os("BENCH_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_vocation")));
    if !path.is_file() {
        eprintln!(
            "{} is missing: run `cargo build --release` first, then `cargo bench --bench form_post`.",
            path.display()
        );
        std::process::exit(2);
    }
    path
}

// ---------------------------------------------------------------------------------------------
// Resources cleaned up even on panic: databases, child processes, the scratch directory.

impl BenchDatabase {
    fn create(label: &str) -> BenchDatabase {
        let name = format!("vocation_bench_{label}_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin())
            .expect("CREATE DATABASE");
        BenchDatabase { name }
    }

    fn url(&self) -> String {
        database_url(&self.name)
    }

    fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url()).expect("connect to the bench database")
    }
}

// ---------------------------------------------------------------------------------------------
// /proc readings.

/// (command name, utime + stime in clock ticks) of a process.
fn proc_cpu(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_owned();
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    // After the command: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Samples every 100 ms: the service's RSS (peak) and the CPU used by the service, by every
/// `postgres` process and by `pgbench`, so that CPU per request can be reported.
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<SamplerReport>,
}

#[derive(Default, Debug)]
struct SamplerReport {
    peak_rss_kb: u64,
    /// CPU seconds per process group, keyed by "service", "postgres", "pgbench".
    cpu_seconds: HashMap<&'static str, f64>,
    /// CPU seconds used by the whole machine (all processes, all CPUs) and wall seconds.
    machine_busy_seconds: f64,
    wall_seconds: f64,
}

/// Non-idle CPU ticks of the whole machine, from the first line of /proc/stat.
fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    total - idle
}

impl Sampler {
    fn start(service_pid: Option<u32>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let ticks = clock_ticks();
        let handle = std::thread::spawn(move || {
            let started = Instant::now();
            let busy_before = machine_busy_ticks();
            let mut peak = 0u64;
            // pid -> (group, ticks when first seen, ticks last seen)
            let mut seen: HashMap<u32, (&'static str, u64, u64)> = HashMap::new();
            let mut first_pass = true;
            loop {
                if let Some(pid) = service_pid {
                    if let Some(kb) = proc_status_kb(pid, "VmRSS:") {
                        peak = peak.max(kb);
                    }
                }
                if let Ok(dir) = std::fs::read_dir("/proc") {
                    for entry in dir.flatten() {
                        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok())
                        else {
                            continue;
                        };
                        let Some((comm, cpu)) = proc_cpu(pid) else {
                            continue;
                        };
                        let group = if Some(pid) == service_pid {
                            "service"
                        } else if comm == "postgres" {
                            "postgres"
                        } else if comm == "pgbench" {
                            "pgbench"
                        } else {
                            continue;
                        };
                        seen.entry(pid)
                            // A process born during the window spent all its CPU in it.
                            .or_insert((group, if first_pass { cpu } else { 0 }, cpu))
                            .2 = cpu;
                    }
                }
                first_pass = false;
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let mut cpu_seconds = HashMap::new();
            for (group, first, last) in seen.into_values() {
                *cpu_seconds.entry(group).or_insert(0.0) += (last - first) as f64 / ticks;
            }
            SamplerReport {
                peak_rss_kb: peak,
                cpu_seconds,
                machine_busy_seconds: (machine_busy_ticks() - busy_before) as f64 / ticks,
                wall_seconds: started.elapsed().as_secs_f64(),
            }
        });
        Sampler { stop, handle }
    }

    fn finish(self) -> SamplerReport {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("sampler thread")
    }
}

fn self_cpu_seconds(ticks: f64) -> f64 {
    proc_cpu(std::process::id())
        .map(|(_, t)| t as f64 / ticks)
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------------
// Statistics.

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
struct Latencies {
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    mean_ms: f64,
}

fn latencies(mut us: Vec<u64>) -> Latencies {
    if us.is_empty() {
        return Latencies::default();
    }
    us.sort_unstable();
    let at = |q: f64| {
        let i = ((q * us.len() as f64).ceil() as usize).clamp(1, us.len()) - 1;
        us[i] as f64 / 1000.0
    };
    Latencies {
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: *us.last().unwrap() as f64 / 1000.0,
        mean_ms: us.iter().sum::<u64>() as f64 / us.len() as f64 / 1000.0,
    }
}

// ---------------------------------------------------------------------------------------------
// The service phase.

#[derive(Debug, Default, serde::Serialize)]
struct ServiceResult {
    cold_start_s: f64,
    rss_rest_mb: f64,
    rss_peak_load_mb: f64,
    rss_hwm_mb: f64,
    rss_after_load_mb: f64,
    requests_ok: u64,
    errors_measured: u64,
    errors_total: u64,
    rate: f64,
    latency: Latencies,
    measured_s: f64,
    service_cpu_ms_per_req: f64,
    postgres_cpu_ms_per_req: f64,
    client_cpu_ms_per_req: f64,
    /// Share of the machine's CPU time busy during the measured window, and the part of it
    /// used by processes other than the service, PostgreSQL and this load generator.
    machine_busy_pct: f64,
    other_cpu_pct: f64,
    total_ok: u64,
    applications_in_db: i64,
    candidates_in_db: i64,
    emails_in_db: i64,
    #[serde(skip)]
    error_samples: Vec<String>,
    #[serde(skip)]
    sample_emails: Vec<SampleEmail>,
}

#[derive(Debug, Clone, QueryableByName)]
struct SampleEmail {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Text)]
    body_text: String,
    #[diesel(sql_type = Text)]
    body_html: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
        .get_result::<Count>(conn)
        .map(|c| c.n)
        .unwrap_or(-1)
}

fn service_command(bin: &Path, db_url: &str, scratch: &Path, port: u16) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("VOCATION__DATABASE__URL", db_url)
        .env("VOCATION__HTTP__PORT", port.to_string())
        .env("VOCATION__HTTP__FORM_BURST", "10000000")
        .env("VOCATION__MAIL__TRANSPORT", "file")
        .env("VOCATION__MAIL__OUTBOX_DIR", scratch.join("outbox"))
        .env(
            "VOCATION__STORAGE__DOCUMENTS_DIR",
            scratch.join("documents"),
        )
        .env("VOCATION__MAIL__WORKER__ENABLED", "false")
        // One recruiter notified: every application queues two e-mails, as in pgbench's script.
        .env("VOCATION__RECRUITERS__NOTIFY", RECRUITERS)
        .env("VOCATION__LOG__LEVEL", "warn")
        .stdin(Stdio::null());
    cmd
}

/// The value of the hidden input `name`, and every value of the checkboxes named `centres`.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let len = tag[v..].find('"')?;
    Some(tag[v..v + len].to_owned())
}

fn centre_values(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("name=\"centres\"") {
        let after = &rest[at..];
        let end = after.find('>').unwrap_or(after.len());
        if let Some(v) = after[..end].find("value=\"") {
            let v = v + "value=\"".len();
            if let Some(len) = after[v..end].find('"') {
                out.push(after[v..v + len].to_owned());
            }
        }
        rest = &after[end..];
    }
    out
}

#[derive(Default)]
struct ClientResult {
    measured_us: Vec<u64>,
    measured_ok: u64,
    measured_err: u64,
    total_ok: u64,
    total_err: u64,
    error_samples: Vec<String>,
}

impl ClientResult {
    fn error(&mut self, measured: bool, what: String) {
        self.total_err += 1;
        if measured {
            self.measured_err += 1;
        }
        if self.error_samples.len() < 3 {
            self.error_samples.push(what);
        }
    }
}

/// One client: its own cookie jar, one GET of the form, then POSTs until `end`.
async fn client(id: usize, base: String, warm_end: Instant, end: Instant) -> ClientResult {
    let mut result = ClientResult::default();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");
    let html = match http.get(format!("{base}/candidature")).send().await {
        Ok(r) if r.status() == 200 => r.text().await.unwrap_or_default(),
        Ok(r) => {
            result.error(false, format!("GET /candidature: {}", r.status()));
            return result;
        }
        Err(e) => {
            result.error(false, format!("GET /candidature: {e}"));
            return result;
        }
    };
    let Some(csrf) = hidden_value(&html, "csrf") else {
        result.error(false, "no csrf input in the form".to_owned());
        return result;
    };
    // Two wished centres, so that candidate_centres is written as in pgbench's script.
    let centres: Vec<String> = centre_values(&html).into_iter().take(2).collect();
    let url = format!("{base}/candidature");
    let mut n: u64 = 0;
    while Instant::now() < end {
        n += 1;
        let phone = format!(
            "+33 6 {:02} {:02} {:02} {:02}",
            id % 100,
            (n / 10_000) % 100,
            (n / 100) % 100,
            n % 100
        );
        let email = format!("bench-{id}-{n}@exemple.test");
        let mut form = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .text("soumission", uuid::Uuid::new_v4().to_string());
        // Fields::valid() of tests/api/helpers.rs, without rpps, with distinct e-mail and phone.
        for (k, v) in [
            ("civilite", "madame"),
            ("prenom", "Claire"),
            ("nom", "Martin"),
            ("courriel", email.as_str()),
            ("telephone", phone.as_str()),
            ("specialite", "SM54"),
            ("situation", "remplacant"),
            ("disponibilite", "2027-09-01"),
            ("temps_travail", "temps_partiel"),
            ("demi_journees", "6"),
            ("garde", "oui"),
            ("message", "Je souhaite m'installer dans le Gers."),
            ("connaissance", "faculte"),
            ("consentement", "oui"),
            ("vivier", "oui"),
        ] {
            form = form.text(k, v.to_owned());
        }
        for c in &centres {
            form = form.text("centres", c.clone());
        }
        let started = Instant::now();
        let response = http.post(&url).multipart(form).send().await;
        let outcome = match response {
            Ok(r) => {
                let status = r.status().as_u16();
                let location_ok = r
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|l| l.starts_with("/candidature/merci/"));
                let body = r.bytes().await;
                match (status, location_ok, body) {
                    (303, true, Ok(_)) => Ok(()),
                    (_, _, Ok(b)) => Err(format!(
                        "POST: status {status}: {}",
                        String::from_utf8_lossy(&b[..b.len().min(300)])
                    )),
                    (_, _, Err(e)) => Err(format!("POST: status {status}, body: {e}")),
                }
            }
            Err(e) => Err(format!("POST: {e}")),
        };
        let done = Instant::now();
        let measured = done >= warm_end && done < end;
        match outcome {
            Ok(()) => {
                result.total_ok += 1;
                if measured {
                    result.measured_ok += 1;
                    result
                        .measured_us
                        .push(done.duration_since(started).as_micros() as u64);
                }
            }
            Err(e) => result.error(measured, e),
        }
    }
    result
}

fn run_service_phase(
    rt: &tokio::runtime::Runtime,
    bin: &Path,
    scratch: &Path,
    clients: usize,
    warmup: Duration,
    measure: Duration,
) -> ServiceResult {
    let db = BenchDatabase::create("service");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let stderr_path = scratch.join("service.stderr");
    let mut cmd = service_command(bin, &db.url(), scratch, port);
    cmd.arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");

    // Cold start: spawn until /readyz answers 200, migrations on the empty database included.
    let spawned = Instant::now();
    let mut child = KillOnDrop(cmd.spawn().expect("spawn vocation serve"));
    let pid = child.0.id();
    let cold_start = rt.block_on(async {
        loop {
            if let Ok(Some(status)) = child.0.try_wait() {
                panic!(
                    "vocation serve exited ({status}) before being ready:\n{}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
            if let Ok(r) = probe.get(format!("{base}/readyz")).send().await {
                if r.status() == 200 {
                    return spawned.elapsed();
                }
            }
            if spawned.elapsed() > Duration::from_secs(60) {
                panic!("vocation serve not ready after 60 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    // At rest: a second after readiness, no request in flight.
    std::thread::sleep(Duration::from_secs(1));
    let rss_rest = proc_status_kb(pid, "VmRSS:").unwrap_or(0);

    checkpoint();
    let ticks = clock_ticks();
    let load_sampler = Sampler::start(Some(pid));
    let start = Instant::now();
    let warm_end = start + warmup;
    let end = warm_end + measure;
    // A second sampler for the measured window only (CPU per request).
    let window = rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|id| tokio::spawn(client(id, base.clone(), warm_end, end)))
            .collect();
        tokio::time::sleep_until(warm_end.into()).await;
        let window_sampler = Sampler::start(Some(pid));
        let client_cpu_before = self_cpu_seconds(ticks);
        tokio::time::sleep_until(end.into()).await;
        let window_report = tokio::task::spawn_blocking(move || window_sampler.finish())
            .await
            .expect("sampler");
        let client_cpu = self_cpu_seconds(ticks) - client_cpu_before;
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.expect("client task"));
        }
        (window_report, client_cpu, results)
    });
    let load_report = load_sampler.finish();
    let (window_report, client_cpu, results) = window;
    let rss_hwm = proc_status_kb(pid, "VmHWM:").unwrap_or(0);
    let rss_after = proc_status_kb(pid, "VmRSS:").unwrap_or(0);
    drop(child); // killed: the service is stopped before pgbench runs

    let mut out = ServiceResult {
        cold_start_s: cold_start.as_secs_f64(),
        rss_rest_mb: mb(rss_rest),
        rss_peak_load_mb: mb(load_report.peak_rss_kb),
        rss_hwm_mb: mb(rss_hwm),
        rss_after_load_mb: mb(rss_after),
        measured_s: measure.as_secs_f64(),
        ..ServiceResult::default()
    };
    let mut all_us = Vec::new();
    for r in results {
        out.requests_ok += r.measured_ok;
        out.errors_measured += r.measured_err;
        out.errors_total += r.total_err;
        out.total_ok += r.total_ok;
        all_us.extend(r.measured_us);
        for s in r.error_samples {
            if out.error_samples.len() < 5 {
                out.error_samples.push(s);
            }
        }
    }
    out.rate = out.requests_ok as f64 / measure.as_secs_f64();
    out.latency = latencies(all_us);
    let per_req = |s: f64| {
        if out.requests_ok == 0 {
            0.0
        } else {
            s * 1000.0 / out.requests_ok as f64
        }
    };
    let cpu = &window_report.cpu_seconds;
    out.service_cpu_ms_per_req = per_req(cpu.get("service").copied().unwrap_or(0.0));
    out.postgres_cpu_ms_per_req = per_req(cpu.get("postgres").copied().unwrap_or(0.0));
    out.client_cpu_ms_per_req = per_req(client_cpu);
    let capacity = window_report.wall_seconds * cpu_count() as f64;
    let accounted =
        cpu.values().sum::<f64>() - cpu.get("pgbench").copied().unwrap_or(0.0) + client_cpu;
    out.machine_busy_pct = 100.0 * window_report.machine_busy_seconds / capacity;
    out.other_cpu_pct =
        (100.0 * (window_report.machine_busy_seconds - accounted) / capacity).max(0.0);

    // What was written: one candidate, one application and two e-mails per 303.
    let mut conn = db.connect();
    out.applications_in_db = count(&mut conn, "SELECT count(*) FROM applications");
    out.candidates_in_db = count(&mut conn, "SELECT count(*) FROM candidates");
    out.emails_in_db = count(&mut conn, "SELECT count(*) FROM outbound_emails");
    for kind in ["application_confirmation", "recruiter_notification"] {
        if let Ok(e) = diesel::sql_query(
            "SELECT kind, subject, body_text, body_html FROM outbound_emails \
             WHERE kind = $1 ORDER BY id LIMIT 1",
        )
        .bind::<Text, _>(kind)
        .get_result::<SampleEmail>(&mut conn)
        {
            out.sample_emails.push(e);
        }
    }
    out
}

fn checkpoint() {
    let _ = diesel::sql_query("CHECKPOINT").execute(&mut admin());
}

// ---------------------------------------------------------------------------------------------
// The pgbench phase.

#[derive(Debug, Default, serde::Serialize)]
struct PgbenchResult {
    tps: f64,
    transactions: u64,
    failed: u64,
    latency_avg_ms: f64,
    latency: Latencies,
    postgres_cpu_ms_per_tx: f64,
    pgbench_cpu_ms_per_tx: f64,
    machine_busy_pct: f64,
    other_cpu_pct: f64,
    applications_in_db: i64,
    emails_in_db: i64,
    #[serde(skip)]
    per_statement: String,
    #[serde(skip)]
    command: String,
}

/// A literal for the script: dollar-quoted, with nothing pgbench would take for one of the
/// script's variables (`:name`) or a meta-command.
fn literal(s: &str) -> String {
    let mut clean = s.replace('\\', "/");
    for var in [
        ":vb_",
        ":client_id",
        ":scale",
        ":random_seed",
        ":default_seed",
    ] {
        clean = clean.replace(var, &var.replacen(':', ": ", 1));
    }
    let mut tag = "$vb$".to_owned();
    while clean.contains(&tag) {
        tag.insert(2, 'x');
    }
    format!("{tag}{clean}{tag}")
}

/// The transaction the service runs for one new application (src/applications/mod.rs: record),
/// statement by statement, with the same values.
fn pgbench_script(emails: &[SampleEmail], centres: &[i64]) -> String {
    let fallback = |kind: &str| SampleEmail {
        kind: kind.to_owned(),
        subject: "Votre candidature a bien été reçue".to_owned(),
        body_text: "Bonjour, nous avons bien reçu votre candidature. ".repeat(20),
        body_html: "<p>Bonjour, nous avons bien reçu votre candidature.</p> ".repeat(20),
    };
    let email = |kind: &str| {
        emails
            .iter()
            .find(|e| e.kind == kind)
            .cloned()
            .unwrap_or_else(|| fallback(kind))
    };
    let confirmation = email("application_confirmation");
    let notification = email("recruiter_notification");
    let address = "'pgb-' || :client_id || '-' || :vb_r || '@exemple.test'";
    let phone = "'+336' || :vb_ph";
    let key = "(lpad(to_hex(:vb_u1), 16, '0') || lpad(to_hex(:vb_u2), 16, '0'))::uuid";
    let centre_rows: Vec<String> = centres.iter().map(|c| format!("(:vb_cid, {c})")).collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "-- One application, as src/applications/mod.rs (record) writes it.\n\
         \\set vb_r random(1, 1000000000000)\n\
         \\set vb_ph random(10000000, 99999999)\n\
         \\set vb_u1 random(1, 4611686018427387903)\n\
         \\set vb_u2 random(1, 4611686018427387903)\n\
         \\set vb_k1 random(1, 4611686018427387903)\n\
         \\set vb_k2 random(1, 4611686018427387903)\n\
         \\set vb_k3 random(1, 4611686018427387903)\n\
         BEGIN;\n\
         SELECT pg_advisory_xact_lock(:vb_k1);\n\
         SELECT pg_advisory_xact_lock(:vb_k2);\n\
         SELECT pg_advisory_xact_lock(:vb_k3);\n\
         SELECT id FROM applications WHERE submission_key = {key} LIMIT 1;\n\
         SELECT id FROM candidates WHERE email_normalized = {address} ORDER BY last_activity_at DESC LIMIT 1;\n\
         SELECT id FROM candidates WHERE phone_normalized = {phone} ORDER BY last_activity_at DESC LIMIT 1;\n\
         INSERT INTO candidates (civility, first_name, last_name, email, email_normalized, phone, \
         phone_normalized, specialty_code, situation, available_from, working_time, \
         part_time_half_days, on_call, intern_training, pool_consent_at, updated_at, \
         last_activity_at, rpps, created_at) VALUES ('madame', 'Claire', 'Martin', {address}, \
         {address}, {phone}, {phone}, 'SM54', 'remplacant', DATE '2027-09-01', 'temps_partiel', 6, \
         true, false, now(), now(), now(), NULL, now()) RETURNING id AS vb_cid \\gset\n\
         INSERT INTO candidate_centres (candidate_id, centre_id) VALUES {} ON CONFLICT DO NOTHING;\n\
         SELECT id, message FROM applications WHERE candidate_id = :vb_cid AND stage IN \
         ('nouvelle', 'premier_contact', 'entretien', 'visite', 'proposition', 'acceptee') \
         AND position_id IS NULL ORDER BY id DESC LIMIT 1;\n\
         INSERT INTO applications (candidate_id, position_id, stage, stage_entered_at, message, \
         heard_from, utm_source, utm_medium, utm_campaign, submission_key, \
         privacy_notice_version, privacy_accepted_at, created_at, updated_at) VALUES (:vb_cid, \
         NULL, 'nouvelle', now(), 'Je souhaite m''installer dans le Gers.', 'faculte', NULL, \
         NULL, NULL, {key}, '2026-11', now(), now(), now()) RETURNING id AS vb_aid \\gset\n\
         INSERT INTO stage_history (application_id, from_stage, to_stage, note, created_at) \
         VALUES (:vb_aid, NULL, 'nouvelle', 'Candidature reçue par le formulaire en ligne', now());",
        centre_rows.join(", ")
    );
    let _ = writeln!(
        s,
        "INSERT INTO outbound_emails (kind, recipient, subject, body_text, body_html, message_id, \
         candidate_id, application_id) VALUES \
         ('application_confirmation', {address}, {}, {}, {}, '<' || gen_random_uuid() || '@vocation.bench>', :vb_cid, :vb_aid), \
         ('recruiter_notification', '{RECRUITERS}', {}, {}, {}, '<' || gen_random_uuid() || '@vocation.bench>', :vb_cid, :vb_aid);\n\
         COMMIT;",
        literal(&confirmation.subject),
        literal(&confirmation.body_text),
        literal(&confirmation.body_html),
        literal(&notification.subject),
        literal(&notification.body_text),
        literal(&notification.body_html),
    );
    s
}

fn number_after(text: &str, prefix: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.trim_start().starts_with(prefix))?;
    line.trim_start()[prefix.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn run_pgbench_phase(
    bin: &Path,
    scratch: &Path,
    clients: usize,
    measure: Duration,
    emails: &[SampleEmail],
) -> PgbenchResult {
    let db = BenchDatabase::create("pgbench");
    let migrate = service_command(bin, &db.url(), scratch, free_port())
        .arg("migrate")
        .stdout(Stdio::null())
        .output()
        .expect("run vocation migrate");
    assert!(
        migrate.status.success(),
        "vocation migrate failed:\n{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Nullable<BigInt>)]
        id: Option<i64>,
    }
    let centres: Vec<i64> = diesel::sql_query(
        "SELECT id FROM centres WHERE status <> 'closed' ORDER BY commune LIMIT 2",
    )
    .load::<Id>(&mut db.connect())
    .expect("centres")
    .into_iter()
    .filter_map(|r| r.id)
    .collect();
    let script = scratch.join("application.sql");
    std::fs::write(&script, pgbench_script(emails, &centres)).expect("write the pgbench script");
    let log_dir = scratch.join("pgbench-log");
    std::fs::create_dir_all(&log_dir).expect("log dir");
    let mut cmd = Command::new("pgbench");
    cmd.args(["-n", "-c", &clients.to_string(), "-j", "2", "-T"])
        .arg(measure.as_secs().to_string())
        .arg("-f")
        .arg(&script)
        .args(["-r", "-l", "--log-prefix"])
        .arg(log_dir.join("tx"))
        .arg(db.url())
        .current_dir(&log_dir);
    let command = format!(
        "pgbench -n -c {clients} -j 2 -T {} -f application.sql -r -l <database>",
        measure.as_secs()
    );

    checkpoint();
    let sampler = Sampler::start(None);
    let output = cmd.output().expect("run pgbench (is it installed?)");
    let report = sampler.finish();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "pgbench failed:\n{stdout}\n{stderr}"
    );

    let mut us = Vec::new();
    if let Ok(dir) = std::fs::read_dir(&log_dir) {
        for entry in dir.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                // client_id transaction_no time(µs) script_no time_epoch time_us
                us.extend(
                    text.lines()
                        .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()),
                );
            }
        }
    }
    let tps = stdout
        .lines()
        .find(|l| l.starts_with("tps =") && l.contains("without initial connection time"))
        .and_then(|l| l["tps =".len()..].split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let transactions =
        number_after(&stdout, "number of transactions actually processed:").unwrap_or(0.0) as u64;
    let failed = number_after(&stdout, "number of failed transactions:").unwrap_or(0.0) as u64;
    let per_tx = |s: f64| {
        if transactions == 0 {
            0.0
        } else {
            s * 1000.0 / transactions as f64
        }
    };
    let per_statement = stdout
        .lines()
        .skip_while(|l| !l.starts_with("statement latencies"))
        .map(|l| {
            let l = l.trim_end();
            if l.chars().count() > 110 {
                format!("{}…", l.chars().take(110).collect::<String>())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let capacity = report.wall_seconds * cpu_count() as f64;
    let accounted: f64 = report.cpu_seconds.values().sum();
    let mut conn = db.connect();
    PgbenchResult {
        machine_busy_pct: 100.0 * report.machine_busy_seconds / capacity,
        other_cpu_pct: (100.0 * (report.machine_busy_seconds - accounted) / capacity).max(0.0),
        tps,
        transactions,
        failed,
        latency_avg_ms: number_after(&stdout, "latency average =").unwrap_or(0.0),
        latency: latencies(us),
        postgres_cpu_ms_per_tx: per_tx(report.cpu_seconds.get("postgres").copied().unwrap_or(0.0)),
        pgbench_cpu_ms_per_tx: per_tx(report.cpu_seconds.get("pgbench").copied().unwrap_or(0.0)),
        applications_in_db: count(&mut conn, "SELECT count(*) FROM applications"),
        emails_in_db: count(&mut conn, "SELECT count(*) FROM outbound_emails"),
        per_statement,
        command,
    }
}

// ---------------------------------------------------------------------------------------------

fn machine() -> (usize, String, String) {
    let cpus = cpu_count();
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = Text)]
        v: String,
    }
    let pg = diesel::sql_query("SELECT current_setting('server_version') AS v")
        .get_result::<V>(&mut admin())
        .map(|v| v.v)
        .unwrap_or_default();
    (cpus, model, pg)
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let clients = env_u64("BENCH_CLIENTS", 32) as usize;
    let measure = Duration::from_secs(env_u64("BENCH_SECONDS", 20));
    let warmup = Duration::from_secs(env_u64("BENCH_WARMUP_SECONDS", 3));
    let bin = binary();
    let scratch = Scratch(
        std::env::temp_dir().join(format!("vocation-bench-{}", uuid::Uuid::new_v4().simple())),
    );
    std::fs::create_dir_all(&scratch.0).expect("scratch dir");
    let (cpus, model, pg_version) = machine();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    println!("form_post: {clients} clients, warm-up {warmup:?}, measured {measure:?}");
    println!("binary: {}", bin.display());
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before the run: {}",
        loadavg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("service phase…");
    let service = run_service_phase(&rt, &bin, &scratch.0, clients, warmup, measure);
    println!("pgbench phase…");
    let pgbench = run_pgbench_phase(&bin, &scratch.0, clients, measure, &service.sample_emails);

    let ratio = if pgbench.tps > 0.0 {
        service.rate / pgbench.tps
    } else {
        0.0
    };
    let errors = service.errors_total;
    let body_bytes: usize = service
        .sample_emails
        .iter()
        .map(|e| e.body_text.len() + e.body_html.len())
        .sum();

    let mut r = String::new();
    let _ = writeln!(r, "\n=== Vocation — application form POST benchmark ===");
    let _ = writeln!(
        r,
        "machine: {cpus} CPU ({model}), PostgreSQL {pg_version}, same host for service, load \
         generator and database"
    );
    let _ = writeln!(
        r,
        "load: {clients} clients (tokio + reqwest, one cookie jar each), GET /candidature once, \
         then POST multipart (no file) in a loop; warm-up {} s, measured {} s",
        warmup.as_secs(),
        measure.as_secs()
    );
    let _ = writeln!(
        r,
        "service settings: release binary, form_burst=10000000 (per-IP rate limit out of the way), \
         mail worker disabled (e-mails queued in the outbox table, not sent), one recruiter \
         notified (two e-mails queued per application), log level warn, pool_size default (10)"
    );
    let _ = writeln!(r, "\n-- service");
    let _ = writeln!(
        r,
        "throughput      {:>9.1} req/s  ({} × 303 in {} s)",
        service.rate,
        service.requests_ok,
        measure.as_secs()
    );
    let l = service.latency;
    let _ = writeln!(
        r,
        "latency (ms)    p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}  mean {:.1}",
        l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms, l.mean_ms
    );
    let _ = writeln!(
        r,
        "errors          {} in the measured window, {} in all (warm-up included)",
        service.errors_measured, service.errors_total
    );
    for e in &service.error_samples {
        let _ = writeln!(r, "  e.g. {e}");
    }
    let _ = writeln!(
        r,
        "written         {} applications, {} candidates, {} outbound e-mails for {} × 303 \
         (e-mail bodies of one application: {} bytes)",
        service.applications_in_db,
        service.candidates_in_db,
        service.emails_in_db,
        service.total_ok,
        body_bytes
    );
    let _ = writeln!(
        r,
        "CPU per request service {:.2} ms, postgres {:.2} ms, load generator {:.2} ms",
        service.service_cpu_ms_per_req,
        service.postgres_cpu_ms_per_req,
        service.client_cpu_ms_per_req
    );
    let _ = writeln!(
        r,
        "machine CPU     {:.0}% busy, of which {:.0}% by other processes (not service, postgres, \
         load generator)",
        service.machine_busy_pct, service.other_cpu_pct
    );
    let _ = writeln!(
        r,
        "RSS             at rest {:.1} MB, peak under load {:.1} MB (VmHWM {:.1} MB, after load \
         {:.1} MB)",
        service.rss_rest_mb,
        service.rss_peak_load_mb,
        service.rss_hwm_mb,
        service.rss_after_load_mb
    );
    let _ = writeln!(
        r,
        "cold start      {:.3} s (spawn → /readyz 200, migrations on an empty database)",
        service.cold_start_s
    );
    let _ = writeln!(r, "\n-- PostgreSQL alone: {}", pgbench.command);
    let _ = writeln!(
        r,
        "throughput      {:>9.1} tps (without initial connection time), {} transactions, {} failed",
        pgbench.tps, pgbench.transactions, pgbench.failed
    );
    let p = pgbench.latency;
    let _ = writeln!(
        r,
        "latency (ms)    p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}  average {:.1}",
        p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms, pgbench.latency_avg_ms
    );
    let _ = writeln!(
        r,
        "written         {} applications, {} outbound e-mails",
        pgbench.applications_in_db, pgbench.emails_in_db
    );
    let _ = writeln!(
        r,
        "CPU per tx      postgres {:.2} ms, pgbench {:.2} ms",
        pgbench.postgres_cpu_ms_per_tx, pgbench.pgbench_cpu_ms_per_tx
    );
    let _ = writeln!(
        r,
        "machine CPU     {:.0}% busy, of which {:.0}% by other processes (not postgres, pgbench)",
        pgbench.machine_busy_pct, pgbench.other_cpu_pct
    );
    if !pgbench.per_statement.is_empty() {
        let _ = writeln!(r, "{}", pgbench.per_statement);
    }
    if service.other_cpu_pct > 10.0 || pgbench.other_cpu_pct > 10.0 {
        let _ = writeln!(
            r,
            "\nWARNING: other processes used more than 10% of the machine's CPU during a measured \
             window: the figures are disturbed, run again on a quiet machine."
        );
    }
    let consistent = service.applications_in_db == service.total_ok as i64
        && service.candidates_in_db == service.total_ok as i64
        && service.emails_in_db == 2 * service.total_ok as i64;
    if !consistent {
        let _ = writeln!(
            r,
            "\nWARNING: the service's database does not hold one candidate, one application and \
             two e-mails per 303 answer."
        );
    }
    let _ = writeln!(r, "\n-- targets");
    let _ = writeln!(
        r,
        "{}  ratio service/pgbench {:.2} (target ≥ {TARGET_RATIO})",
        verdict(ratio >= TARGET_RATIO),
        ratio
    );
    let _ = writeln!(
        r,
        "{}  p99 {:.1} ms (target < {TARGET_P99_MS} ms)",
        verdict(l.p99_ms < TARGET_P99_MS && service.requests_ok > 0),
        l.p99_ms
    );
    let _ = writeln!(
        r,
        "{}  errors {errors} (target 0)",
        verdict(errors == 0 && service.requests_ok > 0)
    );
    let _ = writeln!(
        r,
        "{}  RSS at rest {:.1} MB (target < {TARGET_RSS_REST_MB} MB)",
        verdict(service.rss_rest_mb < TARGET_RSS_REST_MB),
        service.rss_rest_mb
    );
    let _ = writeln!(
        r,
        "{}  RSS under load {:.1} MB (target < {TARGET_RSS_LOAD_MB} MB)",
        verdict(service.rss_peak_load_mb < TARGET_RSS_LOAD_MB),
        service.rss_peak_load_mb
    );
    let _ = writeln!(
        r,
        "{}  cold start {:.3} s (target < {TARGET_COLD_START_S} s)",
        verdict(service.cold_start_s < TARGET_COLD_START_S),
        service.cold_start_s
    );
    print!("{r}");
    let json = serde_json::json!({
        "clients": clients,
        "seconds": measure.as_secs(),
        "ratio": ratio,
        "rows_consistent": consistent,
        "service": service,
        "pgbench": pgbench,
    });
    println!("\nRESULT_JSON {json}");
    drop(rt);
}
