//! The demo's fifty candidates, spread over the stages, each with one application and the
//! history that led it to its stage.

use anyhow::Context;
use chrono::{Duration, Utc};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::names::{synthetic_rpps, DEMO_EMAIL_DOMAIN, FIRST_NAMES, LAST_NAMES, MESSAGES};
use crate::db::enums::{HeardFrom, Situation, Stage, WorkingTime};
use crate::db::schema::{applications, candidate_centres, candidates, stage_history};
use crate::pipeline::FORWARD;

/// How many of the demo's candidates are at each stage (also the weights of the generated ones).
pub(super) const STAGE_SPREAD: &[(Stage, u32)] = &[
    (Stage::New, 12),
    (Stage::FirstContact, 9),
    (Stage::Interview, 7),
    (Stage::SiteVisit, 5),
    (Stage::Offer, 3),
    (Stage::Accepted, 2),
    (Stage::Recruited, 3),
    (Stage::Refused, 3),
    (Stage::Withdrawn, 3),
    (Stage::Pool, 4),
];

/// The pipeline path an application took to reach `stage`.
pub(super) fn path_to(stage: Stage) -> Vec<Stage> {
    if let Some(i) = FORWARD.iter().position(|s| *s == stage) {
        return FORWARD[..=i].to_vec();
    }
    let mut path = FORWARD[..3].to_vec();
    path.push(stage);
    path
}

/// Inserts the demo's candidates with their wished centres, applications (two thirds to one of
/// `position_ids`) and stage history; returns how many.
pub(super) fn demo_candidates(
    conn: &mut PgConnection,
    centre_ids: &[(i64, String)],
    position_ids: &[i64],
) -> anyhow::Result<usize> {
    let mut rng = StdRng::seed_from_u64(32);
    let specialties = [
        "SM54", "SM54", "SM54", "SM54", "SM53", "SM26", "SM40", "SM42", "SM18", "SM04",
    ];
    let now = Utc::now();
    let mut count = 0usize;
    for (stage, n) in STAGE_SPREAD {
        for _ in 0..*n {
            let (first, civility) = FIRST_NAMES[count % FIRST_NAMES.len()];
            let last = LAST_NAMES[(count * 7) % LAST_NAMES.len()];
            let email = format!(
                "{}.{}{}@{DEMO_EMAIL_DOMAIN}",
                first
                    .to_lowercase()
                    .replace(['é', 'è', 'ë'], "e")
                    .replace('ï', "i"),
                last.to_lowercase().replace(['é', 'è'], "e"),
                count
            );
            let phone_digits = format!("06{:08}", 10_000_000 + count * 137_911);
            let phone = phone_digits
                .as_bytes()
                .chunks(2)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" ");
            let situation = Situation::ALL[count % Situation::ALL.len()];
            let part_time = count.is_multiple_of(3);
            let created = now - Duration::days(rng.gen_range(5..200));
            let candidate_id: i64 = diesel::insert_into(candidates::table)
                .values((
                    candidates::civility.eq(civility),
                    candidates::first_name.eq(first),
                    candidates::last_name.eq(last),
                    candidates::email.eq(&email),
                    candidates::email_normalized.eq(email.to_lowercase()),
                    candidates::phone.eq(&phone),
                    candidates::phone_normalized.eq(format!("+33{}", &phone_digits[1..])),
                    candidates::rpps
                        .eq((!count.is_multiple_of(4)).then(|| synthetic_rpps(&mut rng))),
                    candidates::specialty_code.eq(specialties[count % specialties.len()]),
                    candidates::situation.eq(situation),
                    candidates::available_from.eq(Some(
                        (now + Duration::days(rng.gen_range(0..240))).date_naive(),
                    )),
                    candidates::working_time.eq(if part_time {
                        WorkingTime::PartTime
                    } else {
                        WorkingTime::FullTime
                    }),
                    candidates::part_time_half_days.eq(part_time.then(|| rng.gen_range(2..9i16))),
                    candidates::on_call.eq(count.is_multiple_of(2)),
                    candidates::intern_training.eq(count.is_multiple_of(5)),
                    candidates::pool_consent_at.eq((count % 3 != 1).then_some(created)),
                    candidates::created_at.eq(created),
                    candidates::updated_at.eq(created),
                    candidates::last_activity_at.eq(created),
                ))
                .returning(candidates::id)
                .get_result(conn)
                .context("demo candidate")?;
            let wished = [
                centre_ids[count % centre_ids.len()].0,
                centre_ids[(count + 2) % centre_ids.len()].0,
            ];
            for c in wished.iter().take(1 + count % 2) {
                diesel::insert_into(candidate_centres::table)
                    .values((
                        candidate_centres::candidate_id.eq(candidate_id),
                        candidate_centres::centre_id.eq(c),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
            }
            let path = path_to(*stage);
            let position = (count % 3 != 2).then(|| position_ids[count % position_ids.len()]);
            let mut at = created;
            let application_id: i64 = diesel::insert_into(applications::table)
                .values((
                    applications::candidate_id.eq(candidate_id),
                    applications::position_id.eq(position),
                    applications::stage.eq(*stage),
                    applications::message.eq(MESSAGES[count % MESSAGES.len()]),
                    applications::heard_from.eq(Some(HeardFrom::ALL[count % HeardFrom::ALL.len()])),
                    applications::utm_source.eq((count.is_multiple_of(4)).then_some("newsletter")),
                    applications::utm_medium.eq((count.is_multiple_of(4)).then_some("email")),
                    applications::utm_campaign
                        .eq((count.is_multiple_of(4)).then_some("facultes-2026")),
                    applications::submission_key.eq(uuid::Uuid::new_v4()),
                    applications::privacy_notice_version.eq("démo"),
                    applications::privacy_accepted_at.eq(created),
                    applications::created_at.eq(created),
                    applications::updated_at.eq(created),
                    applications::stage_entered_at.eq(created),
                ))
                .returning(applications::id)
                .get_result(conn)?;
            let mut from = None;
            for step in &path {
                let (reason, follow_up) = match step {
                    Stage::Refused => (Some("profil_inadapte"), None),
                    Stage::Withdrawn => (
                        Some(["remuneration", "distance", "emploi_conjoint"][count % 3]),
                        None,
                    ),
                    Stage::Pool => (
                        None,
                        Some((now + Duration::days(30 + count as i64)).date_naive()),
                    ),
                    _ => (None, None),
                };
                diesel::insert_into(stage_history::table)
                    .values((
                        stage_history::application_id.eq(application_id),
                        stage_history::from_stage.eq(from),
                        stage_history::to_stage.eq(*step),
                        stage_history::reason.eq(reason),
                        stage_history::follow_up_on.eq(follow_up),
                        stage_history::created_at.eq(at),
                    ))
                    .execute(conn)?;
                from = Some(*step);
                if step != path.last().unwrap_or(step) {
                    at += Duration::days(rng.gen_range(2..12));
                    at = at.min(now);
                }
            }
            diesel::update(applications::table.find(application_id))
                .set((
                    applications::stage_entered_at.eq(at),
                    applications::updated_at.eq(at),
                ))
                .execute(conn)?;
            diesel::update(candidates::table.find(candidate_id))
                .set(candidates::last_activity_at.eq(at))
                .execute(conn)?;
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_come_after_an_interview() {
        assert_eq!(
            path_to(Stage::Withdrawn),
            [
                Stage::New,
                Stage::FirstContact,
                Stage::Interview,
                Stage::Withdrawn
            ]
        );
        assert_eq!(path_to(Stage::New), [Stage::New]);
    }
}
