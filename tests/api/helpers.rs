//! Test harness: each test gets its own PostgreSQL database cloned from a migrated template,
//! the real server on port 0, and (when asked) a real SMTP server on a free port.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use diesel::prelude::*;
use diesel::PgConnection;
use mailin_embedded::response::{self, Response};
use mailin_embedded::{Handler, Server};
use secrecy::SecretString;
use vocation::config::{MailTransportKind, Settings, SmtpTls};
use vocation::mail::outbox::Dispatcher;
use vocation::startup::Application;

/// Tests talk to the local server without TLS: libpq would otherwise negotiate SSL through
/// OpenSSL, whose exit-time cleanup can race a pool thread still closing its connection when the
/// test process ends (a SIGSEGV after every test had passed, seen once in CI).
pub const ADMIN_URL: &str = "postgres://postgres@localhost:5432/postgres?sslmode=disable";
pub const RECRUITERS: &str = "recrutement@cds32.test";

fn base_url() -> String {
    std::env::var("VOCATION_TEST_DATABASE_ADMIN_URL").unwrap_or_else(|_| ADMIN_URL.to_owned())
}

fn with_database(name: &str) -> String {
    let mut url = url::Url::parse(&base_url()).expect("admin URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// A digest of the migrations compiled into the binary (what `run_migrations` applies): a new
/// migration means a new template database, even if the folder changed after the build.
fn migrations_fingerprint() -> String {
    use diesel::migration::MigrationSource;
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let migrations: Vec<_> =
        MigrationSource::<diesel::pg::Pg>::migrations(&vocation::db::MIGRATIONS)
            .expect("migrations");
    for m in migrations {
        hasher.update(m.name().to_string().as_bytes());
        hasher.update(b"\n");
    }
    // The SQL too: a migration edited before it lands must not reuse a stale template.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations directory")
        .filter_map(|e| e.ok().map(|e| e.path().join("up.sql")))
        .collect();
    files.sort();
    for f in files {
        hasher.update(std::fs::read(&f).unwrap_or_default());
    }
    hasher
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The migrated template database's name, created once (across test processes too: an
/// advisory lock serialises the creation).
pub fn template_database() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let name = format!("vocation_tmpl_{}", migrations_fingerprint());
        let mut admin = PgConnection::establish(&base_url()).expect(
            "PostgreSQL must run on localhost:5432 (see README: pg_ctlcluster … main start)",
        );
        diesel::sql_query("SELECT pg_advisory_lock(861370002)")
            .execute(&mut admin)
            .unwrap();
        #[derive(QueryableByName)]
        struct Db {
            #[diesel(sql_type = diesel::sql_types::Text)]
            datname: String,
        }
        // Templates of other migration sets are dropped only once they are a day old: another
        // checkout (a colleague's worktree) may be testing with them right now.
        let existing: Vec<Db> = diesel::sql_query(
            "SELECT datname::text AS datname FROM pg_database WHERE datname LIKE 'vocation_tmpl_%' \
             AND (datname = $1 OR coalesce(shobj_description(oid, 'pg_database'), '0')::bigint \
                  < extract(epoch FROM now())::bigint - 86400)",
        )
        .bind::<diesel::sql_types::Text, _>(&name)
        .load(&mut admin)
        .unwrap();
        let mut present = false;
        for db in existing {
            if db.datname == name {
                present = true;
            } else {
                // A template from older migrations.
                let _ = diesel::sql_query(format!("DROP DATABASE \"{}\" WITH (FORCE)", db.datname))
                    .execute(&mut admin);
            }
        }
        if !present {
            let building = format!("{name}_building");
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
            ))
            .execute(&mut admin);
            diesel::sql_query(format!("CREATE DATABASE \"{building}\""))
                .execute(&mut admin)
                .unwrap();
            {
                let mut conn = PgConnection::establish(&with_database(&building)).unwrap();
                vocation::db::run_migrations(&mut conn).expect("migrations");
            }
            diesel::sql_query(format!(
                "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
            ))
            .execute(&mut admin)
            .unwrap();
            // PostgreSQL's clock, shared by every checkout and the one the age is read with
            // above: a run with the process clock moved (tests/faketime.sh) must not make the
            // templates of a colleague's run look a day old.
            diesel::sql_query(format!(
                "DO $$ BEGIN EXECUTE format('COMMENT ON DATABASE %I IS %L', '{name}', \
                 extract(epoch FROM now())::bigint::text); END $$"
            ))
            .execute(&mut admin)
            .unwrap();
        }
        diesel::sql_query("SELECT pg_advisory_unlock(861370002)")
            .execute(&mut admin)
            .unwrap();
        name
    })
}

/// A fresh database for one test, dropped when the value is dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub fn create() -> TestDatabase {
        let template = template_database();
        let name = format!("vocation_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&base_url()).unwrap();
        diesel::sql_query(format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
        ))
        .execute(&mut admin)
        .expect("clone the template database");
        TestDatabase {
            url: with_database(&name),
            name,
        }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&base_url()) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// One message received by the test SMTP server.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl ReceivedMail {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a parsable message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed().body_text(0).unwrap_or_default().into_owned()
    }

    pub fn html(&self) -> String {
        self.parsed().body_html(0).unwrap_or_default().into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed().header_raw(name).map(|v| v.trim().to_owned())
    }
}

/// How the test SMTP server answers at the end of DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpBehaviour {
    Accept,
    /// 451: try again later.
    TempFail,
    /// 550 5.1.1: unknown mailbox.
    Reject,
}

#[derive(Clone)]
struct RecordingHandler {
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    behaviour: Arc<Mutex<SmtpBehaviour>>,
    current: Option<ReceivedMail>,
    hellos: Arc<Mutex<Vec<String>>>,
}

impl Handler for RecordingHandler {
    fn helo(&mut self, _ip: std::net::IpAddr, domain: &str) -> Response {
        self.hellos.lock().unwrap().push(domain.to_owned());
        response::OK
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(ReceivedMail {
            from: from.to_owned(),
            to: to.to_vec(),
            data: Vec::new(),
        });
        response::START_DATA
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(m) = self.current.as_mut() {
            m.data.extend_from_slice(buf);
        }
        Ok(())
    }

    // Refusals are given at RCPT, where real relays give most of them (and where mailin's state
    // machine lets the client QUIT cleanly afterwards).
    fn rcpt(&mut self, _to: &str) -> Response {
        match *self.behaviour.lock().unwrap() {
            SmtpBehaviour::Accept => response::OK,
            SmtpBehaviour::TempFail => Response::custom(451, "4.3.0 Try again later".to_owned()),
            SmtpBehaviour::Reject => Response::custom(550, "5.1.1 Unknown mailbox".to_owned()),
        }
    }

    fn data_end(&mut self) -> Response {
        if let Some(m) = self.current.take() {
            self.received.lock().unwrap().push(m);
        }
        response::OK
    }
}

/// A real SMTP server (mailin-embedded) on a free loopback port, recording what it accepts.
#[derive(Clone)]
pub struct TestSmtp {
    pub port: u16,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    behaviour: Arc<Mutex<SmtpBehaviour>>,
    hellos: Arc<Mutex<Vec<String>>>,
}

impl TestSmtp {
    pub fn start() -> TestSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(SmtpBehaviour::Accept));
        let hellos = Arc::new(Mutex::new(Vec::new()));
        let handler = RecordingHandler {
            received: received.clone(),
            behaviour: behaviour.clone(),
            current: None,
            hellos: hellos.clone(),
        };
        std::thread::spawn(move || {
            let mut server = Server::new(handler);
            server
                .with_name("smtp.test")
                .with_num_threads(2)
                .with_tcp_listener(listener);
            let _ = server.serve();
        });
        TestSmtp {
            port,
            received,
            behaviour,
            hellos,
        }
    }

    /// The names clients gave in HELO/EHLO, in order.
    pub fn hello_names(&self) -> Vec<String> {
        self.hellos.lock().unwrap().clone()
    }

    pub fn set_behaviour(&self, b: SmtpBehaviour) {
        *self.behaviour.lock().unwrap() = b;
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        self.received.lock().unwrap().clone()
    }

    pub fn received_by(&self, address: &str) -> Vec<ReceivedMail> {
        self.received()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Waits (up to 10 s) until `n` messages have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        for _ in 0..200 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.received()
    }
}

pub struct TestApp {
    pub address: String,
    pub db: TestDatabase,
    pub smtp: TestSmtp,
    pub dispatcher: Dispatcher,
    pub client: reqwest::Client,
    pub documents_dir: PathBuf,
    _scratch: TempDir,
}

/// A scratch directory removed at the end of the test.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p =
            std::env::temp_dir().join(format!("vocation-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A change to the test settings (see [`TestAppBuilder::adjust`]).
type Adjust = Arc<dyn Fn(&mut Settings) + Send + Sync>;

pub struct TestAppBuilder {
    form_burst: u32,
    worker: bool,
    recruiters: Vec<String>,
    digest_cron: String,
    database: Option<String>,
    workers: usize,
    body_timeout_seconds: Option<u64>,
    partners: Vec<vocation::config::PartnerSettings>,
    /// Changes a test makes to the settings before the application is built.
    adjust: Option<Adjust>,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            form_burst: 1000,
            worker: false,
            recruiters: vec![RECRUITERS.to_owned()],
            digest_cron: String::new(),
            database: None,
            workers: 0,
            body_timeout_seconds: None,
            partners: Vec::new(),
            adjust: None,
        }
    }

    pub async fn spawn() -> TestApp {
        Self::builder().spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_html(&self, path: &str) -> (u16, String) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    /// Loads the form and returns its hidden tokens (csrf, soumission).
    pub async fn form_tokens(&self, path: &str) -> FormTokens {
        let (status, html) = self.get_html(path).await;
        assert_eq!(status, 200, "{html}");
        FormTokens::from_html(&html)
    }

    /// Posts a multipart application with the given fields (tokens added) and optional CV.
    pub async fn post_application(
        &self,
        tokens: &FormTokens,
        fields: &Fields,
        cv: Option<(&str, Vec<u8>)>,
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new()
            .text("csrf", tokens.csrf.clone())
            .text("soumission", tokens.soumission.clone());
        for (k, v) in fields.iter() {
            form = form.text(k.clone(), v.clone());
        }
        if let Some((name, bytes)) = cv {
            form = form.part(
                "cv",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(name.to_owned())
                    .mime_str("application/pdf")
                    .unwrap(),
            );
        }
        self.client
            .post(self.url("/candidature"))
            .multipart(form)
            .send()
            .await
            .expect("POST /candidature")
    }

    /// Loads the form, then submits it: the usual journey.
    pub async fn apply(&self, fields: &Fields) -> reqwest::Response {
        let tokens = self.form_tokens("/candidature").await;
        self.post_application(&tokens, fields, None).await
    }

    /// Sends every queued e-mail now (the worker is off in tests unless asked for).
    pub async fn dispatch_all_pending_emails(&self) -> usize {
        self.dispatcher.dispatch_all().await.expect("dispatch")
    }

    pub fn conn(&self) -> PgConnection {
        self.db.connect()
    }

    pub fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
            .get_result::<N>(&mut self.conn())
            .expect("count query")
            .n
    }

    pub fn text(&self, sql: &str) -> Option<String> {
        #[derive(QueryableByName)]
        struct T {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            t: Option<String>,
        }
        diesel::sql_query(format!("SELECT ({sql})::text AS t"))
            .get_result::<T>(&mut self.conn())
            .expect("text query")
            .t
    }
}

impl TestAppBuilder {
    pub fn form_burst(mut self, n: u32) -> Self {
        self.form_burst = n;
        self
    }

    /// Answers requests with this many actix workers (0: one per core, the default).
    pub fn http_workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    pub fn with_worker(mut self) -> Self {
        self.worker = true;
        self
    }

    /// Runs the daily digest on this schedule (off by default in tests).
    pub fn digest_cron(mut self, cron: &str) -> Self {
        self.digest_cron = cron.to_owned();
        self
    }

    /// Shares another test app's database (a second instance of the service).
    pub fn database_of(mut self, other: &TestApp) -> Self {
        self.database = Some(other.db.url.clone());
        self
    }

    /// Uses this database instead of a clone of the template (a private PostgreSQL cluster).
    pub fn database_url(mut self, url: &str) -> Self {
        self.database = Some(url.to_owned());
        self
    }

    /// Seconds a request body may take to arrive (the configured default otherwise).
    pub fn body_timeout_seconds(mut self, seconds: u64) -> Self {
        self.body_timeout_seconds = Some(seconds);
        self
    }

    /// Partner sites of the open positions (open_web.partners).
    pub fn partners(mut self, partners: Vec<vocation::config::PartnerSettings>) -> Self {
        self.partners = partners;
        self
    }

    /// Changes the settings (after the test defaults) before the application is built.
    pub fn adjust(mut self, f: impl Fn(&mut Settings) + Send + Sync + 'static) -> Self {
        self.adjust = Some(Arc::new(f));
        self
    }

    pub fn recruiters(mut self, list: &[&str]) -> Self {
        self.recruiters = list.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn settings(&self, db: &TestDatabase, smtp: &TestSmtp, scratch: &TempDir) -> Settings {
        let mut s = Settings::load_for("test").expect("default settings");
        s.database.url = SecretString::from(db.url.clone());
        s.database.pool_size = 4;
        s.database.connect_timeout_seconds = 2;
        s.http.host = "127.0.0.1".into();
        s.http.port = 0;
        s.http.public_url = "http://vocation.test".into();
        s.http.form_burst = self.form_burst;
        s.http.form_replenish_seconds = 60;
        s.http.workers = self.workers;
        s.mail.transport = MailTransportKind::Smtp;
        s.mail.smtp.host = "127.0.0.1".into();
        s.mail.smtp.port = smtp.port;
        s.mail.smtp.tls = SmtpTls::None;
        s.mail.smtp.timeout_seconds = 5;
        s.mail.from = "Recrutement CDS32 <recrutement@vocation.test>".into();
        s.mail.worker.enabled = self.worker;
        s.mail.worker.poll_interval_seconds = 1;
        s.mail.outbox_dir = scratch.0.join("outbox");
        s.storage.documents_dir = scratch.0.join("documents");
        s.recruiters.notify = self.recruiters.clone();
        s.scheduler.daily_digest_cron = self.digest_cron.clone();
        s.scheduler.offer_expiry_cron = String::new();
        s.privacy.retention_cron = String::new();
        // Campaign senders are started by the tests that need them (see campaign_settings).
        s.campaigns.enabled = false;
        s.campaigns.tick_cron = String::new();
        if let Some(url) = &self.database {
            s.database.url = SecretString::from(url.clone());
        }
        if let Some(seconds) = self.body_timeout_seconds {
            s.http.body_timeout_seconds = seconds;
        }
        s.open_web.partners = self.partners.clone();
        if let Some(adjust) = &self.adjust {
            adjust(&mut s);
        }
        s.check().expect("test settings are valid");
        s
    }

    pub async fn spawn(self) -> TestApp {
        init_logs();
        let db = TestDatabase::create();
        let smtp = TestSmtp::start();
        let scratch = TempDir::new();
        let settings = self.settings(&db, &smtp, &scratch);
        let documents_dir = settings.storage.documents_dir.clone();
        let app = Application::build(settings)
            .await
            .expect("application builds");
        let port = app.port();
        let dispatcher = app.dispatcher.clone();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            db,
            smtp,
            dispatcher,
            client,
            documents_dir,
            _scratch: scratch,
        }
    }
}

fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var("TEST_LOG").is_ok() {
            vocation::telemetry::init(&vocation::config::LogSettings {
                format: vocation::config::LogFormat::Text,
                level: "debug".into(),
            });
        }
    });
}

/// The hidden tokens of a rendered form.
#[derive(Debug, Clone)]
pub struct FormTokens {
    pub csrf: String,
    pub soumission: String,
}

impl FormTokens {
    pub fn from_html(html: &str) -> FormTokens {
        let doc = scraper::Html::parse_document(html);
        let value = |name: &str| {
            let sel = scraper::Selector::parse(&format!("input[name={name}]")).unwrap();
            doc.select(&sel)
                .next()
                .and_then(|e| e.value().attr("value"))
                .unwrap_or_default()
                .to_owned()
        };
        FormTokens {
            csrf: value("csrf"),
            soumission: value("soumission"),
        }
    }
}

/// Form fields in order (a field may repeat, like `centres`).
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// A complete, valid application.
    pub fn valid() -> Fields {
        let mut f = Fields::default();
        for (k, v) in [
            ("civilite", "madame"),
            ("prenom", "Claire"),
            ("nom", "Martin"),
            ("courriel", "claire.martin@exemple.fr"),
            ("telephone", "06 12 34 56 78"),
            ("rpps", "10132437004"),
            ("specialite", "SM54"),
            ("situation", "remplacant"),
            ("disponibilite", ""),
            ("temps_travail", "temps_partiel"),
            ("demi_journees", "6"),
            ("garde", "oui"),
            ("message", "Je souhaite m'installer dans le Gers."),
            ("connaissance", "faculte"),
            ("consentement", "oui"),
            ("vivier", "oui"),
        ] {
            f.0.push((k.to_owned(), v.to_owned()));
        }
        for (k, v) in f.0.iter_mut() {
            if k == "disponibilite" {
                *v = available_from().to_string();
            }
        }
        f
    }

    pub fn set(mut self, key: &str, value: &str) -> Fields {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn without(mut self, key: &str) -> Fields {
        self.0.retain(|(k, _)| k != key);
        self
    }

    pub fn add(mut self, key: &str, value: &str) -> Fields {
        self.0.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter()
    }
}

/// The per-field error message shown next to `field`, if any.
pub fn field_error(html: &str, field: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#{field}-error")).unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_owned())
}

/// A small valid PDF.
pub fn tiny_pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

pub const STAFF_PASSWORD: &str = "un mot de passe assez long";

/// A client signed in as a staff member.
pub struct StaffClient {
    pub client: reqwest::Client,
    pub base: String,
}

impl StaffClient {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_html(&self, path: &str) -> (u16, String) {
        let r = self.get(path).await;
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{}", self.base, path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// The session's CSRF token, read from any staff page.
    pub async fn csrf(&self) -> String {
        let (_, html) = self.get_html("/recrutement").await;
        hidden_value(&html, "csrf")
    }

    /// The session's CSRF token, read from a page this member may see (`/espace` for all).
    pub async fn csrf_from(&self, path: &str) -> String {
        let (status, html) = self.get_html(path).await;
        assert_eq!(status, 200, "GET {path}: {html}");
        hidden_value(&html, "csrf")
    }

    pub async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}{}", self.base, path))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

pub fn hidden_value(html: &str, name: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("input[name={name}]")).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap_or_default()
        .to_owned()
}

impl TestApp {
    /// Creates a staff account; returns its id.
    pub fn create_staff(&self, email: &str, role: vocation::db::enums::StaffRole) -> i64 {
        vocation::staff::add_user(&mut self.conn(), email, "", role, STAFF_PASSWORD).unwrap()
    }

    /// Signs in through the login form; returns the client and the response to the POST.
    pub async fn sign_in(&self, email: &str, password: &str) -> (StaffClient, reqwest::Response) {
        // Idle connections are dropped before the server's keep-alive (5 s) closes them: a
        // test that works in the database for longer between two pages would otherwise send
        // its next request on a connection the server is closing (IncompleteMessage).
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap();
        let html = client
            .get(self.url("/connexion"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hidden_value(&html, "csrf");
        let r = client
            .post(self.url("/connexion"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("courriel", email),
                ("mot_de_passe", password),
                ("suite", "/recrutement"),
            ])
            .send()
            .await
            .unwrap();
        (
            StaffClient {
                client,
                base: self.address.clone(),
            },
            r,
        )
    }

    /// A new staff member with `role`, signed in.
    pub async fn staff(&self, role: vocation::db::enums::StaffRole) -> StaffClient {
        let email = format!(
            "{}-{}@cds32.test",
            role.code(),
            uuid::Uuid::new_v4().simple()
        );
        self.create_staff(&email, role);
        let (client, r) = self.sign_in(&email, STAFF_PASSWORD).await;
        assert_eq!(r.status(), 303, "sign-in as {}", role.code());
        client
    }
}

/// The process's clock as an SQL literal, for test data the code compares with its own clock:
/// PostgreSQL's `now()` does not move when the tests run under `faketime` (tests/faketime.sh).
pub fn sql_now() -> String {
    format!("'{}'::timestamptz", chrono::Utc::now().to_rfc3339())
}

/// Today in Paris by the process's clock, as an SQL date literal (see [`sql_now`]).
pub fn sql_today() -> String {
    format!(
        "DATE '{}'",
        chrono::Utc::now()
            .with_timezone(&chrono_tz::Europe::Paris)
            .date_naive()
    )
}

/// The day (in Paris) the test process started: computed once, so that a test running over
/// midnight sees one date.
pub fn test_day() -> chrono::NaiveDate {
    static DAY: OnceLock<chrono::NaiveDate> = OnceLock::new();
    *DAY.get_or_init(|| {
        chrono::Utc::now()
            .with_timezone(&chrono_tz::Europe::Paris)
            .date_naive()
    })
}

/// The availability date of [`Fields::valid`]: nine months after [`test_day`].
pub fn available_from() -> chrono::NaiveDate {
    test_day() + chrono::Duration::days(270)
}
