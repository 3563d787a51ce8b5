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
