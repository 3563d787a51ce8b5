//! The demo's offers and placements, and the planned capacity of the centres, so that the
//! capacity page has content.

use chrono::{Duration, Utc};
use diesel::prelude::*;

use super::names::{DEMO_ADMIN_EMAIL, DEMO_EMAIL_DOMAIN};
use crate::db::enums::{Stage, WorkingTime};
use crate::db::schema::{applications, candidates, centres, staff_users};

/// Planned capacity for the centres that have none yet, and offers for the demo's applications
/// at « Proposition » (sent), « Acceptée » (accepted) and « Recrutée » (accepted, and the doctor
/// at work since the day the application reached that stage): the capacity page has content.
pub(super) fn offers_and_placements(
    conn: &mut PgConnection,
    centres: &[(i64, String)],
) -> anyhow::Result<()> {
    use crate::db::enums::OfferStatus;
    use crate::db::schema::{offer_allocations, offers, placement_allocations, placements};
    use crate::domain::WeekPattern;

    let centre = |commune: &str| {
        centres
            .iter()
            .find(|(_, c)| c == commune)
            .map(|(id, _)| *id)
    };
    for (commune, planned) in [
        ("Fleurance", 300),
        ("Vic-Fezensac", 300),
        ("Plaisance", 200),
        ("Gondrin", 100),
        ("Marciac", 100),
    ] {
        if let Some(id) = centre(commune) {
            diesel::update(
                centres::table
                    .find(id)
                    .filter(centres::planned_fte_hundredths.eq(0)),
            )
            .set(centres::planned_fte_hundredths.eq(planned))
            .execute(conn)?;
        }
    }
    let admin: i64 = staff_users::table
        .filter(staff_users::email.ilike(DEMO_ADMIN_EMAIL))
        .select(staff_users::id)
        .first(conn)?;
    let week = |codes: &[&str]| {
        WeekPattern::from_codes(codes)
            .map(|p| p.bits())
            .unwrap_or(0)
    };
    let whole = |days: &[&str]| -> Vec<String> {
        days.iter()
            .flat_map(|d| [format!("{d}-matin"), format!("{d}-apres-midi")])
            .collect()
    };
    let as_refs = |v: &[String]| -> i16 { week(&v.iter().map(String::as_str).collect::<Vec<_>>()) };
    // Three weekly patterns, turn by turn: (working time, FTE, [(commune, half-days, FTE)]).
    type Pattern<'a> = (WorkingTime, i32, Vec<(&'a str, i16, i32)>);
    let patterns: Vec<Pattern> = vec![
        (
            WorkingTime::FullTime,
            100,
            vec![(
                "Fleurance",
                as_refs(&whole(&["lun", "mar", "mer", "jeu", "ven"])),
                100,
            )],
        ),
        (
            WorkingTime::FullTime,
            100,
            vec![
                ("Vic-Fezensac", as_refs(&whole(&["lun", "mar", "mer"])), 60),
                ("Gondrin", as_refs(&whole(&["jeu", "ven"])), 40),
            ],
        ),
        (
            WorkingTime::PartTime,
            60,
            vec![
                ("Plaisance", as_refs(&whole(&["lun", "mar"])), 40),
                ("Marciac", as_refs(&whole(&["jeu"])), 20),
            ],
        ),
    ];
    let demo: Vec<(i64, Stage, chrono::DateTime<Utc>)> = applications::table
        .inner_join(candidates::table)
        .filter(candidates::email_normalized.like(format!("%@{DEMO_EMAIL_DOMAIN}")))
        .filter(applications::stage.eq_any([Stage::Offer, Stage::Accepted, Stage::Recruited]))
        .order(applications::id)
        .select((
            applications::id,
            applications::stage,
            applications::stage_entered_at,
        ))
        .load(conn)?;
    for (i, (application_id, stage, entered)) in demo.into_iter().enumerate() {
        let (working_time, fte, parts) = &patterns[i % patterns.len()];
        let day = entered.date_naive();
        let (status, starts_on) = match stage {
            Stage::Offer => (OfferStatus::Sent, day + Duration::days(45)),
            Stage::Accepted => (OfferStatus::Accepted, day + Duration::days(30)),
            _ => (OfferStatus::Accepted, day),
        };
        let offer_id: i64 = diesel::insert_into(offers::table)
            .values((
                offers::application_id.eq(application_id),
                offers::status.eq(status),
                offers::working_time.eq(*working_time),
                offers::fte_hundredths.eq(*fte),
                offers::starts_on.eq(starts_on),
                offers::expires_on.eq(starts_on.max(day + Duration::days(15)) - Duration::days(10)),
                offers::on_call_terms.eq("Participation à la permanence des soins du secteur, une garde par mois au plus."),
                offers::salary_note.eq("Grille des médecins contractuels du département, selon l'expérience."),
                offers::created_by.eq(Some(admin)),
                offers::approved_by.eq(Some(admin)),
                offers::approved_at.eq(Some(entered - Duration::days(12))),
                offers::sent_at.eq(Some(entered - Duration::days(10))),
                offers::answered_at.eq((status == OfferStatus::Accepted).then_some(entered - Duration::days(5))),
                offers::created_at.eq(entered - Duration::days(14)),
                offers::updated_at.eq(entered),
            ))
            .returning(offers::id)
            .get_result(conn)?;
        let mut placement_id = None;
        if stage == Stage::Recruited {
            placement_id = Some(
                diesel::insert_into(placements::table)
                    .values((
                        placements::application_id.eq(application_id),
                        placements::offer_id.eq(offer_id),
                        placements::started_on.eq(starts_on),
                        placements::created_by.eq(Some(admin)),
                        placements::created_at.eq(entered),
                    ))
                    .returning(placements::id)
                    .get_result::<i64>(conn)?,
            );
        }
        for (commune, bits, share) in parts {
            let Some(centre_id) = centre(commune) else {
                continue;
            };
            diesel::insert_into(offer_allocations::table)
                .values((
                    offer_allocations::offer_id.eq(offer_id),
                    offer_allocations::centre_id.eq(centre_id),
                    offer_allocations::half_days.eq(*bits),
                    offer_allocations::fte_hundredths.eq(*share),
                ))
                .execute(conn)?;
            if let Some(placement_id) = placement_id {
                diesel::insert_into(placement_allocations::table)
                    .values((
                        placement_allocations::placement_id.eq(placement_id),
                        placement_allocations::centre_id.eq(centre_id),
                        placement_allocations::half_days.eq(*bits),
                        placement_allocations::fte_hundredths.eq(*share),
                        placement_allocations::starts_on.eq(starts_on),
                        placement_allocations::created_by.eq(Some(admin)),
                        placement_allocations::created_at.eq(entered),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}
