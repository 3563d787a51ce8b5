//! Thousands of synthetic candidates for load tests, written by multi-row INSERTs.

use anyhow::Context;
use chrono::{Duration, Utc};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::candidates::{path_to, STAGE_SPREAD};
use super::names::{
    ascii_local, pick, synthetic_rpps, DEMO_EMAIL_DOMAIN, FIRST_NAMES, LAST_NAMES, MESSAGES,
    MORE_FIRST_NAMES, MORE_LAST_NAMES,
};
use crate::db::enums::{Civility, HeardFrom, Situation, Stage, WorkingTime};
use crate::db::schema::{
    applications, candidate_centres, candidates, centres, positions, stage_history,
};
use crate::pipeline::{REFUSAL_REASONS, WITHDRAWAL_REASONS};

/// Specialties of generated candidates, repeated by weight: mostly general practice.
const GEN_SPECIALTIES: &[&str] = &[
    "SM54", "SM54", "SM54", "SM54", "SM54", "SM54", "SM54", "SM54", "SM53", "SM53", "SM26", "SM40",
    "SM40", "SM42", "SM18", "SM04", "SM19", "SM32", "SM15", "SM41", "SM48", "SM27",
];

/// Rows per multi-row INSERT: far below PostgreSQL's 65,535 bind parameters.
const GEN_BATCH: usize = 1_000;

#[derive(Insertable)]
#[diesel(table_name = candidates)]
struct GenCandidate {
    civility: Civility,
    first_name: &'static str,
    last_name: &'static str,
    email: String,
    email_normalized: String,
    phone: String,
    phone_normalized: String,
    rpps: Option<String>,
    specialty_code: &'static str,
    situation: Situation,
    available_from: Option<chrono::NaiveDate>,
    working_time: WorkingTime,
    part_time_half_days: Option<i16>,
    on_call: bool,
    intern_training: bool,
    pool_consent_at: Option<chrono::DateTime<Utc>>,
    created_at: chrono::DateTime<Utc>,
    updated_at: chrono::DateTime<Utc>,
    last_activity_at: chrono::DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = applications)]
struct GenApplication {
    candidate_id: i64,
    position_id: Option<i64>,
    stage: Stage,
    stage_entered_at: chrono::DateTime<Utc>,
    message: &'static str,
    heard_from: Option<HeardFrom>,
    utm_source: Option<&'static str>,
    utm_medium: Option<&'static str>,
    utm_campaign: Option<&'static str>,
    submission_key: uuid::Uuid,
    privacy_notice_version: &'static str,
    privacy_accepted_at: chrono::DateTime<Utc>,
    created_at: chrono::DateTime<Utc>,
    updated_at: chrono::DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = stage_history)]
struct GenStep {
    application_id: i64,
    from_stage: Option<Stage>,
    to_stage: Stage,
    reason: Option<&'static str>,
    follow_up_on: Option<chrono::NaiveDate>,
    created_at: chrono::DateTime<Utc>,
}

/// One generated candidate before insertion: the row, wished centres, and the application with
/// its path through the pipeline.
struct GenPlan {
    candidate: GenCandidate,
    centres: Vec<i64>,
    position_id: Option<i64>,
    stage: Stage,
    steps: Vec<(Stage, chrono::DateTime<Utc>)>,
    heard_from: HeardFrom,
    campaign: bool,
    message: &'static str,
    submission_key: uuid::Uuid,
    follow_up_days: i64,
    withdrawal: &'static str,
    refusal: &'static str,
}

/// Adds `count` synthetic candidates, each with one application, for load tests: varied names,
/// specialties, situations, working times and availabilities, one to three wished centres among
/// the open ones, a quarter with an RPPS number (valid Luhn key, never one already in the base),
/// e-mails `…@exemple.test` and mobile numbers unique across runs. Applications are spread over
/// the stages like the demo's, with a history that leads to their stage; two thirds answer a
/// published position when there is one. The same `seed` on the same base gives the same people
/// (submission keys aside). Rows are written by multi-row INSERTs of a thousand in one
/// transaction, then the tables are vacuumed and analysed (so `conn` must not be inside a
/// transaction). Returns the number of candidates added.
pub fn generate_candidates(
    conn: &mut PgConnection,
    count: usize,
    seed: u64,
) -> anyhow::Result<usize> {
    if count == 0 {
        return Ok(0);
    }
    conn.transaction(|conn| -> anyhow::Result<()> {
        // Serialises concurrent generators: the numbering below reads the current maximum.
        diesel::sql_query("LOCK TABLE candidates IN SHARE ROW EXCLUSIVE MODE").execute(conn)?;
        let base: i64 = candidates::table
            .select(diesel::dsl::max(candidates::id))
            .first::<Option<i64>>(conn)?
            .unwrap_or(0);
        let mut rpps_taken: std::collections::HashSet<String> = candidates::table
            .filter(candidates::rpps.is_not_null())
            .select(candidates::rpps.assume_not_null())
            .load::<String>(conn)?
            .into_iter()
            .collect();
        let centre_ids: Vec<i64> = centres::table
            .filter(centres::status.ne(crate::db::enums::CentreStatus::Closed))
            .order(centres::id)
            .select(centres::id)
            .load(conn)?;
        anyhow::ensure!(
            !centre_ids.is_empty(),
            "aucun centre : la migration des données de référence manque"
        );
        let position_ids: Vec<i64> = positions::table
            .filter(positions::published.eq(true))
            .order(positions::id)
            .select(positions::id)
            .load(conn)?;

        let mut rng = StdRng::seed_from_u64(seed);
        let total_weight: u32 = STAGE_SPREAD.iter().map(|(_, w)| w).sum();
        let now = Utc::now();
        let mut plans = Vec::with_capacity(count);
        for i in 0..count {
            // Unique across runs: `base` is above every existing id and grows by `count` at least.
            let n = base + 1 + i as i64;
            let (first, civility) = pick(
                FIRST_NAMES,
                MORE_FIRST_NAMES,
                rng.gen_range(0..FIRST_NAMES.len() + MORE_FIRST_NAMES.len()),
            );
            let last = pick(
                LAST_NAMES,
                MORE_LAST_NAMES,
                rng.gen_range(0..LAST_NAMES.len() + MORE_LAST_NAMES.len()),
            );
            let email = format!(
                "{}.{}.{n}@{DEMO_EMAIL_DOMAIN}",
                ascii_local(first),
                ascii_local(last)
            );
            // 07 numbers (the demo uses 06): n ↦ n × 7,919,993 mod 10⁸ is one-to-one.
            let national = format!("7{:08}", (n as u64 * 7_919_993) % 100_000_000);
            let phone = format!(
                "0{} {} {} {} {}",
                &national[0..1],
                &national[1..3],
                &national[3..5],
                &national[5..7],
                &national[7..9]
            );
            let rpps = if rng.gen_ratio(1, 4) {
                loop {
                    let r = synthetic_rpps(&mut rng);
                    if rpps_taken.insert(r.clone()) {
                        break Some(r);
                    }
                }
            } else {
                None
            };
            let situation = Situation::ALL[rng.gen_range(0..Situation::ALL.len())];
            let part_time = rng.gen_ratio(1, 3);
            // Applications of the last three years, more of them recent.
            let age_days = (rng.gen_range(0.0f64..1.0).powi(2) * 1_095.0) as i64 + 1;
            let created =
                now - Duration::days(age_days) - Duration::minutes(rng.gen_range(0..1_440));
            let mut weight = rng.gen_range(0..total_weight);
            let stage = STAGE_SPREAD
                .iter()
                .find(|(_, w)| {
                    if weight < *w {
                        true
                    } else {
                        weight -= w;
                        false
                    }
                })
                .map(|(s, _)| *s)
                .unwrap_or(Stage::New);
            let path = path_to(stage);
            let mut at = created;
            let mut steps = Vec::with_capacity(path.len());
            for (k, step) in path.iter().enumerate() {
                if k > 0 {
                    at = (at + Duration::days(rng.gen_range(2..12))).min(now);
                }
                steps.push((*step, at));
            }
            let first_centre = rng.gen_range(0..centre_ids.len());
            let wished = (0..rng.gen_range(1..=3usize.min(centre_ids.len())))
                .map(|k| centre_ids[(first_centre + k * 2) % centre_ids.len()])
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            plans.push(GenPlan {
                candidate: GenCandidate {
                    civility,
                    first_name: first,
                    last_name: last,
                    email_normalized: email.clone(),
                    email,
                    phone_normalized: format!("+33{national}"),
                    phone,
                    rpps,
                    specialty_code: GEN_SPECIALTIES[rng.gen_range(0..GEN_SPECIALTIES.len())],
                    situation,
                    available_from: (!rng.gen_ratio(1, 10))
                        .then(|| (now + Duration::days(rng.gen_range(-30..365))).date_naive()),
                    working_time: if part_time {
                        WorkingTime::PartTime
                    } else {
                        WorkingTime::FullTime
                    },
                    part_time_half_days: part_time.then(|| rng.gen_range(2..9i16)),
                    on_call: rng.gen_bool(0.5),
                    intern_training: situation != Situation::Intern && rng.gen_ratio(1, 5),
                    pool_consent_at: (!rng.gen_ratio(1, 3)).then_some(created),
                    created_at: created,
                    updated_at: at,
                    last_activity_at: at,
                },
                centres: wished,
                position_id: (!position_ids.is_empty() && !rng.gen_ratio(1, 3))
                    .then(|| position_ids[rng.gen_range(0..position_ids.len())]),
                stage,
                steps,
                heard_from: HeardFrom::ALL[rng.gen_range(0..HeardFrom::ALL.len())],
                campaign: rng.gen_ratio(1, 4),
                message: MESSAGES[rng.gen_range(0..MESSAGES.len())],
                // Random, not from the seed: unique even when the same seed runs twice.
                submission_key: uuid::Uuid::new_v4(),
                follow_up_days: rng.gen_range(7..180),
                withdrawal: WITHDRAWAL_REASONS[rng.gen_range(0..WITHDRAWAL_REASONS.len())].0,
                refusal: REFUSAL_REASONS[rng.gen_range(0..REFUSAL_REASONS.len())].0,
            });
        }

        for batch in plans.chunks(GEN_BATCH) {
            let rows: Vec<&GenCandidate> = batch.iter().map(|p| &p.candidate).collect();
            let ids: std::collections::HashMap<String, i64> =
                diesel::insert_into(candidates::table)
                    .values(rows)
                    .returning((candidates::email_normalized, candidates::id))
                    .get_results::<(String, i64)>(conn)
                    .context("generated candidates")?
                    .into_iter()
                    .collect();
            let candidate_id = |p: &GenPlan| ids[&p.candidate.email_normalized];
            let wished: Vec<_> = batch
                .iter()
                .flat_map(|p| {
                    let id = candidate_id(p);
                    p.centres.iter().map(move |c| {
                        (
                            candidate_centres::candidate_id.eq(id),
                            candidate_centres::centre_id.eq(*c),
                        )
                    })
                })
                .collect();
            diesel::insert_into(candidate_centres::table)
                .values(wished)
                .execute(conn)?;
            let apps: Vec<GenApplication> = batch
                .iter()
                .map(|p| {
                    let created = p.candidate.created_at;
                    let entered = p.steps.last().map(|(_, at)| *at).unwrap_or(created);
                    GenApplication {
                        candidate_id: candidate_id(p),
                        position_id: p.position_id,
                        stage: p.stage,
                        stage_entered_at: entered,
                        message: p.message,
                        heard_from: Some(p.heard_from),
                        utm_source: p.campaign.then_some("newsletter"),
                        utm_medium: p.campaign.then_some("email"),
                        utm_campaign: p.campaign.then_some("facultes-2026"),
                        submission_key: p.submission_key,
                        privacy_notice_version: "démo",
                        privacy_accepted_at: created,
                        created_at: created,
                        updated_at: entered,
                    }
                })
                .collect();
            let app_ids: std::collections::HashMap<i64, i64> =
                diesel::insert_into(applications::table)
                    .values(&apps)
                    .returning((applications::candidate_id, applications::id))
                    .get_results::<(i64, i64)>(conn)
                    .context("generated applications")?
                    .into_iter()
                    .collect();
            let steps: Vec<GenStep> = batch
                .iter()
                .flat_map(|p| {
                    let application_id = app_ids[&candidate_id(p)];
                    let mut from = None;
                    p.steps.iter().map(move |(stage, at)| {
                        let (reason, follow_up_on) = match stage {
                            Stage::Refused => (Some(p.refusal), None),
                            Stage::Withdrawn => (Some(p.withdrawal), None),
                            Stage::Pool => (
                                None,
                                Some((*at + Duration::days(p.follow_up_days)).date_naive()),
                            ),
                            _ => (None, None),
                        };
                        let step = GenStep {
                            application_id,
                            from_stage: from,
                            to_stage: *stage,
                            reason,
                            follow_up_on,
                            created_at: *at,
                        };
                        from = Some(*stage);
                        step
                    })
                })
                .collect();
            // About 2.6 steps per application: keep each statement under the bind limit.
            for chunk in steps.chunks(GEN_BATCH * 4) {
                diesel::insert_into(stage_history::table)
                    .values(chunk)
                    .execute(conn)?;
            }
        }
        Ok(())
    })?;
    // Fresh statistics and visibility map, as autovacuum would leave them shortly after: the
    // planner sees the new volumes at once, and a load test is not disturbed by autovacuum.
    diesel::sql_query(
        "VACUUM (ANALYZE) candidates, candidate_centres, applications, stage_history",
    )
    .execute(conn)?;
    Ok(count)
}
