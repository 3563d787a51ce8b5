//! Running in production: the settings production refuses, JSON logs with request ids and no
//! personal data, and a graceful stop on SIGTERM. The service is the real binary
//! (`vocation serve`) where the process matters.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use vocation::config::{MailTransportKind, Settings};

use crate::helpers::{sql_now, Fields, FormTokens, TempDir, TestDatabase, TestSmtp};

const STRONG_KEY: &str = "Zq7u1v0LrQmX4c9T2yJk8sWbH3nFgPd6eA5oVtRiC0lMxN1pS7zUaYqE2wB4hKjG";

fn production_like() -> Settings {
    let mut s = Settings::load_for("test").expect("test settings");
    s.mail.transport = MailTransportKind::Smtp;
    s.mail.smtp.host = "smtp.gers.fr".into();
    s.mail.from = "Recrutement CDS32 <recrutement@gers.fr>".into();
    s.organisation.contact_email = "recrutement@gers.fr".into();
    s.http.public_url = "https://recrutement.gers.fr".into();
    s.security.secret_key = SecretString::from(STRONG_KEY.to_owned());
    s.metrics.token = SecretString::from("mT4q9ZfK2xV7bN1cR8wY3hJ6pL0sD5gA".to_owned());
    s
}

fn refusal(s: &Settings) -> String {
    s.check_production()
        .expect_err("production must refuse these settings")
        .to_string()
}

#[test]
fn production_settings_with_a_relay_a_strong_key_and_https_are_accepted() {
    let s = production_like();
    s.check().unwrap();
    s.check_production().unwrap();
    // Keys made the usual ways pass: hex and base64 of 32 or more random bytes.
    for key in [
        "9f2c4b7e1a0d3f6e8b5c2a9d7e4f1b3c6a8d0e2f4b6c8a1d3e5f7092b4c6d8e1",
        "u3H1w0sQ9dJ+Yk2bV7fM/8rT5nA6cX4pL1eZ0gR9iK3oW7yB2vN5mQ8tS6hD4jF=",
    ] {
        let mut s = production_like();
        s.security.secret_key = SecretString::from(key.to_owned());
        s.check_production().unwrap();
    }
}

#[test]
fn production_refuses_the_file_transport_naming_the_setting() {
    let mut s = production_like();
    s.mail.transport = MailTransportKind::File;
    let e = refusal(&s);
    assert!(e.contains("mail.transport"), "{e}");
    assert!(e.contains("smtp"), "{e}");
}

#[test]
fn production_refuses_the_development_key_and_weak_keys() {
    let development = Settings::load_for("development").unwrap();
    let mut s = production_like();
    s.security.secret_key = development.security.secret_key.clone();
    let e = refusal(&s);
    assert!(e.contains("security.secret_key"), "{e}");
    assert!(e.contains("développement"), "{e}");

    for (key, why) in [
        ("court-mais-varie-0123456789".to_owned(), "64"),
        ("a".repeat(80), "variée"),
        ("abcdefghij".repeat(7), "motif"),
        (format!("{}{}", "0".repeat(60), "123456789"), "prévisible"),
    ] {
        let mut s = production_like();
        s.security.secret_key = SecretString::from(key.clone());
        let e = refusal(&s);
        assert!(e.contains("security.secret_key"), "{key}: {e}");
        assert!(e.contains(why), "{key}: {e}");
        assert!(!e.contains(&key), "the key itself is never printed: {e}");
    }
}

#[test]
fn production_refuses_an_http_public_url_and_localhost_addresses() {
    let mut s = production_like();
    s.http.public_url = "http://recrutement.gers.fr".into();
    let e = refusal(&s);
    assert!(e.contains("http.public_url"), "{e}");
    assert!(e.contains("https"), "{e}");

    let mut s = production_like();
    s.mail.from = "Recrutement <recrutement@localhost>".into();
    let e = refusal(&s);
    assert!(e.contains("mail.from"), "{e}");

    let mut s = production_like();
    s.organisation.contact_email = "recrutement@localhost".into();
    let e = refusal(&s);
    assert!(e.contains("organisation.contact_email"), "{e}");
}

#[test]
fn production_loading_checks_the_shipped_defaults() {
    // config/production.toml over the defaults, without the secrets production must be given.
    let e = Settings::load_for("production")
        .expect_err("the development key is refused")
        .to_string();
    assert!(e.contains("security.secret_key"), "{e}");
}

fn vocation() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vocation"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("VOCATION") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn vocation_serve_refuses_to_start_in_production_with_bad_settings() {
    for (key, value, named) in [
        ("VOCATION__MAIL__TRANSPORT", "file", "mail.transport"),
        (
            "VOCATION__SECURITY__SECRET_KEY",
            &"x".repeat(70),
            "security.secret_key",
        ),
        (
            "VOCATION__HTTP__PUBLIC_URL",
            "http://recrutement.gers.fr",
            "http.public_url",
        ),
    ] {
        let out = vocation()
            .arg("serve")
            .env("VOCATION_ENV", "production")
            .env("VOCATION__SECURITY__SECRET_KEY", STRONG_KEY)
            .env("VOCATION__HTTP__PUBLIC_URL", "https://recrutement.gers.fr")
            .env("VOCATION__MAIL__FROM", "Recrutement <recrutement@gers.fr>")
            .env(
                "VOCATION__ORGANISATION__CONTACT_EMAIL",
                "recrutement@gers.fr",
            )
            .env(
                "VOCATION__DATABASE__URL",
                "postgres://postgres@127.0.0.1:1/jamais",
            )
            .env(key, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{key}={value} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(named), "{stderr}");
        assert!(stderr.contains("production"), "{stderr}");
    }
}

/// `vocation serve` on a test database, its stderr (the logs) in a file.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
    _scratch: TempDir,
}

impl Serve {
    fn start(db: &TestDatabase, extra: &[(&str, &str)]) -> Serve {
        let scratch = TempDir::new();
        let log = scratch.0.join("stderr.log");
        let stderr = std::fs::File::create(&log).unwrap();
        let mut command = vocation();
        command
            .arg("serve")
            .env("VOCATION_ENV", "test")
            .env("VOCATION__DATABASE__URL", &db.url)
            .env("VOCATION__DATABASE__POOL_SIZE", "4")
            .env("VOCATION__HTTP__PORT", "0")
            .env("VOCATION__HTTP__PUBLIC_URL", "http://vocation.test")
            .env("VOCATION__MAIL__OUTBOX_DIR", scratch.0.join("outbox"))
            .env(
                "VOCATION__STORAGE__DOCUMENTS_DIR",
                scratch.0.join("documents"),
            )
            .env("VOCATION__MAIL__WORKER__ENABLED", "false")
            .env("VOCATION__CAMPAIGNS__ENABLED", "false")
            .env("VOCATION__CAMPAIGNS__TICK_CRON", "")
            .env("VOCATION__SCHEDULER__DAILY_DIGEST_CRON", "")
            .env("VOCATION__SCHEDULER__OFFER_EXPIRY_CRON", "")
            .env("VOCATION__LOG__FORMAT", "json")
            .env("VOCATION__LOG__LEVEL", "info");
        for (k, v) in extra {
            command.env(k, v);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("starting vocation serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("vocation serve did not start: {}", read(&log)));
        let port = line
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in « {line} »"));
        Serve {
            child,
            port,
            log,
            _scratch: scratch,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Sends a signal by name (TERM, INT).
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (panics after a minute).
    fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "vocation serve did not stop: {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn logs(&self) -> String {
        read(&self.log)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &PathBuf) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

fn request_id(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-request-id")
        .expect("every response carries X-Request-Id")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_no_personal_data_or_tokens() {
    let db = TestDatabase::create();
    let mut serve = Serve::start(&db, &[]);
    let client = client();

    let r = client.get(serve.url("/candidature")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let form_id = request_id(&r);
    let tokens = FormTokens::from_html(&r.text().await.unwrap());
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", tokens.csrf.clone())
        .text("soumission", tokens.soumission.clone());
    for (k, v) in Fields::valid().iter() {
        form = form.text(k.clone(), v.clone());
    }
    let r = client
        .post(serve.url("/candidature"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let post_id = request_id(&r);
    assert_ne!(form_id, post_id);
    // Paths with a private token and query strings with personal data.
    let token = "jeton-prive-4c1f9e7a2b";
    let r = client
        .get(serve.url(&format!("/desinscription/{token}")))
        .send()
        .await
        .unwrap();
    let unsubscribe_id = request_id(&r);
    let r = client
        .get(serve.url("/candidature?courriel=claire.martin%40exemple.fr&nom=Martin"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(db_count(&db, "SELECT count(*) FROM applications"), 1);

    // Ctrl-C stops the service cleanly too.
    serve.signal("INT");
    assert!(serve.wait_exit().success(), "{}", serve.logs());
    let logs = serve.logs();

    let mut answered = std::collections::HashMap::new();
    let mut recorded = None;
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
        assert!(
            entry["level"].is_string() && entry["timestamp"].is_string(),
            "{line}"
        );
        let span = &entry["span"];
        if entry["message"] == "request answered" {
            let id = span["request_id"].as_str().expect("request id").to_owned();
            answered.insert(id, span["route"].as_str().unwrap_or_default().to_owned());
        }
        if entry["message"] == "application recorded" {
            recorded = span["request_id"].as_str().map(str::to_owned);
        }
    }
    assert_eq!(
        answered.get(&form_id).map(String::as_str),
        Some("/candidature")
    );
    assert_eq!(
        answered.get(&post_id).map(String::as_str),
        Some("/candidature")
    );
    assert_eq!(
        answered.get(&unsubscribe_id).map(String::as_str),
        Some("/desinscription/{token}")
    );
    assert_eq!(recorded.as_deref(), Some(post_id.as_str()), "{logs}");
    for leak in [
        "Claire",
        "claire",
        "Martin",
        "exemple.fr",
        "06 12 34 56 78",
        "10132437004",
        token,
        "courriel=",
    ] {
        assert!(!logs.contains(leak), "the logs contain « {leak} »:\n{logs}");
    }
}

fn db_count(db: &TestDatabase, sql: &str) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
        .get_result::<N>(&mut db.connect())
        .unwrap()
        .n
}

/// The status of an interim (1xx) response, which has no body.
fn read_interim(stream: &mut TcpStream) -> u16 {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "connection closed");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line: {head}"))
}

/// One HTTP/1.1 response read from a raw connection (the service always sends Content-Length
/// for these pages): status and body.
fn read_response(stream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("reading the response head");
        assert_eq!(
            n,
            1,
            "connection closed mid-response: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line: {head}"));
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Content-Length: {head}"));
    let mut body = vec![0_u8; length];
    stream.read_exact(&mut body).unwrap();
    (status, body)
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish_then_exits_0() {
    let db = TestDatabase::create();
    let smtp = TestSmtp::start();
    let smtp_port = smtp.port.to_string();
    let mut serve = Serve::start(
        &db,
        &[
            ("VOCATION__MAIL__WORKER__ENABLED", "true"),
            ("VOCATION__MAIL__TRANSPORT", "smtp"),
            ("VOCATION__MAIL__SMTP__HOST", "127.0.0.1"),
            ("VOCATION__MAIL__SMTP__PORT", &smtp_port),
            ("VOCATION__MAIL__SMTP__TLS", "none"),
        ],
    );

    // The form's tokens and cookie, as a browser would have them.
    let r = reqwest::get(serve.url("/candidature")).await.unwrap();
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let tokens = FormTokens::from_html(&r.text().await.unwrap());
    let boundary = "----vocation-arret-propre";
    let mut body = String::new();
    let mut fields = vec![
        ("csrf".to_owned(), tokens.csrf.clone()),
        ("soumission".to_owned(), tokens.soumission.clone()),
    ];
    fields.extend(Fields::valid().iter().cloned());
    for (k, v) in &fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let body = body.into_bytes();

    let port = serve.port;
    let cookie = cookies.join("; ");
    let in_flight = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        // A first request on the connection: the server has accepted it before the signal.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: vocation.test\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut stream).0, 200);
        // Then the application, its body sent in two halves around the signal.
        // With `Expect: 100-continue` the server says when it has read the head and begun
        // the request: from then on the request is in flight.
        let head = format!(
            "POST /candidature HTTP/1.1\r\nHost: vocation.test\r\nCookie: {cookie}\r\n\
             Content-Type: multipart/form-data; boundary={boundary}\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        assert_eq!(read_interim(&mut stream), 100);
        let half = body.len() / 2;
        stream.write_all(&body[..half]).unwrap();
        stream.flush().unwrap();
        (stream, body, half)
    })
    .join()
    .unwrap();
    let (mut stream, body, half) = in_flight;

    serve.signal("TERM");
    // The server stops accepting: new connections are refused soon after the signal.
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still accepting after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The request in flight is still served to the end.
    stream.write_all(&body[half..]).unwrap();
    let (status, answer) = read_response(&mut stream);
    assert_eq!(status, 303, "{}", String::from_utf8_lossy(&answer));
    drop(stream);

    let exit = serve.wait_exit();
    assert!(exit.success(), "exit {exit}: {}", serve.logs());
    assert_eq!(db_count(&db, "SELECT count(*) FROM applications"), 1);
    let logs = serve.logs();
    assert!(logs.contains("HTTP server stopped"), "{logs}");
    assert!(logs.contains("mail worker stopped"), "{logs}");
    // The mail worker left no claim behind: each message was sent, or is pending unclaimed
    // for the next start.
    assert_eq!(
        db_count(
            &db,
            &format!(
                "SELECT count(*) FROM outbound_emails WHERE locked_until > {} \
             OR status NOT IN ('sent', 'pending')",
                sql_now()
            )
        ),
        0
    );
    let sent = db_count(
        &db,
        "SELECT count(*) FROM outbound_emails WHERE status = 'sent'",
    );
    assert_eq!(smtp.received().len() as i64, sent);
}

#[tokio::test]
async fn a_stopping_mail_worker_finishes_its_message_and_releases_the_rest_of_its_claim() {
    use crate::smtp_server::{Behaviour, SmtpServer};
    let app = crate::helpers::TestApp::spawn().await;
    for (i, email) in ["a.durand@exemple.fr", "b.petit@exemple.fr"]
        .iter()
        .enumerate()
    {
        let fields = Fields::valid()
            .set("courriel", email)
            .set("telephone", &format!("06 12 34 56 7{i}"))
            .without("rpps");
        assert_eq!(app.apply(&fields).await.status(), 303);
    }
    let queued = app.count("SELECT count(*) FROM outbound_emails WHERE status = 'pending'");
    assert!(queued >= 3, "{queued}");

    // A relay that takes its time over each message: the stop comes while the first is sent.
    let smtp = SmtpServer::start();
    smtp.set_default(Behaviour::Slow(Duration::from_millis(500)));
    let mut settings = Settings::load_for("test").unwrap();
    settings.mail.transport = MailTransportKind::Smtp;
    settings.mail.smtp.host = "127.0.0.1".into();
    settings.mail.smtp.port = smtp.port;
    settings.mail.smtp.tls = vocation::config::SmtpTls::None;
    let mut dispatcher = app.dispatcher.clone();
    dispatcher.mailer = vocation::mail::Mailer::from_settings(&settings).unwrap();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(dispatcher.clone().run(
        std::sync::Arc::new(tokio::sync::Notify::new()),
        Duration::from_secs(60),
        stopped,
    ));
    let start = Instant::now();
    while smtp.connections_open() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the worker never connected"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("the worker stops")
        .unwrap();

    // The message in flight went out and is recorded; the others are free again, untried.
    assert_eq!(smtp.count(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE status = 'sent'"),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM outbound_emails WHERE status = 'pending' \
             AND locked_until IS NULL AND attempts = 0"
        ),
        queued - 1
    );
    // The next worker sends them at once.
    smtp.set_default(Behaviour::Accept);
    assert_eq!(dispatcher.dispatch_all().await.unwrap() as i64, queued - 1);
}
