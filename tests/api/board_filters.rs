//! The board filtered on the candidate (issue 18): the applications' copies of their
//! candidate's working time, situation, specialty and wished centres, and the ledger of counts
//! per filter value (migration 000031), stay exact through every kind of write — the form, bulk
//! inserts, moves at once with folds, a candidate's edit, wished centres changed, a merge,
//! deletions — checked against counts made on the candidates themselves.

use diesel::connection::SimpleConnection;
use vocation::db::enums::{Situation, StaffRole, WorkingTime};
use vocation::pipeline::board::{board, BoardFilter};

use crate::helpers::{Fields, TestApp};

fn exec(app: &TestApp, sql: &str) {
    app.conn()
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// One filter of the board and the same condition written on the candidate's own record.
fn filters(app: &TestApp) -> Vec<(BoardFilter, String)> {
    let mut list = Vec::new();
    for wt in WorkingTime::ALL {
        list.push((
            BoardFilter {
                temps: wt.code().to_owned(),
                ..BoardFilter::default()
            },
            format!("c.working_time = '{}'", wt.code()),
        ));
    }
    for s in Situation::ALL {
        list.push((
            BoardFilter {
                situation: s.code().to_owned(),
                ..BoardFilter::default()
            },
            format!("c.situation = '{}'", s.code()),
        ));
    }
    list.push((
        BoardFilter {
            specialite: "MG".to_owned(),
            ..BoardFilter::default()
        },
        "c.specialty_code IN (SELECT code FROM specialties WHERE general_practice)".to_owned(),
    ));
    for code in ["SM54", "SM01", "SM40"] {
        list.push((
            BoardFilter {
                specialite: code.to_owned(),
                ..BoardFilter::default()
            },
            format!("c.specialty_code = '{code}'"),
        ));
    }
    let centres: Vec<i64> = (1..=app.count("SELECT count(*) FROM centres"))
        .map(|n| {
            app.count(&format!(
                "SELECT id FROM centres ORDER BY id OFFSET {} LIMIT 1",
                n - 1
            ))
        })
        .collect();
    for centre in &centres {
        list.push((
            BoardFilter {
                centre: centre.to_string(),
                ..BoardFilter::default()
            },
            format!(
                "EXISTS (SELECT 1 FROM candidate_centres cc WHERE cc.candidate_id = c.id \
                 AND cc.centre_id = {centre})"
            ),
        ));
    }
    // Two filters at once, and one with the source (not from the ledger).
    list.push((
        BoardFilter {
            temps: "temps_partiel".to_owned(),
            centre: centres[0].to_string(),
            ..BoardFilter::default()
        },
        format!(
            "c.working_time = 'temps_partiel' AND EXISTS (SELECT 1 FROM candidate_centres cc \
             WHERE cc.candidate_id = c.id AND cc.centre_id = {})",
            centres[0]
        ),
    ));
    list.push((
        BoardFilter {
            situation: "remplacant".to_owned(),
            source: "faculte".to_owned(),
            ..BoardFilter::default()
        },
        "c.situation = 'remplacant' AND (a.heard_from = 'faculte' OR a.utm_source = 'faculte' \
         OR a.utm_campaign = 'faculte')"
            .to_owned(),
    ));
    list
}

/// Every filter's board against the same counts made on the candidates: the differences, and
/// how many applications the filters matched in all (so that an empty board cannot pass).
fn disagreements(app: &TestApp) -> (Vec<String>, i64) {
    let mut conn = app.conn();
    let mut wrong = Vec::new();
    let mut matched = 0;
    for (filter, condition) in filters(app) {
        let (columns, _) = board(&mut conn, &filter).expect("board");
        // "stage=n,stage=n" counted on the candidates.
        let truth = app
            .text(&format!(
                "SELECT coalesce(string_agg(stage || '=' || n, ','), '') FROM ( \
                 SELECT a.stage, count(*) AS n FROM applications a \
                 JOIN candidates c ON c.id = a.candidate_id WHERE {condition} \
                 GROUP BY a.stage) t"
            ))
            .unwrap_or_default();
        let truth_of = |stage: &str| -> i64 {
            truth
                .split(',')
                .filter_map(|p| p.split_once('='))
                .find(|(s, _)| *s == stage)
                .map_or(0, |(_, n)| n.parse().unwrap())
        };
        let mut shown = Vec::new();
        for column in &columns {
            let truth = truth_of(column.stage.code());
            matched += truth;
            if column.count != truth {
                wrong.push(format!(
                    "{filter:?} {}: board {} ≠ {truth}",
                    column.stage.code(),
                    column.count
                ));
            }
            let cards = column.cards.len() as i64;
            if cards != truth.min(vocation::pipeline::board::CARDS_PER_COLUMN) {
                wrong.push(format!(
                    "{filter:?} {}: {cards} cards for {truth}",
                    column.stage.code()
                ));
            }
            shown.extend(column.cards.iter().map(|c| c.application_id.to_string()));
        }
        if !shown.is_empty() {
            let fitting = app.count(&format!(
                "SELECT count(*) FROM applications a JOIN candidates c ON c.id = a.candidate_id \
                 WHERE a.id IN ({}) AND {condition}",
                shown.join(",")
            ));
            if fitting != shown.len() as i64 {
                wrong.push(format!(
                    "{filter:?}: {} of {} cards do not match",
                    shown.len() as i64 - fitting,
                    shown.len()
                ));
            }
        }
    }
    (wrong, matched)
}

fn assert_agree(app: &TestApp, when: &str) {
    let (wrong, matched) = disagreements(app);
    assert!(wrong.is_empty(), "{when}: {wrong:#?}");
    assert!(matched > 0, "{when}: the filters matched nothing");
}

/// Applies through the form with one doctor's values; returns the candidate's id.
async fn applied(app: &TestApp, n: u32, specialty: &str, situation: &str, wt: &str) -> i64 {
    let centres: Vec<String> = (0..(n % 3))
        .map(|k| {
            app.count(&format!(
                "SELECT id FROM centres ORDER BY id OFFSET {} LIMIT 1",
                (n + k) % 5
            ))
            .to_string()
        })
        .collect();
    let mut fields = Fields::valid()
        .set("prenom", "Paul")
        .set("nom", &format!("Durand{n}"))
        .set("courriel", &format!("paul.durand{n}@exemple.fr"))
        .set("telephone", &format!("06 22 33 44 {:02}", 10 + n))
        .without("rpps")
        .set("specialite", specialty)
        .set("situation", situation)
        .set("temps_travail", wt);
    if wt == "temps_plein" {
        fields = fields.without("demi_journees");
    }
    for c in &centres {
        fields = fields.add("centres", c);
    }
    let r = app.apply(&fields).await;
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
    app.count("SELECT max(candidate_id) FROM applications")
}

#[tokio::test]
async fn filtered_counts_and_cards_stay_exact_through_every_kind_of_write() {
    let app = TestApp::spawn().await;
    let doctors = [
        ("SM54", "remplacant", "temps_partiel"),
        ("SM01", "interne", "temps_plein"),
        ("SM54", "liberal", "temps_plein"),
        ("SM40", "remplacant", "temps_partiel"),
        ("SM01", "retraite", "temps_partiel"),
        ("SM54", "salarie", "temps_plein"),
    ];
    let mut ids = Vec::new();
    for (n, (specialty, situation, wt)) in doctors.iter().enumerate() {
        ids.push(applied(&app, n as u32 + 1, specialty, situation, wt).await);
    }
    assert_agree(&app, "after the form");

    // 300 more applications in one statement, spread over the stages.
    exec(
        &app,
        "INSERT INTO applications (candidate_id, stage, submission_key, privacy_notice_version, \
         privacy_accepted_at, heard_from) \
         SELECT a.candidate_id, (ARRAY['nouvelle', 'premier_contact', 'entretien', 'visite', \
         'refusee', 'vivier'])[1 + i % 6], gen_random_uuid(), a.privacy_notice_version, \
         a.privacy_accepted_at, CASE WHEN i % 4 = 0 THEN 'faculte' END \
         FROM applications a, generate_series(1, 50) i",
    );
    assert_agree(&app, "after a bulk insert");

    // Eight connections moving applications at once, with folds of the ledger.
    let first = app.count("SELECT min(id) FROM applications");
    let total = app.count("SELECT count(*) FROM applications");
    let stages = [
        "nouvelle",
        "premier_contact",
        "entretien",
        "visite",
        "refusee",
        "desistement",
        "vivier",
    ];
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let mut conn = app.conn();
            std::thread::spawn(move || {
                use diesel::{Connection, RunQueryDsl};
                let mut x = t * 7919 + 1;
                for _ in 0..40 {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let a = first + (x >> 33) as i64 % total;
                    let b = first + (x >> 17) as i64 % total;
                    let (s, u) = (stages[(x >> 5) as usize % 7], stages[(x >> 9) as usize % 7]);
                    conn.transaction::<_, diesel::result::Error, _>(|conn| {
                        diesel::sql_query(format!(
                            "UPDATE applications SET stage = '{s}' WHERE id = {a}"
                        ))
                        .execute(conn)?;
                        diesel::sql_query(format!(
                            "UPDATE applications SET stage = '{u}' WHERE id = {b}"
                        ))
                        .execute(conn)
                    })
                    .unwrap();
                    if x.is_multiple_of(8) {
                        diesel::sql_query("SELECT stage_filter_counts_fold()")
                            .execute(&mut conn)
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_agree(&app, "after moves at once and folds");

    // A recruiter edits a candidate (working time, situation, specialty change).
    exec(
        &app,
        &format!(
            "UPDATE candidates SET working_time = 'temps_plein', part_time_half_days = NULL, \
             situation = 'salarie', specialty_code = 'SM40' WHERE id = {}",
            ids[0]
        ),
    );
    assert_agree(&app, "after a candidate's edit");

    // Wished centres removed and added.
    exec(
        &app,
        &format!(
            "DELETE FROM candidate_centres WHERE candidate_id = {}; \
             INSERT INTO candidate_centres (candidate_id, centre_id) \
             SELECT {}, id FROM centres ON CONFLICT DO NOTHING",
            ids[1], ids[2]
        ),
    );
    assert_agree(&app, "after wished centres changed");

    // A merge by a recruiter: the applications and wished centres of one record go to the other.
    let actor = app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    vocation::candidates::merge(
        &mut app.conn(),
        actor,
        vocation::domain::ids::CandidateId(ids[3]),
        vocation::domain::ids::CandidateId(ids[4]),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM candidates WHERE id = {}",
            ids[4]
        )),
        0
    );
    assert_agree(&app, "after a merge");

    // Deletions.
    exec(&app, "DELETE FROM applications WHERE id % 7 = 0");
    assert_agree(&app, "after deletions");
    exec(&app, "SELECT stage_filter_counts_fold()");
    assert_agree(&app, "after a fold");
    assert!(
        app.count("SELECT count(*) FROM stage_filter_counts") > 0,
        "the ledger is in use"
    );
    // Nothing else than the triggers writes the copies: they equal the candidates' values.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM applications a JOIN candidates c ON c.id = a.candidate_id \
             WHERE (a.candidate_working_time, a.candidate_situation, a.candidate_specialty, \
                    a.candidate_centres) IS DISTINCT FROM \
                   (c.working_time, c.situation, c.specialty_code, \
                    ARRAY(SELECT centre_id FROM candidate_centres cc \
                          WHERE cc.candidate_id = c.id ORDER BY centre_id))"
        ),
        0
    );
}

#[tokio::test]
async fn the_filtered_board_page_answers_from_the_ledger_and_shows_the_matching_cards() {
    let app = TestApp::spawn().await;
    applied(&app, 1, "SM54", "remplacant", "temps_partiel").await;
    applied(&app, 2, "SM01", "interne", "temps_plein").await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let (status, html) = staff.get_html("/recrutement?temps=temps_partiel").await;
    assert_eq!(status, 200);
    assert!(html.contains("Paul Durand1"));
    assert!(!html.contains("Paul Durand2"));
    // A ledger row changed by hand shows on the page: the count comes from the ledger.
    exec(
        &app,
        "INSERT INTO stage_filter_counts (dimension, value, stage, delta) \
         VALUES ('temps', 'temps_partiel', 'nouvelle', 41)",
    );
    let (_, html) = staff.get_html("/recrutement?temps=temps_partiel").await;
    assert!(
        html.contains("Nouvelle <span class=\"count\">42</span>"),
        "the ledger's count is shown"
    );
}
