//! Demonstration data: the real centres (already loaded by a migration), a few open positions,
//! about fifty varied candidates spread over the stages with their history, and a first admin.
//! Idempotent: a second run adds nothing and says so.

use std::fmt;

use anyhow::Context;
use chrono::{Duration, Utc};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::enums::{Civility, HeardFrom, Situation, StaffRole, Stage, WorkingTime};
use crate::db::schema::{
    applications, candidate_centres, candidates, centres, position_centres, positions, staff_users,
    stage_history,
};
use crate::staff;

pub const DEMO_EMAIL_DOMAIN: &str = "exemple.test";
pub const DEMO_ADMIN_EMAIL: &str = "admin@exemple.test";

/// What `load` did, printed to the person who ran it.
pub struct DemoReport {
    pub positions: usize,
    pub candidates: usize,
    pub admin_password: Option<String>,
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.positions == 0 && self.candidates == 0 {
            writeln!(
                f,
                "Données de démonstration déjà présentes : rien d'ajouté."
            )?;
        } else {
            writeln!(
                f,
                "Démonstration : {} postes et {} candidats ajoutés.",
                self.positions, self.candidates
            )?;
        }
        match &self.admin_password {
            Some(p) => write!(
                f,
                "Administrateur : {DEMO_ADMIN_EMAIL} — mot de passe (affiché une seule fois) : {p}"
            ),
            None => write!(
                f,
                "Administrateur {DEMO_ADMIN_EMAIL} : compte déjà existant."
            ),
        }
    }
}

/// Title, specialty, description, FTE min and max (hundredths), communes.
type PositionSpec = (
    &'static str,
    &'static str,
    &'static str,
    i32,
    i32,
    &'static [&'static str],
);

const FIRST_NAMES: &[(&str, Civility)] = &[
    ("Camille", Civility::Madame),
    ("Julien", Civility::Monsieur),
    ("Sophie", Civility::Madame),
    ("Thomas", Civility::Monsieur),
    ("Léa", Civility::Madame),
    ("Nicolas", Civility::Monsieur),
    ("Chloé", Civility::Madame),
    ("Mathieu", Civility::Monsieur),
    ("Inès", Civility::Madame),
    ("Antoine", Civility::Monsieur),
    ("Manon", Civility::Madame),
    ("Hugo", Civility::Monsieur),
    ("Sarah", Civility::Madame),
    ("Pierre", Civility::Monsieur),
    ("Élise", Civility::Madame),
    ("Karim", Civility::Monsieur),
    ("Aurélie", Civility::Madame),
    ("Jean-Baptiste", Civility::Monsieur),
    ("Marie", Civility::NotSaid),
    ("Youssef", Civility::Monsieur),
];

const LAST_NAMES: &[&str] = &[
    "Dupuy", "Lacoste", "Castaing", "Fourcade", "Soulé", "Bordes", "Lafitte", "Cazaux", "Daguzan",
    "Abadie", "Barrère", "Ducasse", "Larrieu", "Pujol", "Sarrade", "Labat", "Mansour", "Nguyen",
    "Rossi", "Martin", "Garcia", "Bernard", "Dubois", "Lefèvre",
];

const MESSAGES: &[&str] = &[
    "Installée à Toulouse, je cherche un exercice salarié à temps partiel près d'Auch.",
    "Fin d'internat en mai ; intéressé par la maîtrise de stage.",
    "Mon conjoint a trouvé un poste dans le Gers, nous cherchons à nous installer.",
    "Retraité depuis un an, je souhaite garder une activité deux jours par semaine.",
    "",
];

/// A synthetic RPPS number with a valid Luhn key.
fn synthetic_rpps(rng: &mut StdRng) -> String {
    let body: String = std::iter::once('1')
        .chain((0..9).map(|_| char::from(b'0' + rng.gen_range(0..10u8))))
        .collect();
    (0..10u8)
        .map(|k| format!("{body}{k}"))
        .find(|candidate| crate::domain::Rpps::parse(candidate).is_ok())
        .expect("one of ten keys satisfies Luhn")
}

/// The pipeline path an application took to reach `stage`.
fn path_to(stage: Stage) -> Vec<Stage> {
    let forward = [
        Stage::New,
        Stage::FirstContact,
        Stage::Interview,
        Stage::SiteVisit,
        Stage::Offer,
        Stage::Accepted,
        Stage::Recruited,
    ];
    if let Some(i) = forward.iter().position(|s| *s == stage) {
        return forward[..=i].to_vec();
    }
    let mut path = forward[..3].to_vec();
    path.push(stage);
    path
}

pub fn load(conn: &mut PgConnection) -> anyhow::Result<DemoReport> {
    conn.transaction(|conn| {
        let admin_password = if staff_users::table
            .filter(staff_users::email.ilike(DEMO_ADMIN_EMAIL))
            .count()
            .get_result::<i64>(conn)?
            == 0
        {
            let password = staff::generate_password();
            staff::add_user(conn, DEMO_ADMIN_EMAIL, "Administratrice démo", StaffRole::Admin, &password)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Some(password)
        } else {
            None
        };

        let already = candidates::table
            .filter(candidates::email_normalized.like(format!("%@{DEMO_EMAIL_DOMAIN}")))
            .count()
            .get_result::<i64>(conn)?;
        if already > 0 {
            return Ok(DemoReport {
                positions: 0,
                candidates: 0,
                admin_password,
            });
        }

        let centre_ids: Vec<(i64, String)> = centres::table
            .order(centres::id)
            .select((centres::id, centres::commune))
            .load(conn)?;
        anyhow::ensure!(!centre_ids.is_empty(), "aucun centre : la migration des données de référence manque");
        let centre = |commune: &str| {
            centre_ids
                .iter()
                .find(|(_, c)| c == commune)
                .map(|(id, _)| *id)
                .unwrap_or(centre_ids[0].0)
        };

        let position_specs: [PositionSpec; 4] = [
            (
                "Médecin généraliste – Fleurance",
                "SM54",
                "Consultations de médecine générale au centre territorial de Fleurance, au sein d'une équipe avec secrétariat et infirmière.",
                100, 100, &["Fleurance"],
            ),
            (
                "Médecin généraliste à temps partagé – Vic-Fezensac et Gondrin",
                "SM54",
                "Semaine partagée entre le centre de Vic-Fezensac et l'antenne de Gondrin ; temps partiel possible.",
                60, 100, &["Vic-Fezensac", "Gondrin"],
            ),
            (
                "Médecin généraliste – Plaisance et Marciac",
                "SM54",
                "Ouest du département : centre de Plaisance et antenne de Marciac.",
                50, 100, &["Plaisance", "Marciac"],
            ),
            (
                "Pédiatre – consultations avancées",
                "SM40",
                "Consultations de pédiatrie une à deux journées par semaine dans les centres territoriaux.",
                20, 40, &["Fleurance", "Vic-Fezensac"],
            ),
        ];
        let mut position_ids = Vec::new();
        for (title, specialty, description, min, max, communes) in position_specs {
            let id: i64 = diesel::insert_into(positions::table)
                .values((
                    positions::title.eq(title),
                    positions::specialty_code.eq(specialty),
                    positions::description.eq(description),
                    positions::fte_min_hundredths.eq(min),
                    positions::fte_max_hundredths.eq(max),
                    positions::published.eq(true),
                ))
                .returning(positions::id)
                .get_result(conn)?;
            for commune in communes {
                diesel::insert_into(position_centres::table)
                    .values((
                        position_centres::position_id.eq(id),
                        position_centres::centre_id.eq(centre(commune)),
                    ))
                    .execute(conn)?;
            }
            position_ids.push(id);
        }

        let mut rng = StdRng::seed_from_u64(32);
        let stages_spread: &[(Stage, usize)] = &[
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
        let specialties = ["SM54", "SM54", "SM54", "SM54", "SM53", "SM26", "SM40", "SM42", "SM18", "SM04"];
        let now = Utc::now();
        let mut count = 0usize;
        for (stage, n) in stages_spread {
            for _ in 0..*n {
                let (first, civility) = FIRST_NAMES[count % FIRST_NAMES.len()];
                let last = LAST_NAMES[(count * 7) % LAST_NAMES.len()];
                let email = format!(
                    "{}.{}{}@{DEMO_EMAIL_DOMAIN}",
                    first.to_lowercase().replace(['é', 'è', 'ë'], "e").replace('ï', "i"),
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
                let part_time = count % 3 == 0;
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
                        candidates::rpps.eq((count % 4 != 0).then(|| synthetic_rpps(&mut rng))),
                        candidates::specialty_code.eq(specialties[count % specialties.len()]),
                        candidates::situation.eq(situation),
                        candidates::available_from.eq(Some((now + Duration::days(rng.gen_range(0..240))).date_naive())),
                        candidates::working_time.eq(if part_time { WorkingTime::PartTime } else { WorkingTime::FullTime }),
                        candidates::part_time_half_days.eq(part_time.then(|| rng.gen_range(2..9i16))),
                        candidates::on_call.eq(count % 2 == 0),
                        candidates::intern_training.eq(count % 5 == 0),
                        candidates::pool_consent_at.eq((count % 3 != 1).then_some(created)),
                        candidates::created_at.eq(created),
                        candidates::updated_at.eq(created),
                        candidates::last_activity_at.eq(created),
                    ))
                    .returning(candidates::id)
                    .get_result(conn)
                    .context("demo candidate")?;
                let wished = [centre_ids[count % centre_ids.len()].0, centre_ids[(count + 2) % centre_ids.len()].0];
                for c in wished.iter().take(1 + count % 2) {
                    diesel::insert_into(candidate_centres::table)
                        .values((candidate_centres::candidate_id.eq(candidate_id), candidate_centres::centre_id.eq(c)))
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
                        applications::utm_source.eq((count % 4 == 0).then_some("newsletter")),
                        applications::utm_medium.eq((count % 4 == 0).then_some("email")),
                        applications::utm_campaign.eq((count % 4 == 0).then_some("facultes-2026")),
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
                        Stage::Withdrawn => (Some(["remuneration", "distance", "emploi_conjoint"][count % 3]), None),
                        Stage::Pool => (None, Some((now + Duration::days(30 + count as i64)).date_naive())),
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
                    .set((applications::stage_entered_at.eq(at), applications::updated_at.eq(at)))
                    .execute(conn)?;
                diesel::update(candidates::table.find(candidate_id))
                    .set(candidates::last_activity_at.eq(at))
                    .execute(conn)?;
                count += 1;
            }
        }
        Ok(DemoReport {
            positions: position_ids.len(),
            candidates: count,
            admin_password,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_rpps_numbers_are_valid() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..50 {
            let n = synthetic_rpps(&mut rng);
            assert!(crate::domain::Rpps::parse(&n).is_ok(), "{n}");
        }
    }

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
