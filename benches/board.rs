//! Benchmark of the recruiters' pipeline board with 50,000 candidates: page latency (p50, p95,
//! p99, max) of the board, its pages and filters, the searches and a candidate's page, one
//! recruiter at a time and with several at once, and the service's resident memory. The data
//! comes from the generator in the repository (`vocation demo --candidats N`). See
//! BENCHMARKS.md.
//!
//! ```sh
//! cargo build --release && cargo bench --bench board
//! ```
//!
//! Environment: `BENCH_CANDIDATES` (default 50000), `BENCH_REQUESTS` (measured requests per page,
//! default 100), `BENCH_WARMUP` (unmeasured requests per page first, default 10),
//! `BENCH_CLIENTS` (recruiters at once in the concurrent phase, default 8; 0 skips it),
//! `BENCH_SEED` (generator seed, default 32), `BENCH_ADMIN_URL` (default
//! `postgres://postgres@localhost:5432/postgres`), `BENCH_BINARY` (another build of `vocation`
//! to measure, e.g. to compare before and after a change).
//!
//! Order of a run: fresh database, `vocation demo --candidats N` (timed), a recruiter created with
//! `vocation user add`, `vocation serve` started, sign-in through /connexion, warm-up, the
//! sequential phase (each page `BENCH_REQUESTS` times in a row, one request at a time), the
//! concurrent phase (`BENCH_CLIENTS` signed-in recruiters, each with its own session, sharing
//! the same number of requests per page in shuffled orders), then the service is stopped and
//! the database dropped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use rand::seq::SliceRandom;
use rand::SeedableRng;

#[path = "support/mod.rs"]
mod support;
use support::*;

/// The quality bar: "pipeline board with 50,000 candidates — p95 < 100 ms per page".
const TARGET_P95_MS: f64 = 100.0;
const RECRUITER: &str = "bench-recruteur@cds32.test";
const PASSWORD: &str = "un mot de passe de banc d'essai assez long";

/// The release binary cargo built for this bench, or `BENCH_BINARY` (to compare two builds).
fn binary() -> PathBuf {
    let path = std::env::var_os("BENCH_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_vocation")));
    if !path.is_file() {
        eprintln!(
            "{} is missing: run `cargo build --release` first, then `cargo bench --bench board`.",
            path.display()
        );
        std::process::exit(2);
    }
    path
}

// ---------------------------------------------------------------------------------------------
// Resources cleaned up even on panic: the database, the service, the scratch directory.

impl BenchDatabase {
    fn create() -> BenchDatabase {
        let name = format!("vocation_bench_board_{}", uuid::Uuid::new_v4().simple());
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
// The machine and the service's memory.

/// Samples the service's RSS every 50 ms and keeps the peak.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: std::thread::JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (flag, max) = (stop.clone(), peak.clone());
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if let Some(kb) = proc_status_kb(pid, "VmRSS:") {
                    max.fetch_max(kb, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler { stop, peak, handle }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
        self.peak.load(Ordering::Relaxed)
    }
}

/// (command name, utime + stime in clock ticks) of a process.
fn proc_cpu(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_owned();
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// CPU ticks used so far by the service, and by the PostgreSQL backends connected to the
/// bench database (found by their process title, `postgres: user database …`), so that the
/// other databases of the cluster (tests of other builds) do not count.
fn page_ticks(service: u32, database: &str) -> (u64, u64) {
    let own = proc_cpu(service).map(|(_, t)| t).unwrap_or(0);
    let mut pg = 0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Some((comm, ticks)) = proc_cpu(pid) else {
                continue;
            };
            if comm != "postgres" {
                continue;
            }
            let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&title).contains(database) {
                pg += ticks;
            }
        }
    }
    (own, pg)
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
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    total - idle
}

/// CPU ticks used so far by the service, every `postgres` process and this process.
fn accounted_ticks(service: u32) -> std::collections::HashMap<u32, u64> {
    let mut out = std::collections::HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some((comm, ticks)) = proc_cpu(pid) {
                if pid == service || pid == std::process::id() || comm == "postgres" {
                    out.insert(pid, ticks);
                }
            }
        }
    }
    out
}

/// How busy the machine was during a phase, and how much of it came from processes other than
/// the service, PostgreSQL and this load generator (other builds, tests, benchmarks).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
struct MachineLoad {
    busy_pct: f64,
    other_pct: f64,
}

struct LoadProbe {
    service: u32,
    started: Instant,
    busy: u64,
    ticks: std::collections::HashMap<u32, u64>,
}

impl LoadProbe {
    fn start(service: u32) -> LoadProbe {
        LoadProbe {
            service,
            started: Instant::now(),
            busy: machine_busy_ticks(),
            ticks: accounted_ticks(service),
        }
    }

    fn finish(self) -> MachineLoad {
        let hz = 100.0; // USER_HZ, 100 on Linux
        let capacity = self.started.elapsed().as_secs_f64() * cpu_count() as f64;
        let busy = (machine_busy_ticks() - self.busy) as f64 / hz;
        let accounted: f64 = accounted_ticks(self.service)
            .into_iter()
            // A process born during the phase spent all its ticks in it.
            .map(|(pid, t)| t.saturating_sub(self.ticks.get(&pid).copied().unwrap_or(0)) as f64)
            .sum::<f64>()
            / hz;
        MachineLoad {
            busy_pct: 100.0 * busy / capacity,
            other_pct: (100.0 * (busy - accounted) / capacity).max(0.0),
        }
    }
}

fn machine() -> (usize, String, String, u64) {
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
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = Text)]
        v: String,
    }
    let pg = diesel::sql_query("SELECT current_setting('server_version') AS v")
        .get_result::<V>(&mut admin())
        .map(|v| v.v)
        .unwrap_or_default();
    (cpus, model, pg, mem_kb)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// Statistics.

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
struct Latencies {
    n: usize,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    mean_ms: f64,
}

/// Nearest-rank percentiles of durations in microseconds.
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
        n: us.len(),
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: *us.last().unwrap() as f64 / 1000.0,
        mean_ms: us.iter().sum::<u64>() as f64 / us.len() as f64 / 1000.0,
    }
}

// ---------------------------------------------------------------------------------------------
// The data: generated, then a few real values picked for the searches.

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    v: String,
}

fn pick(conn: &mut PgConnection, sql: &str) -> String {
    diesel::sql_query(sql)
        .get_result::<Row>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .v
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
        .get_result::<N>(conn)
        .map(|c| c.n)
        .unwrap_or(-1)
}

/// What the pages are measured with.
struct Data {
    generation_s: f64,
    generator_said: String,
    candidates: i64,
    applications: i64,
    history: i64,
    pages: Vec<(&'static str, String)>,
}

fn vocation(bin: &Path, db_url: &str) -> Command {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("VOCATION") {
            cmd.env_remove(k);
        }
    }
    cmd.env("VOCATION__DATABASE__URL", db_url)
        .env("VOCATION__LOG__LEVEL", "warn");
    cmd
}

fn prepare_data(bin: &Path, db: &BenchDatabase, candidates: u64, seed: u64) -> Data {
    let started = Instant::now();
    let out = vocation(bin, &db.url())
        .args(["demo", "--candidats", &candidates.to_string()])
        .args(["--graine", &seed.to_string()])
        .output()
        .expect("run vocation demo --candidats");
    let generation_s = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vocation demo --candidats failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generator_said = stdout
        .lines()
        .find(|l| l.contains("générés"))
        .unwrap_or_default()
        .to_owned();

    let mut add = vocation(bin, &db.url())
        .args(["user", "add", "--email", RECRUITER, "--role", "recruteur"])
        .args(["--name", "Banc d'essai", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vocation user add");
    {
        use std::io::Write;
        let mut stdin = add.stdin.take().expect("stdin");
        writeln!(stdin, "{PASSWORD}").expect("write the password");
    }
    let added = add.wait_with_output().expect("vocation user add");
    assert!(
        added.status.success(),
        "vocation user add failed:\n{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let mut conn = db.connect();
    // Values taken from the middle of the generated base, so that each search finds real rows.
    let last_name = pick(
        &mut conn,
        "SELECT last_name AS v FROM candidates ORDER BY id OFFSET (SELECT count(*) / 2 FROM \
         candidates) LIMIT 1",
    );
    let phone = pick(
        &mut conn,
        "SELECT phone AS v FROM candidates ORDER BY id OFFSET (SELECT count(*) / 3 FROM \
         candidates) LIMIT 1",
    );
    let rpps = pick(
        &mut conn,
        "SELECT rpps AS v FROM candidates WHERE rpps IS NOT NULL ORDER BY id OFFSET (SELECT \
         count(*) / 8 FROM candidates) LIMIT 1",
    );
    let centre = pick(
        &mut conn,
        "SELECT centre_id::text AS v FROM candidate_centres GROUP BY centre_id \
         ORDER BY count(*) DESC, centre_id LIMIT 1",
    );
    let candidate = pick(
        &mut conn,
        "SELECT id::text AS v FROM candidates ORDER BY id OFFSET (SELECT count(*) * 2 / 3 FROM \
         candidates) LIMIT 1",
    );
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pages = vec![
        ("home /espace", "/espace".to_owned()),
        ("board", "/recrutement".to_owned()),
        ("board newest", "/recrutement?tri=recentes".to_owned()),
        (
            "column alone p3",
            "/recrutement?etape=nouvelle&page=3".to_owned(),
        ),
        ("board page 2", "/recrutement?page=2".to_owned()),
        ("board page 50", "/recrutement?page=50".to_owned()),
        ("specialty MG", "/recrutement?specialite=MG".to_owned()),
        ("part time", "/recrutement?temps=temps_partiel".to_owned()),
        ("centre", format!("/recrutement?centre={centre}")),
        ("situation", "/recrutement?situation=remplacant".to_owned()),
        ("name search", format!("/recrutement?q={}", enc(&last_name))),
        ("phone search", format!("/recrutement?q={}", enc(&phone))),
        ("RPPS search", format!("/recrutement?q={rpps}")),
        (
            "combined filter",
            format!(
                "/recrutement?specialite=MG&temps=temps_partiel&centre={centre}\
                 &situation=remplacant&page=2"
            ),
        ),
        (
            "candidate page",
            format!("/recrutement/candidats/{candidate}"),
        ),
    ];
    Data {
        generation_s,
        generator_said,
        candidates: count(&mut conn, "SELECT count(*) FROM candidates"),
        applications: count(&mut conn, "SELECT count(*) FROM applications"),
        history: count(&mut conn, "SELECT count(*) FROM stage_history"),
        pages,
    }
}

// ---------------------------------------------------------------------------------------------
// The service and the recruiters.

fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let len = tag[v..].find('"')?;
    Some(tag[v..v + len].to_owned())
}

/// The number of applications the board says it shows: `<span class="count">(N)</span>`.
fn board_total(html: &str) -> Option<i64> {
    let at = html.find("class=\"count\">(")? + "class=\"count\">(".len();
    let len = html[at..].find(')')?;
    html[at..at + len].trim().parse().ok()
}

/// A recruiter signed in through the login form, with its own cookie jar (its own session).
async fn sign_in(base: &str) -> reqwest::Client {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client");
    let html = http
        .get(format!("{base}/connexion"))
        .send()
        .await
        .expect("GET /connexion")
        .text()
        .await
        .expect("login page");
    let csrf = hidden_value(&html, "csrf").expect("a csrf input on /connexion");
    let r = http
        .post(format!("{base}/connexion"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("courriel", RECRUITER),
            ("mot_de_passe", PASSWORD),
            ("suite", "/recrutement"),
        ])
        .send()
        .await
        .expect("POST /connexion");
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        r.status() == 303 && location == "/recrutement",
        "sign-in: status {}, location {location:?} (a second factor required?)",
        r.status()
    );
    http
}

/// One GET: its duration in microseconds, or what went wrong.
async fn get(http: &reqwest::Client, url: &str) -> Result<(u64, usize, Option<i64>), String> {
    let started = Instant::now();
    let r = http.get(url).send().await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r.text().await.map_err(|e| e.to_string())?;
    let us = started.elapsed().as_micros() as u64;
    if status != 200 {
        return Err(format!(
            "status {status}: {}",
            body.chars().take(200).collect::<String>()
        ));
    }
    Ok((us, body.len(), board_total(&body)))
}

#[derive(Debug, Default, serde::Serialize)]
struct PageResult {
    name: String,
    path: String,
    shown: Option<i64>,
    bytes: usize,
    sequential: Latencies,
    concurrent: Latencies,
    errors: u64,
    #[serde(skip)]
    error_samples: Vec<String>,
    /// CPU time per measured sequential request: the service process (utime + stime) …
    service_cpu_ms: f64,
    /// … and the PostgreSQL backends connected to the bench database.
    postgres_cpu_ms: f64,
}

#[derive(Debug, Default, serde::Serialize)]
struct Run {
    candidates: i64,
    applications: i64,
    stage_history: i64,
    generation_s: f64,
    generator_said: String,
    pages: Vec<PageResult>,
    sequential_all: Latencies,
    concurrent_all: Latencies,
    concurrent_clients: usize,
    concurrent_wall_s: f64,
    concurrent_rate: f64,
    rss_rest_mb: f64,
    rss_peak_mb: f64,
    rss_hwm_mb: f64,
    rss_hwm_sequential_mb: f64,
    errors: u64,
    sequential_load: MachineLoad,
    concurrent_load: MachineLoad,
}

fn record(page: &mut PageResult, outcome: Result<(u64, usize, Option<i64>), String>) -> u64 {
    match outcome {
        Ok((us, bytes, shown)) => {
            page.bytes = bytes;
            page.shown = shown.or(page.shown);
            us
        }
        Err(e) => {
            page.errors += 1;
            if page.error_samples.len() < 3 {
                page.error_samples.push(e);
            }
            0
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_service(
    rt: &tokio::runtime::Runtime,
    bin: &Path,
    db: &BenchDatabase,
    scratch: &Path,
    data: &Data,
    requests: usize,
    warmup: usize,
    clients: usize,
) -> Run {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let stderr_path = scratch.join("service.stderr");
    let mut cmd = vocation(bin, &db.url());
    cmd.arg("serve")
        .env("VOCATION__HTTP__PORT", port.to_string())
        .env("VOCATION__MAIL__WORKER__ENABLED", "false")
        .env("VOCATION__MAIL__TRANSPORT", "file")
        .env("VOCATION__MAIL__OUTBOX_DIR", scratch.join("outbox"))
        .env(
            "VOCATION__STORAGE__DOCUMENTS_DIR",
            scratch.join("documents"),
        )
        .env("VOCATION__SCHEDULER__DAILY_DIGEST_CRON", "")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    let mut child = KillOnDrop(cmd.spawn().expect("spawn vocation serve"));
    let pid = child.0.id();
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    let spawned = Instant::now();
    rt.block_on(async {
        loop {
            if let Ok(Some(status)) = child.0.try_wait() {
                panic!(
                    "vocation serve exited ({status}) before being ready:\n{}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
            if let Ok(r) = probe.get(format!("{base}/readyz")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                spawned.elapsed() < Duration::from_secs(60),
                "vocation serve not ready after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    std::thread::sleep(Duration::from_secs(1));
    let rss_rest = proc_status_kb(pid, "VmRSS:").unwrap_or(0);
    let sampler = RssSampler::start(pid);

    let mut pages: Vec<PageResult> = data
        .pages
        .iter()
        .map(|(name, path)| PageResult {
            name: (*name).to_owned(),
            path: path.clone(),
            ..PageResult::default()
        })
        .collect();
    let urls: Vec<String> = data
        .pages
        .iter()
        .map(|(_, p)| format!("{base}{p}"))
        .collect();

    // Sequential: one recruiter, one request at a time, each page in turn.
    let http = rt.block_on(sign_in(&base));
    let probe = LoadProbe::start(pid);
    let mut all_seq = Vec::new();
    for (page, url) in pages.iter_mut().zip(&urls) {
        let mut us = Vec::with_capacity(requests);
        rt.block_on(async {
            for _ in 0..warmup {
                let outcome = get(&http, url).await;
                record(page, outcome);
            }
            let before = page_ticks(pid, &db.name);
            for _ in 0..requests {
                let outcome = get(&http, url).await;
                let ok = outcome.is_ok();
                let t = record(page, outcome);
                if ok {
                    us.push(t);
                }
            }
            let after = page_ticks(pid, &db.name);
            // Clock ticks are 10 ms (USER_HZ 100).
            let per_request = |ticks: u64| ticks as f64 * 10.0 / requests.max(1) as f64;
            page.service_cpu_ms = per_request(after.0.saturating_sub(before.0));
            page.postgres_cpu_ms = per_request(after.1.saturating_sub(before.1));
        });
        all_seq.extend(&us);
        page.sequential = latencies(us);
    }
    let sequential_load = probe.finish();
    let rss_hwm_sequential = proc_status_kb(pid, "VmHWM:").unwrap_or(0);

    // Concurrent: `clients` recruiters, each with its own session, sharing `requests` requests
    // per page, each in its own shuffled order.
    let mut concurrent_wall_s = 0.0;
    let mut all_conc = Vec::new();
    let mut concurrent_load = MachineLoad::default();
    if clients > 0 {
        let mut work: Vec<usize> = (0..urls.len())
            .flat_map(|i| std::iter::repeat_n(i, requests))
            .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        work.shuffle(&mut rng);
        let shares: Vec<Vec<usize>> = (0..clients)
            .map(|c| work.iter().copied().skip(c).step_by(clients).collect())
            .collect();
        let (wall, results) = rt.block_on(async {
            let mut sessions = Vec::new();
            for _ in 0..clients {
                sessions.push(sign_in(&base).await);
            }
            let started = Instant::now();
            let probe = LoadProbe::start(pid);
            let tasks: Vec<_> = sessions
                .into_iter()
                .zip(shares)
                .map(|(http, share)| {
                    let urls = urls.clone();
                    tokio::spawn(async move {
                        let mut out = Vec::with_capacity(share.len());
                        for i in share {
                            out.push((i, get(&http, &urls[i]).await));
                        }
                        out
                    })
                })
                .collect();
            let mut results = Vec::new();
            for t in tasks {
                results.extend(t.await.expect("client task"));
            }
            concurrent_load = probe.finish();
            (started.elapsed(), results)
        });
        concurrent_wall_s = wall.as_secs_f64();
        let mut per_page: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
        for (i, outcome) in results {
            let ok = outcome.is_ok();
            let t = record(&mut pages[i], outcome);
            if ok {
                per_page.entry(i).or_default().push(t);
                all_conc.push(t);
            }
        }
        for (i, us) in per_page {
            pages[i].concurrent = latencies(us);
        }
    }
    let rss_peak = sampler.finish();
    let rss_hwm = proc_status_kb(pid, "VmHWM:").unwrap_or(0);
    drop(child);

    let concurrent_n = all_conc.len();
    Run {
        candidates: data.candidates,
        applications: data.applications,
        stage_history: data.history,
        generation_s: data.generation_s,
        generator_said: data.generator_said.clone(),
        errors: pages.iter().map(|p| p.errors).sum(),
        pages,
        sequential_all: latencies(all_seq),
        concurrent_all: latencies(all_conc),
        concurrent_clients: clients,
        concurrent_wall_s,
        concurrent_rate: if concurrent_wall_s > 0.0 {
            concurrent_n as f64 / concurrent_wall_s
        } else {
            0.0
        },
        rss_rest_mb: mb(rss_rest),
        rss_peak_mb: mb(rss_peak),
        rss_hwm_mb: mb(rss_hwm),
        rss_hwm_sequential_mb: mb(rss_hwm_sequential),
        sequential_load,
        concurrent_load,
    }
}

// ---------------------------------------------------------------------------------------------

fn report(run: &Run, requests: usize, warmup: usize) -> String {
    let (cpus, model, pg, mem_kb) = machine();
    let mut r = String::new();
    let _ = writeln!(
        r,
        "\n=== Vocation — pipeline board with {} candidates ===",
        run.candidates
    );
    let _ = writeln!(
        r,
        "machine: {cpus} CPU ({model}), {:.1} GB RAM, PostgreSQL {pg}, service, client and \
         database on the same host; load average after the run: {}",
        mb(mem_kb) / 1024.0,
        load_average()
    );
    let _ = writeln!(
        r,
        "data: `vocation demo --candidats` → {} candidates, {} applications, {} stage history \
         rows; generation {:.1} s wall (the generator says: {})",
        run.candidates, run.applications, run.stage_history, run.generation_s, run.generator_said
    );
    let _ = writeln!(
        r,
        "method: release binary, log level warn, mail worker off; GET with reqwest, signed in \
         through /connexion; {warmup} warm-up then {requests} measured requests per page, \
         sequential (one at a time); then {} recruiters at once (own sessions) sharing {requests} \
         requests per page; latency = request sent → whole body received",
        run.concurrent_clients
    );
    let _ = writeln!(
        r,
        "\n{:<16} {:>7} {:>8} | {:>7} {:>7} {:>7} {:>7} | {:>7} {:>7} {:>7} {:>7} | {:>4} | {:>6} {:>6}",
        "page",
        "shown",
        "bytes",
        "p50",
        "p95",
        "p99",
        "max",
        "c.p50",
        "c.p95",
        "c.p99",
        "c.max",
        "err",
        "cpu.sv",
        "cpu.pg"
    );
    for p in &run.pages {
        let s = p.sequential;
        let c = p.concurrent;
        let _ = writeln!(
            r,
            "{:<16} {:>7} {:>8} | {:>7.1} {:>7.1} {:>7.1} {:>7.1} | {:>7.1} {:>7.1} {:>7.1} \
             {:>7.1} | {:>4} | {:>6.2} {:>6.2}",
            p.name,
            p.shown.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
            p.bytes,
            s.p50_ms,
            s.p95_ms,
            s.p99_ms,
            s.max_ms,
            c.p50_ms,
            c.p95_ms,
            c.p99_ms,
            c.max_ms,
            p.errors,
            p.service_cpu_ms,
            p.postgres_cpu_ms
        );
    }
    let s = run.sequential_all;
    let c = run.concurrent_all;
    let _ =
        writeln!(
        r,
        "{:<16} {:>7} {:>8} | {:>7.1} {:>7.1} {:>7.1} {:>7.1} | {:>7.1} {:>7.1} {:>7.1} {:>7.1} | \
         {:>4}",
        "all pages", "", "", s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms, c.p50_ms, c.p95_ms, c.p99_ms,
        c.max_ms, run.errors
    );
    let _ = writeln!(
        r,
        "(ms; p = sequential, c. = {} at once: {} requests in {:.1} s, {:.1} req/s; cpu.sv / \
         cpu.pg = CPU ms per sequential request of the service process and of the PostgreSQL \
         backends of the bench database, from /proc/<pid>/stat utime + stime)",
        run.concurrent_clients, c.n, run.concurrent_wall_s, run.concurrent_rate
    );
    for p in run.pages.iter().filter(|p| !p.error_samples.is_empty()) {
        for e in &p.error_samples {
            let _ = writeln!(r, "  error on {}: {e}", p.path);
        }
    }
    let _ = writeln!(
        r,
        "RSS: at rest {:.1} MB, peak after the sequential phase {:.1} MB (VmHWM), peak during \
         the measures {:.1} MB (VmHWM {:.1} MB)",
        run.rss_rest_mb, run.rss_hwm_sequential_mb, run.rss_peak_mb, run.rss_hwm_mb
    );
    let _ = writeln!(
        r,
        "machine CPU: sequential phase {:.0}% busy, of which {:.0}% by other processes; \
         concurrent phase {:.0}% busy, of which {:.0}% by other processes",
        run.sequential_load.busy_pct,
        run.sequential_load.other_pct,
        run.concurrent_load.busy_pct,
        run.concurrent_load.other_pct
    );
    if run.sequential_load.other_pct > 10.0 || run.concurrent_load.other_pct > 10.0 {
        let _ = writeln!(
            r,
            "WARNING: other processes used more than 10% of the machine's CPU during a measured \
             phase: the figures are disturbed, run again on a quiet machine."
        );
    }
    let worst_seq = run
        .pages
        .iter()
        .max_by(|a, b| a.sequential.p95_ms.total_cmp(&b.sequential.p95_ms));
    let worst_conc = run
        .pages
        .iter()
        .max_by(|a, b| a.concurrent.p95_ms.total_cmp(&b.concurrent.p95_ms));
    let _ = writeln!(r, "\n-- target: p95 < {TARGET_P95_MS} ms per page");
    if let Some(w) = worst_seq {
        let _ = writeln!(
            r,
            "{}  sequential: worst p95 {:.1} ms ({})",
            verdict(w.sequential.p95_ms < TARGET_P95_MS && run.errors == 0),
            w.sequential.p95_ms,
            w.name
        );
    }
    if let (Some(w), true) = (worst_conc, run.concurrent_clients > 0) {
        let _ = writeln!(
            r,
            "{}  {} recruiters at once: worst p95 {:.1} ms ({})",
            verdict(w.concurrent.p95_ms < TARGET_P95_MS && run.errors == 0),
            run.concurrent_clients,
            w.concurrent.p95_ms,
            w.name
        );
    }
    let _ = writeln!(
        r,
        "{}  errors {} (target 0)",
        verdict(run.errors == 0),
        run.errors
    );
    r
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let candidates = env_u64("BENCH_CANDIDATES", 50_000);
    let requests = env_u64("BENCH_REQUESTS", 100) as usize;
    let warmup = env_u64("BENCH_WARMUP", 10) as usize;
    let clients = env_u64("BENCH_CLIENTS", 8) as usize;
    let seed = env_u64("BENCH_SEED", 32);
    let bin = binary();
    let scratch = Scratch(std::env::temp_dir().join(format!(
        "vocation-bench-board-{}",
        uuid::Uuid::new_v4().simple()
    )));
    std::fs::create_dir_all(&scratch.0).expect("scratch dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    println!(
        "board: {candidates} candidates, {warmup} + {requests} requests per page, {clients} \
         concurrent recruiters"
    );
    println!("binary: {}", bin.display());
    println!("load average before the run: {}", load_average());
    let db = BenchDatabase::create();
    println!("generating the data…");
    let data = prepare_data(&bin, &db, candidates, seed);
    println!("measuring…");
    let run = run_service(&rt, &bin, &db, &scratch.0, &data, requests, warmup, clients);
    drop(db);
    print!("{}", report(&run, requests, warmup));
    println!(
        "\nRESULT_JSON {}",
        serde_json::to_string(&run).unwrap_or_default()
    );
    drop(rt);
}
