use diesel::prelude::*;
use diesel_migrations::MigrationHarness;

use crate::helpers::TestDatabase;

#[test]
fn every_migration_runs_down_and_up_again() {
    let db = TestDatabase::create();
    let mut conn = db.connect();
    let applied = conn.applied_migrations().unwrap().len();
    assert!(applied >= 2);
    for _ in 0..applied {
        conn.revert_last_migration(vocation::db::MIGRATIONS)
            .unwrap();
    }
    assert!(conn.applied_migrations().unwrap().is_empty());
    let ran = vocation::db::run_migrations(&mut conn).unwrap();
    assert_eq!(ran, applied);
}

#[test]
fn reference_data_is_loaded_once_even_if_its_migration_runs_again() {
    let db = TestDatabase::create();
    let mut conn = db.connect();
    let up = include_str!("../../migrations/2026-11-22-000002_reference_data/up.sql");
    diesel::connection::SimpleConnection::batch_execute(&mut conn, up).unwrap();
    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        specialties: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        centres: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        general: i64,
    }
    let c: Counts = diesel::sql_query(
        "SELECT (SELECT count(*) FROM specialties) AS specialties, \
                (SELECT count(*) FROM centres) AS centres, \
                (SELECT count(*) FROM specialties WHERE general_practice) AS general",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(c.specialties, 95);
    assert_eq!(c.centres, 5);
    assert_eq!(c.general, 3);
}

#[test]
fn the_stage_history_refuses_rewrites() {
    let db = TestDatabase::create();
    let mut conn = db.connect();
    let err = diesel::sql_query("UPDATE stage_history SET note = 'x'").execute(&mut conn);
    // No rows yet: the trigger fires per row, so insert one through the demo loader first.
    assert!(err.is_ok());
    vocation::demo::load(&mut conn).unwrap();
    let err = diesel::sql_query("UPDATE stage_history SET note = 'réécrit'")
        .execute(&mut conn)
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}
