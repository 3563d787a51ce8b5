//! The application form's rules: what a doctor typed (from the page's multipart body or the
//! JSON API), its fields in page order, and [`validate`], which turns it into a
//! [`NewApplication`] or a French message per wrong field.

use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;
use validator::Validate;

use crate::db::enums::{Civility, HeardFrom, Situation, WorkingTime};
use crate::domain::fields::{parse_date, FieldErrors};
use crate::domain::{
    EmailAddress, FreeText, PersonName, PhoneNumber, Rpps, SpouseSupport, CONTROL_MESSAGE,
};

pub const MAX_MESSAGE_CHARS: usize = 5000;

/// Campaign attribution carried by the form's link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
}

/// A parsed, valid application, ready to be recorded.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub civility: Civility,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: EmailAddress,
    pub phone: PhoneNumber,
    pub rpps: Option<Rpps>,
    pub specialty_code: String,
    pub situation: Situation,
    pub available_from: Option<NaiveDate>,
    pub working_time: WorkingTime,
    /// Half-days per week when part time (1..=9).
    pub part_time_half_days: Option<i16>,
    pub centre_ids: Vec<i64>,
    pub on_call: bool,
    pub intern_training: bool,
    /// Support asked for the spouse's job search (#Dites32 à 2).
    pub spouse: SpouseSupport,
    pub message: FreeText,
    pub heard_from: Option<HeardFrom>,
    pub position_id: Option<i64>,
    pub pool_consent: bool,
    pub privacy_notice_version: String,
    pub utm: Utm,
    /// The campaign delivery whose tracked link led here (checked signature), if any.
    pub delivery_id: Option<i64>,
    /// The code of the channel link that led here, when it is well formed (whether it names a
    /// live link is the recording's question).
    pub channel_code: Option<String>,
    pub submission_key: Uuid,
}

/// The uploaded CV as received.
#[derive(Debug, Default)]
pub struct Upload {
    pub client_name: String,
    pub bytes: Vec<u8>,
    /// Bytes received in all, even past the limit (then `bytes` is truncated).
    pub size: usize,
}

/// What is wrong with a CV sent with the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvProblem {
    /// Over the size limit (answered 413 rather than 422).
    pub too_large: bool,
    pub message: String,
}

impl Upload {
    /// The CV's problem, if any: over `max_cv_bytes`, empty, or not a PDF.
    pub fn problem(&self, max_cv_bytes: usize) -> Option<CvProblem> {
        let message = if self.size > max_cv_bytes {
            format!(
                "Votre fichier pèse {} Mo ; la limite est de {} Mo. Enregistrez votre CV en PDF \
                 plus léger (export « taille réduite ») et joignez-le à nouveau.",
                megabytes(self.size),
                megabytes(max_cv_bytes)
            )
        } else if self.size == 0 {
            "Le fichier choisi est vide : joignez votre CV au format PDF.".to_owned()
        } else if !crate::documents::looks_like_pdf(&self.bytes) {
            "Ce fichier n'est pas un PDF. Enregistrez votre CV au format PDF \
             (menu Fichier › Exporter en PDF) et joignez-le à nouveau."
                .to_owned()
        } else {
            return None;
        };
        Some(CvProblem {
            too_large: self.size > max_cv_bytes,
            message,
        })
    }
}

/// A size in megabytes as the form's messages write it (`1,5`).
pub fn megabytes(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0)).replace('.', ",")
}

/// Everything the form sent, as typed. Serialised back into the form when it is re-rendered.
#[derive(Debug, Default, Serialize, Validate)]
pub struct RawApplicationForm {
    pub civilite: String,
    #[validate(length(max = 100, message = "100 caractères au plus."))]
    pub prenom: String,
    #[validate(length(max = 100, message = "100 caractères au plus."))]
    pub nom: String,
    pub courriel: String,
    pub telephone: String,
    pub rpps: String,
    pub specialite: String,
    pub situation: String,
    pub disponibilite: String,
    pub temps_travail: String,
    pub demi_journees: String,
    pub centres: Vec<String>,
    pub garde: bool,
    pub maitre_stage: bool,
    /// Support for the spouse's job search: `oui`, `non` or empty (not answered).
    pub conjoint: String,
    /// The spouse's field of work (read only with `oui`).
    pub conjoint_domaine: String,
    pub message: String,
    pub connaissance: String,
    pub poste: String,
    pub consentement: bool,
    pub vivier: bool,
    #[validate(length(max = 200, message = "Lien de campagne trop long."))]
    pub utm_source: String,
    /// The signed token of a campaign's tracked link (attribution).
    pub suivi: String,
    /// The code of the channel link that led here (attribution).
    pub canal: String,
    #[validate(length(max = 200, message = "Lien de campagne trop long."))]
    pub utm_medium: String,
    #[validate(length(max = 200, message = "Lien de campagne trop long."))]
    pub utm_campaign: String,
    pub soumission: String,
    #[serde(skip)]
    pub csrf: String,
    #[serde(skip)]
    pub site_web: String,
    #[serde(skip)]
    pub cv: Option<Upload>,
    /// Fields sent with a control character (NUL…): their value is dropped, never shown back,
    /// and [`validate`] gives each a message.
    #[serde(skip)]
    pub with_control: Vec<String>,
}

/// The field ids in the order they appear on the page, with the label used in the error summary.
pub const FIELD_ORDER: &[(&str, &str)] = &[
    ("poste", "Poste"),
    ("civilite", "Civilité"),
    ("prenom", "Prénom"),
    ("nom", "Nom"),
    ("courriel", "Adresse électronique"),
    ("telephone", "Téléphone"),
    ("rpps", "Numéro RPPS"),
    ("specialite", "Spécialité"),
    ("situation", "Situation professionnelle"),
    ("disponibilite", "Date de disponibilité"),
    ("temps_travail", "Temps de travail souhaité"),
    ("demi_journees", "Nombre de jours par semaine"),
    ("centres", "Centres souhaités"),
    ("conjoint", "Emploi de votre conjoint ou conjointe"),
    (
        "conjoint_domaine",
        "Domaine de travail de votre conjoint ou conjointe",
    ),
    ("message", "Message"),
    ("cv", "CV"),
    ("connaissance", "Comment avez-vous connu la campagne"),
    ("consentement", "Consentement"),
    ("formulaire", "Formulaire"),
];

/// What validation needs to know from the database.
pub struct Choices<'a> {
    pub specialty_codes: &'a [String],
    pub centre_ids: &'a [i64],
    pub published_position_ids: &'a [i64],
    pub privacy_notice_version: &'a str,
    pub today: NaiveDate,
}

fn optional(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Turns the raw form into an application, or every problem found.
pub fn validate(
    raw: &RawApplicationForm,
    choices: &Choices<'_>,
) -> Result<NewApplication, FieldErrors> {
    let mut errors = FieldErrors::default();
    for name in &raw.with_control {
        let id = FIELD_ORDER
            .iter()
            .map(|(id, _)| *id)
            .find(|id| *id == name.as_str())
            .unwrap_or("formulaire");
        errors.add(id, CONTROL_MESSAGE);
    }
    if let Err(found) = raw.validate() {
        for (field, list) in found.field_errors() {
            let id = FIELD_ORDER
                .iter()
                .map(|(id, _)| *id)
                .find(|id| *id == field.as_ref())
                .unwrap_or("formulaire");
            if let Some(message) = list.first().and_then(|e| e.message.as_ref()) {
                errors.add(id, message.to_string());
            }
        }
    }

    let civility = Civility::from_code(&raw.civilite);
    if civility.is_none() {
        errors.add(
            "civilite",
            "Choisissez une civilité (vous pouvez choisir « Ne souhaite pas préciser »).",
        );
    }
    let first_name = PersonName::parse(&raw.prenom, "prénom")
        .map_err(|e| errors.add("prenom", e.0))
        .ok();
    let last_name = PersonName::parse(&raw.nom, "nom")
        .map_err(|e| errors.add("nom", e.0))
        .ok();
    let email = EmailAddress::parse(&raw.courriel)
        .map_err(|e| errors.add("courriel", e.0))
        .ok();
    let phone = PhoneNumber::parse(&raw.telephone)
        .map_err(|e| errors.add("telephone", e.0))
        .ok();
    let rpps = if raw.rpps.trim().is_empty() {
        Some(None)
    } else {
        Rpps::parse(&raw.rpps)
            .map(Some)
            .map_err(|e| errors.add("rpps", e.0))
            .ok()
    };
    let specialty = raw.specialite.trim();
    if specialty.is_empty() {
        errors.add(
            "specialite",
            "Choisissez votre spécialité dans la liste (médecine générale en tête).",
        );
    } else if !choices.specialty_codes.iter().any(|c| c == specialty) {
        errors.add("specialite", "Cette spécialité ne figure pas dans la liste : choisissez-en une dans la liste proposée.");
    }
    let situation = Situation::from_code(&raw.situation);
    if situation.is_none() {
        errors.add(
            "situation",
            "Choisissez votre situation professionnelle actuelle.",
        );
    }
    let available_from = if raw.disponibilite.trim().is_empty() {
        Some(None)
    } else {
        match parse_date(&raw.disponibilite) {
            None => {
                errors.add(
                    "disponibilite",
                    "Date illisible : saisissez-la au format JJ/MM/AAAA, par exemple 01/09/2027.",
                );
                None
            }
            Some(d) if d < choices.today - chrono::Duration::days(366) => {
                errors.add("disponibilite", "Cette date est passée depuis plus d'un an : indiquez la date à partir de laquelle vous serez disponible, ou laissez vide.");
                None
            }
            Some(d) if d > choices.today + chrono::Duration::days(365 * 5) => {
                errors.add(
                    "disponibilite",
                    "Cette date est dans plus de cinq ans : vérifiez l'année.",
                );
                None
            }
            Some(d) => Some(Some(d)),
        }
    };
    let working_time = WorkingTime::from_code(&raw.temps_travail);
    let mut half_days = None;
    match working_time {
        None => errors.add("temps_travail", "Indiquez si vous souhaitez travailler à temps plein ou à temps partiel."),
        Some(WorkingTime::PartTime) => match raw.demi_journees.trim().parse::<i16>() {
            Ok(n) if (1..=9).contains(&n) => half_days = Some(n),
            _ => errors.add(
                "demi_journees",
                "Pour un temps partiel, choisissez le nombre de jours par semaine (de ½ à 4 ½ jours).",
            ),
        },
        Some(WorkingTime::FullTime) => {}
    }
    let mut centre_ids = Vec::new();
    for c in &raw.centres {
        match c.parse::<i64>() {
            Ok(id) if choices.centre_ids.contains(&id) => {
                if !centre_ids.contains(&id) {
                    centre_ids.push(id)
                }
            }
            _ => errors.add("centres", "Un centre choisi n'existe pas ou n'accueille plus de médecins : cochez-en parmi la liste."),
        }
    }
    let spouse = SpouseSupport::parse(&raw.conjoint, &raw.conjoint_domaine)
        .map_err(|(field, e)| errors.add(field, e.0))
        .ok();
    let message = FreeText::parse(&raw.message, MAX_MESSAGE_CHARS)
        .map_err(|e| errors.add("message", e.0))
        .ok();
    let heard_from = if raw.connaissance.is_empty() {
        Some(None)
    } else {
        match HeardFrom::from_code(&raw.connaissance) {
            Some(h) => Some(Some(h)),
            None => {
                errors.add(
                    "connaissance",
                    "Choisissez une réponse dans la liste, ou laissez vide.",
                );
                None
            }
        }
    };
    let position_id = if raw.poste.trim().is_empty() {
        Some(None)
    } else {
        match raw.poste.trim().parse::<i64>() {
            Ok(id) if choices.published_position_ids.contains(&id) => Some(Some(id)),
            _ => {
                errors.add("poste", "Ce poste n'est plus ouvert : choisissez un autre poste ou une candidature spontanée.");
                None
            }
        }
    };
    if !raw.consentement {
        errors.add("consentement", "Cochez la case pour accepter le traitement de vos données : sans cela nous ne pouvons pas étudier votre candidature.");
    }
    let submission_key = Uuid::parse_str(raw.soumission.trim()).ok();
    if submission_key.is_none() {
        errors.add(
            "formulaire",
            "Le formulaire est incomplet : rechargez la page puis renvoyez-le.",
        );
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    // Every Option below is Some: each None added an error above.
    let (
        Some(civility),
        Some(first_name),
        Some(last_name),
        Some(email),
        Some(phone),
        Some(rpps),
        Some(situation),
        Some(available_from),
        Some(working_time),
        Some(spouse),
        Some(message),
        Some(heard_from),
        Some(position_id),
        Some(submission_key),
    ) = (
        civility,
        first_name,
        last_name,
        email,
        phone,
        rpps,
        situation,
        available_from,
        working_time,
        spouse,
        message,
        heard_from,
        position_id,
        submission_key,
    )
    else {
        errors.add(
            "formulaire",
            "Le formulaire est incomplet : rechargez la page puis renvoyez-le.",
        );
        return Err(errors);
    };
    Ok(NewApplication {
        civility,
        first_name,
        last_name,
        email,
        phone,
        rpps,
        specialty_code: specialty.to_owned(),
        situation,
        available_from,
        working_time,
        part_time_half_days: half_days,
        centre_ids,
        on_call: raw.garde,
        intern_training: raw.maitre_stage,
        spouse,
        message,
        heard_from,
        position_id,
        pool_consent: raw.vivier,
        privacy_notice_version: choices.privacy_notice_version.to_owned(),
        utm: Utm {
            source: optional(&raw.utm_source),
            medium: optional(&raw.utm_medium),
            campaign: optional(&raw.utm_campaign),
        },
        delivery_id: None,
        channel_code: None,
        submission_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_raw() -> RawApplicationForm {
        RawApplicationForm {
            civilite: "madame".into(),
            prenom: "Claire".into(),
            nom: "Martin".into(),
            courriel: "claire.martin@exemple.fr".into(),
            telephone: "06 12 34 56 78".into(),
            rpps: "10132437004".into(),
            specialite: "SM54".into(),
            situation: "remplacant".into(),
            temps_travail: "temps_partiel".into(),
            demi_journees: "6".into(),
            consentement: true,
            soumission: Uuid::new_v4().to_string(),
            ..RawApplicationForm::default()
        }
    }

    fn choices<'a>(codes: &'a [String], centres: &'a [i64]) -> Choices<'a> {
        Choices {
            specialty_codes: codes,
            centre_ids: centres,
            published_position_ids: &[],
            privacy_notice_version: "v1",
            today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        }
    }

    #[test]
    fn a_complete_form_parses() {
        let codes = vec!["SM54".to_owned()];
        let app = validate(&valid_raw(), &choices(&codes, &[1])).unwrap();
        assert_eq!(app.part_time_half_days, Some(6));
        assert_eq!(app.rpps.unwrap().as_str(), "10132437004");
    }

    #[test]
    fn part_time_without_days_is_refused_on_that_field() {
        let codes = vec!["SM54".to_owned()];
        let mut raw = valid_raw();
        raw.demi_journees = String::new();
        let errors = validate(&raw, &choices(&codes, &[1])).unwrap_err();
        assert!(errors.0.contains_key("demi_journees"));
        assert_eq!(errors.0.len(), 1);
    }

    #[test]
    fn every_problem_is_reported_at_once_in_form_order() {
        let codes = vec!["SM54".to_owned()];
        let raw = RawApplicationForm::default();
        let errors = validate(&raw, &choices(&codes, &[1])).unwrap_err();
        let fields: Vec<_> = errors
            .summary(FIELD_ORDER)
            .iter()
            .map(|s| s.field)
            .collect();
        assert_eq!(
            fields,
            [
                "civilite",
                "prenom",
                "nom",
                "courriel",
                "telephone",
                "specialite",
                "situation",
                "temps_travail",
                "consentement",
                "formulaire"
            ]
        );
    }
}
