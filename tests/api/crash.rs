//! The crash test of the campaign ledger (issue 5): a 20,000-recipient run sent by the real
//! binary (`vocation serve`) to the counting SMTP server, killed with SIGKILL at random moments
//! and restarted each time. At the end every recipient has the message, the duplicates are no
//! more than the messages that can be in flight at each kill (one per SMTP connection: a
//! connection sends its next message only once the previous outcome is committed), and a
//! duplicate is the same message sent again (same Message-ID), not a new one.
//!
//! The kill moments come from a small PRNG whose seed is printed; `CRASH_TEST_SEED=<seed>`
//! replays the same moments (as far as timing allows).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use vocation::campaigns::runs::{self, CampaignInput, Schedule};

use crate::helpers::TestDatabase;
use crate::smtp_server::SmtpServer;

/// Prints a line to the CI log even when the test passes: libtest captures `eprintln!` (shown
/// only for failing tests or with `--nocapture`), not writes to the stderr handle itself.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Recipients of the run (set by the issue).
const RECIPIENTS: usize = 20_000;
/// SMTP connections of the service: each can have one message in flight at a kill.
const CONNECTIONS: usize = 4;
/// SIGKILLs, each while the run is still sending.
const KILLS: usize = 5;
/// How long a claim is leased: what a killed instance's claimed deliveries wait. A connection
/// starts no message after half of it, so half of it (2.5 s) is the margin a message in flight
/// has on a loaded machine before another connection may claim it too.
const LEASE_SECONDS: u64 = 5;
/// A kill comes this long (random, in ms) after the restarted service began to send…
const KILL_AFTER_MS: (u64, u64) = (300, 1500);
/// …or as soon as it sent this share of the run, so that every kill lands mid-run even on a
/// machine fast enough to send the whole run in a few seconds.
const MAX_SENT_PER_LIFE: usize = RECIPIENTS / (KILLS + 2);
/// Waits: for a restarted service to send its first message, and for the run to finish.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const FINISH_TIMEOUT: Duration = Duration::from_secs(180);

#[test]
fn a_campaign_survives_repeated_sigkills_without_losing_a_recipient() {
    let started = Instant::now();
    let seed = std::env::var("CRASH_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    report!("crash test: seed {seed} (CRASH_TEST_SEED={seed} to replay)");
    let mut rng = SplitMix64(seed);

    let db = TestDatabase::create();
    let mut conn = db.connect();
    let run = seed_campaign(&mut conn);
    assert_eq!(
        count(
            &mut conn,
            &format!("SELECT recipients FROM campaign_runs WHERE id = {run}")
        ),
        RECIPIENTS as i64,
        "the run materialised every recipient"
    );
    let seeded = started.elapsed();
    let smtp = SmtpServer::start_counting_only();

    let mut service = Service::new(&db.url, smtp.port);
    let mut kills = Vec::new();
    while kills.len() < KILLS {
        service.start();
        let life_base = smtp.count();
        let sending = service.wait_until(START_TIMEOUT, "the restarted service to send", || {
            smtp.count() > life_base
        });
        let delay = Duration::from_millis(rng.between(KILL_AFTER_MS.0, KILL_AFTER_MS.1));
        while sending.elapsed() < delay && smtp.count() - life_base < MAX_SENT_PER_LIFE {
            service.check_alive();
            std::thread::sleep(Duration::from_millis(5));
        }
        let pending = count(
            &mut conn,
            &format!(
                "SELECT count(*) FROM deliveries WHERE run_id = {run} AND status = 'en_attente'"
            ),
        );
        assert!(
            pending > 0,
            "the run finished after {} kills: the kills must land mid-run",
            kills.len()
        );
        service.kill();
        let sent = smtp.count();
        report!(
            "crash test: SIGKILL {} after {} ms of sending, {} messages received so far ({} in this life), {pending} deliveries pending",
            kills.len() + 1,
            sending.elapsed().as_millis(),
            sent,
            sent - life_base,
        );
        kills.push(sent);
    }

    service.start();
    service.wait_until(FINISH_TIMEOUT, "the run to finish", || {
        text(
            &mut conn,
            &format!("SELECT status FROM campaign_runs WHERE id = {run}"),
        )
        .as_deref()
            == Some("termine")
    });
    service.kill();
    let elapsed = started.elapsed();

    // What the SMTP server received.
    let per_recipient = smtp.per_recipient();
    let messages = smtp.count();
    let duplicates: usize = per_recipient.values().map(|n| n.saturating_sub(1)).sum();
    let received_ids = smtp.message_ids();
    let distinct_ids: HashSet<&String> = received_ids.iter().collect();
    // What the ledger says.
    let ledger = ledger(&mut conn, run);
    let resent = count(
        &mut conn,
        &format!("SELECT count(*) FROM deliveries WHERE run_id = {run} AND attempts > 1"),
    );
    report!(
        "crash test: {messages} messages for {} recipients, {duplicates} duplicates after {} SIGKILLs \
         ({:.2} per kill, bound {} per kill), {resent} deliveries claimed again after a lease; \
         seeding {:.1} s, total {:.1} s",
        per_recipient.len(),
        kills.len(),
        duplicates as f64 / kills.len() as f64,
        CONNECTIONS,
        seeded.as_secs_f64(),
        elapsed.as_secs_f64(),
    );

    let missing: Vec<&String> = ledger
        .iter()
        .filter(|d| !per_recipient.contains_key(&d.email))
        .map(|d| &d.email)
        .take(20)
        .collect();
    assert!(
        missing.is_empty(),
        "recipients who received nothing (first 20): {missing:?}"
    );
    assert_eq!(
        per_recipient.len(),
        RECIPIENTS,
        "exactly the run's recipients were mailed"
    );
    assert!(
        duplicates <= kills.len() * CONNECTIONS,
        "{duplicates} duplicates for {} kills of a service with {CONNECTIONS} connections; \
         duplicated (address, times received, attempts in the ledger), first 20: {:?}",
        kills.len(),
        duplicated(&per_recipient, &ledger)
    );
    assert_eq!(
        messages,
        RECIPIENTS + duplicates,
        "every message has one recipient"
    );

    let not_sent: Vec<(&str, &str)> = ledger
        .iter()
        .filter(|d| d.status != "envoye")
        .map(|d| (d.email.as_str(), d.status.as_str()))
        .take(20)
        .collect();
    assert!(
        not_sent.is_empty(),
        "deliveries not « envoye » (first 20): {not_sent:?}"
    );
    assert_eq!(ledger.len(), RECIPIENTS);

    // A duplicate is the same message sent again: the server saw exactly the ledger's
    // Message-IDs, one per delivery.
    assert_eq!(
        received_ids.len(),
        messages,
        "every message has a Message-ID"
    );
    assert_eq!(
        distinct_ids.len(),
        RECIPIENTS,
        "one Message-ID per recipient"
    );
    let ledger_ids: HashSet<&String> = ledger
        .iter()
        .map(|d| {
            d.message_id
                .as_ref()
                .expect("a sent delivery has its Message-ID")
        })
        .collect();
    assert_eq!(ledger_ids.len(), RECIPIENTS);
    assert!(
        distinct_ids == ledger_ids,
        "the Message-IDs received are the ledger's"
    );
}

// ---------------------------------------------------------------------------------------------
// The service under test

/// `vocation serve` as a child process, restarted at will; killed (SIGKILL) when dropped, so a
/// failing test never leaves it running. Its stderr goes to a file, printed when the test fails.
struct Service {
    database_url: String,
    smtp_port: u16,
    log: PathBuf,
    child: Option<Child>,
    lives: usize,
}

impl Service {
    fn new(database_url: &str, smtp_port: u16) -> Service {
        let log = std::env::temp_dir().join(format!(
            "vocation-crash-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        File::create(&log).expect("the service's log file");
        Service {
            database_url: database_url.to_owned(),
            smtp_port,
            log,
            child: None,
            lives: 0,
        }
    }

    fn start(&mut self) {
        assert!(self.child.is_none(), "the service is already running");
        self.lives += 1;
        let stderr = File::options()
            .append(true)
            .open(&self.log)
            .expect("the service's log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_vocation"));
        command.current_dir(env!("CARGO_MANIFEST_DIR"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("VOCATION") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        let lease = LEASE_SECONDS.to_string();
        let smtp_port = self.smtp_port.to_string();
        let connections = CONNECTIONS.to_string();
        command
            .arg("serve")
            .env("VOCATION_ENV", "test")
            .env("VOCATION__DATABASE__URL", &self.database_url)
            .env("VOCATION__HTTP__PORT", "0")
            .env("VOCATION__HTTP__PUBLIC_URL", "http://vocation.test")
            .env("VOCATION__MAIL__TRANSPORT", "smtp")
            .env("VOCATION__MAIL__SMTP__HOST", "127.0.0.1")
            .env("VOCATION__MAIL__SMTP__PORT", &smtp_port)
            .env("VOCATION__MAIL__SMTP__TLS", "none")
            .env("VOCATION__MAIL__WORKER__ENABLED", "false")
            .env("VOCATION__CAMPAIGNS__ENABLED", "true")
            .env("VOCATION__CAMPAIGNS__CONNECTIONS", &connections)
            .env("VOCATION__CAMPAIGNS__LEASE_SECONDS", &lease)
            .env("VOCATION__CAMPAIGNS__POLL_INTERVAL_MS", "100")
            .env("VOCATION__CAMPAIGNS__TICK_CRON", "")
            .env("VOCATION__SCHEDULER__DAILY_DIGEST_CRON", "")
            .env("VOCATION__SCHEDULER__OFFER_EXPIRY_CRON", "")
            .env("VOCATION__LOG__LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        self.child = Some(command.spawn().expect("starting vocation serve"));
    }

    /// SIGKILL, and reaps the process.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Panics (with the service's log) if the service stopped by itself.
    fn check_alive(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                panic!("vocation serve (life {}) exited: {status}", self.lives);
            }
        }
    }

    /// Polls `done` until it holds; returns when it started to hold. Panics after `timeout`
    /// or if the service exits meanwhile.
    fn wait_until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut done: impl FnMut() -> bool,
    ) -> Instant {
        let start = Instant::now();
        loop {
            if done() {
                return Instant::now();
            }
            self.check_alive();
            assert!(
                start.elapsed() < timeout,
                "waited {} s for {what} (life {})",
                timeout.as_secs(),
                self.lives
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let mut log = String::new();
            if let Ok(mut f) = File::open(&self.log) {
                let _ = f.read_to_string(&mut log);
            }
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(200)..];
            eprintln!(
                "---- vocation serve stderr ({} lives, last {} of {} lines) ----\n{}\n----",
                self.lives,
                tail.len(),
                lines.len(),
                tail.join("\n")
            );
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

// ---------------------------------------------------------------------------------------------
// Data

/// 20,000 contacts in one list, a template of realistic size, a campaign at a rate that does
/// not hold the senders back, scheduled « now » (its deliveries materialised). Returns the run.
fn seed_campaign(conn: &mut PgConnection) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let list = diesel::sql_query(
        "INSERT INTO contact_lists (name) VALUES ('Médecins retraités – France') RETURNING id",
    )
    .get_result::<Id>(conn)
    .unwrap()
    .id;
    diesel::sql_query(
        "WITH c AS ( \
             INSERT INTO contacts (email, first_name, last_name, kind, legal_basis, city) \
             SELECT 'medecin-' || i || '@example.org', 'Prénom' || i, 'Nom' || i, \
                    'medecin_retraite', 'interet_legitime', 'Auch' \
             FROM generate_series(1, $1) AS i RETURNING id) \
         INSERT INTO list_members (list_id, contact_id) SELECT $2, id FROM c",
    )
    .bind::<diesel::sql_types::Integer, _>(RECIPIENTS as i32)
    .bind::<BigInt, _>(list)
    .execute(conn)
    .unwrap();
    let template = diesel::sql_query(
        "INSERT INTO mail_templates (name, subject, body_text, body_html) \
         VALUES ('Retraités – automne', $1, $2, $3) RETURNING id",
    )
    .bind::<Text, _>(SUBJECT)
    .bind::<Text, _>(BODY_TEXT)
    .bind::<Text, _>(BODY_HTML)
    .get_result::<Id>(conn)
    .unwrap()
    .id;
    let campaign = runs::create(
        conn,
        &CampaignInput {
            name: "Médecins retraités – test de plantage".into(),
            template_id: template,
            list_ids: vec![list],
            sender_name: "Recrutement CDS32".into(),
            sender_email: "recrutement@vocation.test".into(),
            rate_per_minute: 1_000_000,
            schedule: Schedule::Now,
        },
        None,
    )
    .unwrap();
    runs::schedule(conn, campaign, Utc::now(), None).unwrap();
    count(
        conn,
        &format!("SELECT id FROM campaign_runs WHERE campaign_id = {campaign}"),
    )
}

const SUBJECT: &str = "{{prenom}}, exercer la médecine salariée dans le Gers";

const BODY_TEXT: &str = "Bonjour {{prenom}} {{nom}},

Le Centre départemental de santé du Gers recrute des médecins généralistes salariés pour ses \
centres d'Auch, Condom, Eauze, Fleurance, L'Isle-Jourdain, Lectoure, Mirande et Nogaro. Vous \
avez exercé à {{ville}} : votre expérience compte, et nous savons que beaucoup de médecins \
retraités souhaitent garder une activité à temps choisi, sans les contraintes d'un cabinet.

Ce que nous proposons :

- un exercice salarié, à temps plein ou partiel (deux jours par semaine, une semaine sur deux,
  ou quelques mois par an), compatible avec le cumul emploi-retraite ;
- un secrétariat médical, un logiciel métier et le matériel fournis, sans frais d'installation ;
- une équipe : infirmières en pratique avancée, assistants médicaux, autres médecins du centre ;
- pas de gardes ni d'astreintes imposées, des horaires fixés avec vous ;
- une rémunération sur la grille des praticiens contractuels, frais de déplacement pris en
  charge, et un logement meublé à disposition pour les séjours courts.

Le Gers manque de médecins : près d'un habitant sur dix n'a pas de médecin traitant. Chaque
demi-journée de consultation compte pour les patients du département.

Pour en savoir plus ou poser votre candidature (cinq minutes suffisent, sans CV obligatoire) :
{{lien_candidature}}

Nous vous rappelons sous une semaine pour un premier échange, sans engagement, et nous pouvons
organiser une visite d'un centre avec un médecin de l'équipe.

Bien cordialement,

Le service recrutement du Centre départemental de santé du Gers
81 route de Pessan, 32000 Auch – 05 62 67 40 40

Vous recevez ce message en tant que professionnel de santé, au titre de l'intérêt légitime du
Département à recruter des médecins. Pour ne plus recevoir nos messages :
{{lien_desinscription}}
";

const BODY_HTML: &str = r#"<p>Bonjour {{prenom}} {{nom}},</p>
<p>Le <strong>Centre départemental de santé du Gers</strong> recrute des médecins généralistes
salariés pour ses centres d'Auch, Condom, Eauze, Fleurance, L'Isle-Jourdain, Lectoure, Mirande et
Nogaro. Vous avez exercé à {{ville}}&nbsp;: votre expérience compte, et nous savons que beaucoup de
médecins retraités souhaitent garder une activité à temps choisi, sans les contraintes d'un
cabinet.</p>
<h2 style="font-size:18px;color:#1a4d2e;margin:24px 0 8px">Ce que nous proposons</h2>
<ul style="padding-left:20px;line-height:1.5">
  <li>un exercice salarié, à temps plein ou partiel (deux jours par semaine, une semaine sur deux,
  ou quelques mois par an), compatible avec le cumul emploi-retraite&nbsp;;</li>
  <li>un secrétariat médical, un logiciel métier et le matériel fournis, sans frais
  d'installation&nbsp;;</li>
  <li>une équipe&nbsp;: infirmières en pratique avancée, assistants médicaux, autres médecins du
  centre&nbsp;;</li>
  <li>pas de gardes ni d'astreintes imposées, des horaires fixés avec vous&nbsp;;</li>
  <li>une rémunération sur la grille des praticiens contractuels, frais de déplacement pris en
  charge, et un logement meublé à disposition pour les séjours courts.</li>
</ul>
<p>Le Gers manque de médecins&nbsp;: près d'un habitant sur dix n'a pas de médecin traitant.
Chaque demi-journée de consultation compte pour les patients du département.</p>
<p style="margin:28px 0;text-align:center">
  <a href="{{lien_candidature}}" style="background:#1a4d2e;color:#ffffff;padding:12px 24px;
  border-radius:4px;text-decoration:none;font-weight:bold">Je découvre les postes et je
  candidate</a>
</p>
<p>Cinq minutes suffisent, sans CV obligatoire. Nous vous rappelons sous une semaine pour un
premier échange, sans engagement, et nous pouvons organiser une visite d'un centre avec un
médecin de l'équipe.</p>
<p>Bien cordialement,</p>
<p>Le service recrutement du Centre départemental de santé du Gers<br>
81 route de Pessan, 32000 Auch – 05&nbsp;62&nbsp;67&nbsp;40&nbsp;40</p>
<hr style="border:none;border-top:1px solid #cccccc;margin:24px 0">
<p style="font-size:12px;color:#555555">Vous recevez ce message en tant que professionnel de
santé, au titre de l'intérêt légitime du Département à recruter des médecins.
<a href="{{lien_desinscription}}" style="color:#555555">Ne plus recevoir nos messages</a>.</p>
"#;

/// One row of the ledger.
#[derive(QueryableByName)]
struct Delivery {
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    message_id: Option<String>,
}

fn ledger(conn: &mut PgConnection, run: i64) -> Vec<Delivery> {
    diesel::sql_query(
        "SELECT lower(email) AS email, status, attempts, message_id FROM deliveries \
         WHERE run_id = $1 ORDER BY id",
    )
    .bind::<BigInt, _>(run)
    .load(conn)
    .expect("the ledger")
}

/// The recipients received more than once: (address, times received, attempts in the ledger).
fn duplicated(
    per_recipient: &HashMap<String, usize>,
    ledger: &[Delivery],
) -> Vec<(String, usize, i32)> {
    ledger
        .iter()
        .filter_map(|d| {
            let n = per_recipient.get(&d.email).copied().unwrap_or(0);
            (n > 1).then(|| (d.email.clone(), n, d.attempts))
        })
        .take(20)
        .collect()
}

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

fn text(conn: &mut PgConnection, sql: &str) -> Option<String> {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = Nullable<Text>)]
        t: Option<String>,
    }
    diesel::sql_query(format!("SELECT ({sql})::text AS t"))
        .get_result::<T>(conn)
        .expect("text query")
        .t
}

/// SplitMix64: enough randomness for kill moments, reproducible from the printed seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}
