//! The synthetic candidates generator behind `vocation demo --candidats N` (load tests).

use std::collections::HashSet;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use vocation::db::schema::{applications, candidate_centres, candidates, stage_history};

use crate::helpers::TestDatabase;

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn scalar(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<N>(conn).unwrap().n
}

#[test]
fn generated_candidates_are_consistent_and_unique() {
    let db = TestDatabase::create();
    let mut conn = db.connect();
    vocation::demo::load(&mut conn).unwrap();
    let before: i64 = candidates::table.count().get_result(&mut conn).unwrap();

    let added = vocation::demo::generate_candidates(&mut conn, 500, 7).unwrap();
    assert_eq!(added, 500);
    // A second run, with the same seed, adds as many without any clash.
    let again = vocation::demo::generate_candidates(&mut conn, 300, 7).unwrap();
    assert_eq!(again, 300);

    let total: i64 = candidates::table.count().get_result(&mut conn).unwrap();
    assert_eq!(total, before + 800);
    let apps: i64 = applications::table.count().get_result(&mut conn).unwrap();
    assert_eq!(apps, total, "one application per candidate");
    let without_centre = scalar(
        &mut conn,
        "SELECT count(*) AS n FROM candidates c WHERE NOT EXISTS \
         (SELECT 1 FROM candidate_centres cc WHERE cc.candidate_id = c.id)",
    );
    assert_eq!(without_centre, 0, "every candidate wishes a centre");
    let wished: i64 = candidate_centres::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert!(wished > total, "some wish several centres: {wished}");

    // Every application's history starts at "nouvelle", chains from one step to the next and
    // ends at its stage, at the time it entered it.
    let bad_end = scalar(
        &mut conn,
        "SELECT count(*) AS n FROM applications a WHERE a.stage IS DISTINCT FROM \
         (SELECT h.to_stage FROM stage_history h WHERE h.application_id = a.id \
          ORDER BY h.created_at DESC, h.id DESC LIMIT 1) \
         OR a.stage_entered_at <> \
         (SELECT max(h.created_at) FROM stage_history h WHERE h.application_id = a.id)",
    );
    assert_eq!(bad_end, 0, "histories ending elsewhere than the stage");
    let bad_start = scalar(
        &mut conn,
        "SELECT count(*) AS n FROM applications a WHERE 'nouvelle' IS DISTINCT FROM \
         (SELECT h.to_stage FROM stage_history h WHERE h.application_id = a.id \
          ORDER BY h.created_at, h.id LIMIT 1)",
    );
    assert_eq!(bad_start, 0, "histories not starting at nouvelle");
    let broken_chain = scalar(
        &mut conn,
        "SELECT count(*) AS n FROM (SELECT from_stage, lag(to_stage) OVER \
         (PARTITION BY application_id ORDER BY created_at, id) AS previous \
         FROM stage_history) s WHERE from_stage IS DISTINCT FROM previous",
    );
    assert_eq!(
        broken_chain, 0,
        "a step not starting where the previous one ended"
    );
    let history: i64 = stage_history::table.count().get_result(&mut conn).unwrap();
    assert!(history > apps, "{history} steps for {apps} applications");

    // Spread over every stage.
    let stages: Vec<String> = applications::table
        .select(diesel::dsl::sql::<Text>("DISTINCT stage"))
        .load(&mut conn)
        .unwrap();
    assert_eq!(stages.len(), 10, "{stages:?}");

    // Unique e-mails and phones; about a quarter of the generated ones have a valid RPPS.
    let emails: Vec<String> = candidates::table
        .select(candidates::email_normalized)
        .load(&mut conn)
        .unwrap();
    let distinct: HashSet<&String> = emails.iter().collect();
    assert_eq!(distinct.len(), emails.len(), "duplicate e-mails");
    assert!(emails.iter().all(|e| e.ends_with("@exemple.test")));
    let phones: Vec<String> = candidates::table
        .select(candidates::phone_normalized)
        .load(&mut conn)
        .unwrap();
    let distinct: HashSet<&String> = phones.iter().collect();
    assert_eq!(distinct.len(), phones.len(), "duplicate phones");
    for phone in &phones {
        assert!(
            vocation::domain::PhoneNumber::parse(phone).is_ok(),
            "{phone}"
        );
    }
    let generated_rpps: Vec<Option<String>> = candidates::table
        .order(candidates::id.desc())
        .limit(800)
        .select(candidates::rpps)
        .load(&mut conn)
        .unwrap();
    let with_rpps: Vec<&String> = generated_rpps.iter().flatten().collect();
    assert!(
        (120..=280).contains(&with_rpps.len()),
        "{} RPPS numbers among 800",
        with_rpps.len()
    );
    for r in with_rpps {
        assert!(vocation::domain::Rpps::parse(r).is_ok(), "{r}");
    }
}

#[test]
fn demo_with_candidats_loads_the_demo_then_the_generated_candidates() {
    let db = TestDatabase::create();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vocation"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["demo", "--candidats", "40"])
        .env("VOCATION__DATABASE__URL", &db.url)
        .env("VOCATION__LOG__LEVEL", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("40 candidats générés"), "{stdout}");
    let mut conn = db.connect();
    let total: i64 = candidates::table.count().get_result(&mut conn).unwrap();
    let demo = vocation::demo::DEMO_EMAIL_DOMAIN;
    let generated: i64 = candidates::table
        .filter(candidates::email_normalized.like(format!("%.%.%@{demo}")))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert!((80..=110).contains(&total), "demo + 40: {total}");
    assert_eq!(generated, 40);
}
