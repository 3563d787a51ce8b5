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
use crate::pipeline::{REFUSAL_REASONS, WITHDRAWAL_REASONS};
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
        crate::campaigns::organisations::load_faculties(conn)?;
        demo_audiences(conn)?;

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
        offers_and_placements(conn, &centre_ids)?;
        Ok(DemoReport {
            positions: position_ids.len(),
            candidates: count,
            admin_password,
        })
    })
}

/// Two mailing lists of a few contacts each (example.org addresses), each imported once when
/// its list is created.
const DEMO_LISTS: [(&str, &str); 2] = [
    (
        "Internes de Toulouse (démo)",
        "email;prenom;nom;organisation;type;etiquettes;ville;base_legale\n\
         camille.roux@example.org;Camille;Roux;Faculté de santé – départements de médecine Purpan et Rangueil – Université de Toulouse (ex-Toulouse III Paul Sabatier);interne;promo 2027|médecine générale;Toulouse;interet_legitime\n\
         julien.faure@example.org;Julien;Faure;Faculté de santé – départements de médecine Purpan et Rangueil – Université de Toulouse (ex-Toulouse III Paul Sabatier);interne;promo 2027;Toulouse;interet_legitime\n\
         lea.garcia@example.org;Léa;Garcia;;interne;promo 2028|pédiatrie;Toulouse;consentement\n\
         hugo.mercier@example.org;Hugo;Mercier;;interne;promo 2027;Blagnac;interet_legitime\n\
         ines.lambert@example.org;Inès;Lambert;;interne;médecine générale;Colomiers;consentement\n",
    ),
    (
        "Médecins retraités du Gers (démo)",
        "email;prenom;nom;organisation;type;etiquettes;ville;base_legale\n\
         jean.dupuy@example.org;Jean;Dupuy;;medecin_retraite;gers;Auch;interet_legitime\n\
         marie.lacoste@example.org;Marie;Lacoste;;medecin_retraite;gers|cumul emploi-retraite;Condom;interet_legitime\n\
         pierre.bordes@example.org;Pierre;Bordes;;medecin_retraite;gers;Lectoure;consentement\n\
         anne.castex@example.org;Anne;Castex;Ordre des médecins du Gers;partenaire;gers;Auch;mission_publique\n\
         louis.saint-martin@example.org;Louis;Saint-Martin;;medecin_retraite;gers;Mirande;interet_legitime\n",
    ),
];

fn demo_audiences(conn: &mut PgConnection) -> anyhow::Result<()> {
    use crate::campaigns::{contacts, import};
    for (name, csv) in DEMO_LISTS {
        let (list_id, created) = contacts::ensure_list(conn, name)?
            .map_err(|m| anyhow::anyhow!("liste de démonstration : {m}"))?;
        if created {
            import::import_file(
                conn,
                list_id,
                None,
                "demo.csv",
                csv.as_bytes(),
                import::Defaults::default(),
            )?
            .map_err(|e| anyhow::anyhow!("import de démonstration : {e:?}"))?;
            if name.starts_with("Médecins retraités") {
                demo_campaign(conn, list_id)?;
            }
        }
    }
    Ok(())
}

/// A campaign template and a draft campaign to the retired doctors, ready to be programmed.
fn demo_campaign(conn: &mut PgConnection, list_id: i64) -> anyhow::Result<()> {
    use crate::campaigns::runs::{self, CampaignInput, Schedule};
    use crate::db::schema::mail_templates;
    let template_id: i64 = diesel::insert_into(mail_templates::table)
        .values((
            mail_templates::name.eq("Médecins retraités – exercer dans le Gers (démo)"),
            mail_templates::subject.eq("{{prenom}}, le Gers recrute des médecins salariés"),
            mail_templates::body_text.eq(DEMO_TEMPLATE_TEXT),
            mail_templates::body_html.eq(""),
        ))
        .returning(mail_templates::id)
        .get_result(conn)?;
    runs::create(
        conn,
        &CampaignInput {
            name: "Médecins retraités – automne (démo)".into(),
            template_id,
            list_ids: vec![list_id],
            sender_name: "Recrutement CDS32".into(),
            sender_email: "recrutement@localhost".into(),
            rate_per_minute: 600,
            schedule: Schedule::Now,
        },
        None,
    )?;
    Ok(())
}

const DEMO_TEMPLATE_TEXT: &str = "Bonjour {{nom_complet}},

Le Département du Gers salarie des médecins dans ses centres de santé d'Auch, Fleurance, \
Vic-Fezensac et Plaisance, et dans ses antennes de Gondrin et Marciac. Le cumul emploi-retraite \
est possible, à temps partiel si vous le souhaitez : une ou plusieurs demi-journées par semaine, \
sans gestion administrative ni permanence imposée.

Pour en savoir plus ou nous faire part de votre intérêt, il suffit de remplir le formulaire : \
{{lien_candidature}}

Nous serions heureux d'échanger avec vous.

L'équipe de recrutement du Centre départemental de santé";

/// Planned capacity for the centres that have none yet, and offers for the demo's applications
/// at « Proposition » (sent), « Acceptée » (accepted) and « Recrutée » (accepted, and the doctor
/// at work since the day the application reached that stage): the capacity page has content.
fn offers_and_placements(conn: &mut PgConnection, centres: &[(i64, String)]) -> anyhow::Result<()> {
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

/// Names added to the demo's for the generated candidates (`generate_candidates`): with 50,000
/// doctors, a name search should find a few hundred people, not a tenth of the base.
const MORE_FIRST_NAMES: &[(&str, Civility)] = &[
    ("Anne", Civility::Madame),
    ("François", Civility::Monsieur),
    ("Isabelle", Civility::Madame),
    ("Laurent", Civility::Monsieur),
    ("Nathalie", Civility::Madame),
    ("Philippe", Civility::Monsieur),
    ("Valérie", Civility::Madame),
    ("Olivier", Civility::Monsieur),
    ("Céline", Civility::Madame),
    ("Sébastien", Civility::Monsieur),
    ("Émilie", Civility::Madame),
    ("Guillaume", Civility::Monsieur),
    ("Claire", Civility::Madame),
    ("Maxime", Civility::Monsieur),
    ("Julie", Civility::Madame),
    ("Alexandre", Civility::Monsieur),
    ("Pauline", Civility::Madame),
    ("Romain", Civility::Monsieur),
    ("Lucie", Civility::Madame),
    ("Benoît", Civility::Monsieur),
    ("Amina", Civility::Madame),
    ("Mehdi", Civility::Monsieur),
    ("Fatima", Civility::Madame),
    ("Ahmed", Civility::Monsieur),
    ("Linh", Civility::Madame),
    ("Minh", Civility::Monsieur),
    ("Ioana", Civility::Madame),
    ("Andrei", Civility::Monsieur),
    ("Giulia", Civility::Madame),
    ("Marco", Civility::Monsieur),
    ("Hélène", Civility::Madame),
    ("Bernard", Civility::Monsieur),
    ("Agnès", Civility::Madame),
    ("Yves", Civility::Monsieur),
    ("Dominique", Civility::NotSaid),
    ("Claude", Civility::NotSaid),
    ("Mathilde", Civility::Madame),
    ("Adrien", Civility::Monsieur),
    ("Margaux", Civility::Madame),
    ("Loïc", Civility::Monsieur),
];

/// Item `i` of `first` followed by `second`.
fn pick<T: Copy>(first: &[T], second: &[T], i: usize) -> T {
    first
        .get(i)
        .copied()
        .unwrap_or_else(|| second[i - first.len()])
}

const MORE_LAST_NAMES: &[&str] = &[
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Michel",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
    "Brun",
    "Blanchard",
    "Giraud",
    "Joly",
    "Rivière",
    "Lucas",
    "Brunet",
    "Gaillard",
    "Barbier",
    "Arnaud",
    "Martinez",
    "Gérard",
    "Roche",
    "Renard",
    "Schmitt",
    "Roy",
    "Leroux",
    "Colin",
    "Vidal",
    "Caron",
    "Picard",
    "Roger",
    "Fabre",
    "Aubert",
    "Lemoine",
    "Renaud",
    "Dumas",
    "Lacroix",
    "Olivier",
    "Philippe",
    "Bourgeois",
    "Pierre",
    "Benoît",
    "Rey",
    "Leclerc",
    "Payet",
    "Rolland",
    "Lecomte",
    "Laborde",
    "Dauzère",
    "Capdeville",
    "Lamarque",
    "Darrieux",
    "Lasserre",
    "Toulouse",
    "Puyo",
    "Sentex",
    "Haddad",
    "Benali",
    "Cohen",
    "Tran",
    "Pham",
    "Popescu",
    "Kowalski",
    "Silva",
    "Ferreira",
    "Lopez",
    "Sanchez",
    "Romero",
    "Bianchi",
    "Esposito",
    "Schneider",
    "Diallo",
    "Traoré",
    "Ndiaye",
    "Ben Salah",
    "El Amrani",
    "Saint-Martin",
    "de la Motte",
    "Le Gall",
    "Le Bihan",
    "Tessier",
    "Carré",
    "Hamel",
    "Baudry",
];

/// Relative weights of the stages of generated applications: the demo's spread.
const GEN_STAGE_WEIGHTS: &[(Stage, u32)] = &[
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

/// Specialties of generated candidates, repeated by weight: mostly general practice.
const GEN_SPECIALTIES: &[&str] = &[
    "SM54", "SM54", "SM54", "SM54", "SM54", "SM54", "SM54", "SM54", "SM53", "SM53", "SM26", "SM40",
    "SM40", "SM42", "SM18", "SM04", "SM19", "SM32", "SM15", "SM41", "SM48", "SM27",
];

/// Rows per multi-row INSERT: far below PostgreSQL's 65,535 bind parameters.
const GEN_BATCH: usize = 1_000;

/// Lower-case ASCII for an e-mail's local part: "Élise Ben Salah" gives "elise", "bensalah".
fn ascii_local(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let c = match c.to_lowercase().next().unwrap_or(c) {
                'à' | 'â' | 'ä' => 'a',
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'î' | 'ï' => 'i',
                'ô' | 'ö' => 'o',
                'ù' | 'û' | 'ü' => 'u',
                'ç' => 'c',
                c => c,
            };
            (c.is_ascii_alphanumeric() || c == '-').then_some(c)
        })
        .collect()
}

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
        let total_weight: u32 = GEN_STAGE_WEIGHTS.iter().map(|(_, w)| w).sum();
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
            let stage = GEN_STAGE_WEIGHTS
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
