//! The binary itself: start-up errors are one clear line.

use std::process::Command;

fn vocation() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vocation"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VOCATION") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn an_unreachable_database_is_reported_in_one_line_with_the_password_masked() {
    let out = vocation()
        .arg("migrate")
        .env(
            "VOCATION__DATABASE__URL",
            "postgres://alice:s3cret@127.0.0.1:1/vocation",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("PostgreSQL injoignable"), "{stderr}");
    assert!(
        lines[0].contains("postgres://alice:***@127.0.0.1:1/vocation"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"));
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_key() {
    let out = vocation()
        .arg("migrate")
        .env("VOCATION__HTTP__PORT", "quatre-vingt")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("http.port"), "{stderr}");

    let out = vocation()
        .arg("migrate")
        .env("VOCATION__MAIL__FROM", "pas une adresse")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("mail.from"), "{stderr}");
}

#[test]
fn user_add_creates_an_argon2id_account_and_refuses_unknown_roles() {
    let db = crate::helpers::TestDatabase::create();
    let out = vocation()
        .args([
            "user",
            "add",
            "--email",
            "rh@cds32.test",
            "--role",
            "sorcier",
        ])
        .env("VOCATION__DATABASE__URL", &db.url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rôle"));

    let out = vocation()
        .args([
            "user",
            "add",
            "--email",
            "rh@cds32.test",
            "--role",
            "recruteur",
        ])
        .env("VOCATION__DATABASE__URL", &db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Mot de passe"), "{stdout}");

    use diesel::prelude::*;
    let hash: String = vocation::db::schema::staff_users::table
        .select(vocation::db::schema::staff_users::password_hash)
        .first(&mut db.connect())
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

#[test]
fn demo_loads_about_fifty_candidates_once() {
    let db = crate::helpers::TestDatabase::create();
    let run = || {
        vocation()
            .arg("demo")
            .env("VOCATION__DATABASE__URL", &db.url)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("mot de passe"), "{stdout}");
    let second = run();
    assert!(second.status.success());
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(stdout.contains("déjà"), "{stdout}");
    assert!(
        !stdout.contains("mot de passe ("),
        "the password is printed once: {stdout}"
    );

    use diesel::prelude::*;
    use vocation::db::schema::{applications, candidates, stage_history};
    let mut conn = db.connect();
    let n: i64 = candidates::table.count().get_result(&mut conn).unwrap();
    assert!((45..=60).contains(&n), "{n}");
    let stages: Vec<String> = applications::table
        .select(diesel::dsl::sql::<diesel::sql_types::Text>(
            "DISTINCT stage",
        ))
        .load(&mut conn)
        .unwrap();
    assert!(stages.len() >= 8, "{stages:?}");
    let history: i64 = stage_history::table.count().get_result(&mut conn).unwrap();
    assert!(history > n);
}

#[tokio::test]
async fn the_logs_of_a_whole_application_hold_no_personal_data() {
    use std::io::{BufRead, BufReader, Read};

    use crate::helpers::{Fields, FormTokens, TempDir, TestDatabase};

    let db = TestDatabase::create();
    let scratch = TempDir::new();
    let mut child = vocation()
        .arg("serve")
        .env("VOCATION__DATABASE__URL", &db.url)
        .env("VOCATION__HTTP__PORT", "0")
        .env("VOCATION__LOG__LEVEL", "debug")
        .env("VOCATION__LOG__FORMAT", "json")
        .env("VOCATION__MAIL__OUTBOX_DIR", scratch.0.join("outbox"))
        .env(
            "VOCATION__STORAGE__DOCUMENTS_DIR",
            scratch.0.join("documents"),
        )
        .env("VOCATION__RECRUITERS__NOTIFY", "rh@cds32.test")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port: u16 = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let html = client
        .get(format!("{base}/candidature"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tokens = FormTokens::from_html(&html);
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", tokens.csrf)
        .text("soumission", tokens.soumission);
    for (k, v) in Fields::valid().iter() {
        form = form.text(k.clone(), v.clone());
    }
    let r = client
        .post(format!("{base}/candidature"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // The worker sends both e-mails into the outbox directory.
    for _ in 0..100 {
        let sent = std::fs::read_dir(scratch.0.join("outbox"))
            .map(|d| d.count())
            .unwrap_or(0);
        if sent >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("application recorded"), "{logs}");
    assert!(logs.contains("e-mail sent"), "{logs}");
    for personal in [
        "Claire",
        "Martin",
        "claire.martin",
        "exemple.fr",
        "06 12 34 56 78",
        "+33612345678",
        "10132437004",
        "rh@cds32.test",
    ] {
        assert!(
            !logs.contains(personal),
            "the logs contain {personal}:\n{logs}"
        );
    }
}

#[test]
fn migrate_creates_a_missing_database() {
    use diesel::prelude::*;
    let name = format!("vocation_created_{}", uuid::Uuid::new_v4().simple());
    let url = format!("postgres://postgres@localhost:5432/{name}?sslmode=disable");
    let out = vocation()
        .arg("migrate")
        .env("VOCATION__DATABASE__URL", &url)
        .output()
        .unwrap();
    let created = diesel::PgConnection::establish(&url).is_ok();
    let mut admin = diesel::PgConnection::establish(crate::helpers::ADMIN_URL).unwrap();
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(created);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Base de données à jour"));
}
