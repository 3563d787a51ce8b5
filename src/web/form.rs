//! The application form: reading the multipart body within limits, and turning what was typed
//! into a [`NewApplication`] or a list of French messages, one per wrong field, in form order.

use actix_multipart::Multipart;
use chrono::NaiveDate;
use futures_util::StreamExt;
use serde::Serialize;
use uuid::Uuid;
use validator::Validate;

use crate::applications::{NewApplication, Utm};
use crate::db::enums::{Civility, HeardFrom, Situation, WorkingTime};
use crate::domain::fields::{parse_date, FieldErrors};
use crate::domain::{EmailAddress, FreeText, PersonName, PhoneNumber, Rpps};
use crate::error::AppError;

/// Longest text field accepted (bytes); the message is the longest by far.
const MAX_TEXT_FIELD_BYTES: usize = 32 * 1024;
/// Hard cap on the whole body: past it we stop reading.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const MAX_FIELDS: usize = 64;
pub const MAX_MESSAGE_CHARS: usize = 5000;

/// The uploaded CV as received.
#[derive(Debug, Default)]
pub struct Upload {
    pub client_name: String,
    pub bytes: Vec<u8>,
    /// Bytes received in all, even past the limit (then `bytes` is truncated).
    pub size: usize,
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
    pub message: String,
    pub connaissance: String,
    pub poste: String,
    pub consentement: bool,
    pub vivier: bool,
    #[validate(length(max = 200, message = "Lien de campagne trop long."))]
    pub utm_source: String,
    /// The signed token of a campaign's tracked link (attribution).
    pub suivi: String,
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

/// Form reading failures that are not about one field.
#[derive(Debug)]
pub enum ReadError {
    /// The body exceeded [`MAX_BODY_BYTES`].
    TooLarge,
    Bad(AppError),
}

fn bad(message: impl Into<String>) -> ReadError {
    ReadError::Bad(AppError::BadRequest(message.into()))
}

/// Reads the multipart body. The CV is kept up to `max_cv_bytes + 1` bytes (enough to know it is
/// too large); the rest of an oversized file is read and dropped so that the browser gets our
/// answer instead of a broken connection.
pub async fn read(
    mut payload: Multipart,
    max_cv_bytes: usize,
) -> Result<RawApplicationForm, ReadError> {
    let mut form = RawApplicationForm::default();
    let mut seen: Vec<String> = Vec::new();
    let mut total = 0usize;
    let mut fields = 0usize;
    while let Some(item) = payload.next().await {
        let mut field =
            item.map_err(|e| ReadError::Bad(crate::web::inputs::multipart_failure(&e)))?;
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(bad("Le formulaire contient trop de champs."));
        }
        let name = field.name().unwrap_or_default().to_owned();
        // Names are chosen by the client: shown only when plain.
        let shown = crate::web::inputs::shown_name(&name);
        if name == "cv" {
            let client_name = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .unwrap_or_default()
                .to_owned();
            let mut upload = Upload {
                client_name,
                ..Upload::default()
            };
            while let Some(chunk) = field.next().await {
                let chunk =
                    chunk.map_err(|e| ReadError::Bad(crate::web::inputs::multipart_failure(&e)))?;
                total += chunk.len();
                if total > MAX_BODY_BYTES {
                    return Err(ReadError::TooLarge);
                }
                upload.size += chunk.len();
                if upload.bytes.len() <= max_cv_bytes {
                    let room = max_cv_bytes + 1 - upload.bytes.len();
                    upload
                        .bytes
                        .extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
            }
            if form.cv.is_some() {
                return Err(bad("Un seul fichier CV peut être joint."));
            }
            // A file input left empty still sends a part, with no name and no bytes.
            if upload.size > 0 || !upload.client_name.is_empty() {
                form.cv = Some(upload);
            }
            continue;
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| ReadError::Bad(crate::web::inputs::multipart_failure(&e)))?;
            total += chunk.len();
            if total > MAX_BODY_BYTES {
                return Err(ReadError::TooLarge);
            }
            if value.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
                return Err(bad(format!(
                    "Le champ « {shown} » est trop long (32 Ko au plus)."
                )));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value).map_err(|_| {
            bad(format!(
                "Le champ « {shown} » contient des caractères illisibles (encodage UTF-8 attendu)."
            ))
        })?;
        if crate::web::inputs::has_control(&name) {
            return Err(bad(
                "Un nom de champ contient un caractère de contrôle invisible (par exemple NUL) : \
                 rechargez la page et recommencez.",
            ));
        }
        let value = if crate::web::inputs::has_control(&value) {
            form.with_control.push(name.clone());
            String::new()
        } else {
            value
        };
        if name == "centres" {
            form.centres.push(value);
            continue;
        }
        if seen.contains(&name) {
            return Err(bad(format!(
                "Le champ « {shown} » a été envoyé plusieurs fois."
            )));
        }
        seen.push(name.clone());
        let checked = !value.is_empty();
        match name.as_str() {
            "civilite" => form.civilite = value,
            "prenom" => form.prenom = value,
            "nom" => form.nom = value,
            "courriel" => form.courriel = value,
            "telephone" => form.telephone = value,
            "rpps" => form.rpps = value,
            "specialite" => form.specialite = value,
            "situation" => form.situation = value,
            "disponibilite" => form.disponibilite = value,
            "temps_travail" => form.temps_travail = value,
            "demi_journees" => form.demi_journees = value,
            "garde" => form.garde = checked,
            "maitre_stage" => form.maitre_stage = checked,
            "message" => form.message = value,
            "connaissance" => form.connaissance = value,
            "poste" => form.poste = value,
            "consentement" => form.consentement = checked,
            "vivier" => form.vivier = checked,
            "utm_source" => form.utm_source = value,
            "suivi" => form.suivi = value.chars().take(100).collect(),
            "utm_medium" => form.utm_medium = value,
            "utm_campaign" => form.utm_campaign = value,
            "soumission" => form.soumission = value,
            "csrf" => form.csrf = value,
            "site_web" => form.site_web = value,
            // Unknown fields (a browser extension, an old form) are ignored.
            _ => {}
        }
    }
    Ok(form)
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
        errors.add(id, crate::web::inputs::CONTROL_MESSAGE);
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
