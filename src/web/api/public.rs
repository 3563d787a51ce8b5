//! The public routes: the published positions, and submitting an application with the form's
//! rules (the JSON is turned into the form's raw values, then the same use case runs).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::json::{self, ApiJson};
use super::problem::{FieldError, Problem};
use crate::applications::{
    self, Choices, NewApplication, RawApplicationForm, Recorded, FIELD_ORDER,
};
use crate::domain::FieldErrors;
use crate::web::{db, AppState};

/// A published position.
#[derive(Debug, Serialize, ToSchema)]
pub struct PosteApi {
    pub id: i64,
    pub intitule: String,
    pub description: String,
    /// The specialty's label, if the position asks for one.
    pub specialite: Option<String>,
    /// Working time in words ("Temps plein", "Temps partiel (60 % à 80 %)"…).
    pub temps_travail: String,
    /// The communes of the centres concerned.
    pub communes: Vec<String>,
}

/// The published positions, as on the campaign page.
#[utoipa::path(
    get,
    path = "/api/v1/postes",
    operation_id = "listerPostes",
    tag = "public",
    responses(
        (status = 200, description = "Les postes publiés", body = [PosteApi]),
        (status = 503, description = "Base de données indisponible", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn list_positions(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let positions = db(&state, |conn| {
        Ok(crate::positions::open::list_open_summaries(
            conn,
            crate::domain::paris_today(),
        )?)
    })
    .await?;
    let body: Vec<PosteApi> = positions
        .into_iter()
        .map(|p| PosteApi {
            id: p.id,
            intitule: p.title,
            description: p.description,
            specialite: p.specialty,
            temps_travail: p.working_time,
            communes: p.communes,
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// An application, with the names and rules of the form at /candidature. No CV through the
/// API: the candidate may send it later by e-mail.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CandidatureEntree {
    /// `madame`, `monsieur` or `non_precise`.
    #[schema(required = true)]
    pub civilite: String,
    #[schema(required = true)]
    pub prenom: String,
    #[schema(required = true)]
    pub nom: String,
    #[schema(required = true)]
    pub courriel: String,
    #[schema(required = true)]
    pub telephone: String,
    /// 11 digits with a Luhn key, optional.
    pub rpps: Option<String>,
    /// A specialty code of the list (SM54 for general practice…).
    #[schema(required = true)]
    pub specialite: String,
    /// `interne`, `jeune_diplome`, `remplacant`, `liberal`, `salarie`, `retraite`,
    /// `diplome_etranger`…
    #[schema(required = true)]
    pub situation: String,
    /// AAAA-MM-JJ or JJ/MM/AAAA.
    pub disponibilite: Option<String>,
    /// `temps_plein` or `temps_partiel`.
    #[schema(required = true)]
    pub temps_travail: String,
    /// Half-days per week for part time, 1 to 9.
    #[serde(deserialize_with = "json::integer::option_i16")]
    pub demi_journees: Option<i16>,
    /// Ids of the wished centres.
    #[serde(deserialize_with = "json::integer::vec_i64")]
    pub centres: Vec<i64>,
    /// Willing to take part in on-call duty.
    pub garde: bool,
    /// Willing to train interns.
    pub maitre_stage: bool,
    /// Support wanted for the spouse's job search (#Dites32 à 2): `true`, `false`, or absent
    /// when not answered.
    pub conjoint: Option<bool>,
    /// The spouse's field of work, one line of 200 characters at most; only with
    /// `conjoint: true`.
    pub conjoint_domaine: Option<String>,
    pub message: Option<String>,
    /// How the candidate heard of the campaign (code), optional.
    pub connaissance: Option<String>,
    /// A published position's id; absent for a spontaneous application.
    #[serde(deserialize_with = "json::integer::option_i64")]
    pub poste: Option<i64>,
    /// Consent to the processing of the data (required).
    #[schema(required = true)]
    pub consentement: bool,
    /// Consent to be kept in the pool after the process.
    pub vivier: bool,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    /// The signed token of a campaign's tracked link, for attribution.
    pub suivi: Option<String>,
    /// The code of a channel link (`/l/{code}`), for attribution; an unknown code is ignored.
    pub canal: Option<String>,
    /// Idempotency key (a UUID), also accepted as the `Idempotency-Key` header: the same key
    /// sent again records nothing more and answers with the same reference.
    pub cle: Option<String>,
}

/// What the API answers once an application is recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidatureRecue {
    /// The application's public reference (the idempotency key).
    #[schema(value_type = String, example = "3f2b8c9e-1d4a-4e6b-9c1f-2a7d5e8b0c43")]
    pub reference: Uuid,
    /// `enregistree` (recorded: the same answer whether the person was known or not) or
    /// `deja_recue` (this key was already used: nothing more was recorded).
    pub statut: String,
    pub message: String,
    /// The confirmation page, valid for a day.
    pub confirmation: String,
}

fn key_error(message: &str) -> FieldError {
    FieldError {
        field: "cle".to_owned(),
        message: message.to_owned(),
    }
}

/// Turns the JSON application into what the form would have sent, with its idempotency key
/// (from the header or the `cle` field); the form's validator then applies the same rules.
pub fn to_raw_form(
    input: CandidatureEntree,
    header_key: Option<&str>,
) -> Result<RawApplicationForm, Vec<FieldError>> {
    let parse = |k: &str| Uuid::parse_str(k.trim()).ok();
    let key = match (header_key, input.cle.as_deref()) {
        (None, None) => Uuid::new_v4(),
        (Some(h), None) => parse(h).ok_or_else(|| {
            vec![key_error(
                "L'en-tête Idempotency-Key doit être un UUID (par exemple \
                 3f2b8c9e-1d4a-4e6b-9c1f-2a7d5e8b0c43).",
            )]
        })?,
        (h, Some(c)) => {
            let key = parse(c).ok_or_else(|| {
                vec![key_error(
                    "La clé doit être un UUID (par exemple 3f2b8c9e-1d4a-4e6b-9c1f-2a7d5e8b0c43).",
                )]
            })?;
            if h.is_some_and(|h| parse(h) != Some(key)) {
                return Err(vec![key_error(
                    "La clé diffère de l'en-tête Idempotency-Key : n'en envoyez qu'une, ou la \
                     même.",
                )]);
            }
            key
        }
    };
    if input.demi_journees.is_some_and(|n| !(1..=9).contains(&n)) {
        return Err(vec![FieldError {
            field: "demi_journees".to_owned(),
            message: "De 1 à 9 demi-journées par semaine.".to_owned(),
        }]);
    }
    if input.conjoint != Some(true) && input.conjoint_domaine.is_some() {
        return Err(vec![FieldError {
            field: "conjoint_domaine".to_owned(),
            message: "Le domaine de travail du conjoint ne se donne qu'avec « conjoint » : true \
                      (accompagnement souhaité)."
                .to_owned(),
        }]);
    }
    Ok(RawApplicationForm {
        civilite: input.civilite,
        prenom: input.prenom,
        nom: input.nom,
        courriel: input.courriel,
        telephone: input.telephone,
        rpps: input.rpps.unwrap_or_default(),
        specialite: input.specialite,
        situation: input.situation,
        disponibilite: input.disponibilite.unwrap_or_default(),
        temps_travail: input.temps_travail,
        demi_journees: input
            .demi_journees
            .map(|n| n.to_string())
            .unwrap_or_default(),
        centres: input.centres.iter().map(i64::to_string).collect(),
        garde: input.garde,
        maitre_stage: input.maitre_stage,
        conjoint: match input.conjoint {
            Some(true) => "oui",
            Some(false) => "non",
            None => "",
        }
        .to_owned(),
        conjoint_domaine: input.conjoint_domaine.unwrap_or_default(),
        message: input.message.unwrap_or_default(),
        connaissance: input.connaissance.unwrap_or_default(),
        poste: input.poste.map(|p| p.to_string()).unwrap_or_default(),
        consentement: input.consentement,
        vivier: input.vivier,
        utm_source: input.utm_source.unwrap_or_default(),
        utm_medium: input.utm_medium.unwrap_or_default(),
        utm_campaign: input.utm_campaign.unwrap_or_default(),
        suivi: input.suivi.unwrap_or_default().chars().take(100).collect(),
        canal: input.canal.unwrap_or_default().chars().take(100).collect(),
        soumission: key.to_string(),
        ..RawApplicationForm::default()
    })
}

/// Field errors of the application form, in the form's order.
fn from_field_errors(errors: &FieldErrors) -> Vec<FieldError> {
    let mut list: Vec<FieldError> = errors
        .summary(FIELD_ORDER)
        .into_iter()
        .map(|item| FieldError {
            field: item.field.to_owned(),
            message: item.message,
        })
        .collect();
    // Fields outside the form's list (none today) are kept, after the others.
    for (field, message) in &errors.0 {
        if !list.iter().any(|e| e.field == *field) {
            list.push(FieldError {
                field: (*field).to_owned(),
                message: message.clone(),
            });
        }
    }
    list
}

/// The whole parsing of a JSON application body, from bytes to a valid application or a
/// problem (400 for unreadable JSON, 422 with field errors): what the handler does, without the
/// database.
pub fn parse_application(
    body: &[u8],
    header_key: Option<&str>,
    choices: &Choices<'_>,
) -> Result<NewApplication, Problem> {
    let input: CandidatureEntree = json::parse_json(body)?;
    let raw = to_raw_form(input, header_key).map_err(Problem::validation)?;
    applications::validate(&raw, choices)
        .map_err(|errors| Problem::validation(from_field_errors(&errors)))
}

/// Submits an application, with the rules and protections of the form (validation, per-address
/// rate limit, one application per idempotency key, merging of known candidates, e-mails to the
/// candidate and the recruiters). No CV through the API.
#[utoipa::path(
    post,
    path = "/api/v1/candidatures",
    operation_id = "deposerCandidature",
    tag = "public",
    request_body(content = CandidatureEntree, description = "La candidature (sans CV : le CV n'est pas accepté par l'API)", content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID : la même clé renvoyée n'enregistre rien de plus")),
    responses(
        (status = 201, description = "Candidature enregistrée", body = CandidatureRecue),
        (status = 200, description = "Cette clé a déjà été reçue : rien de plus n'a été enregistré", body = CandidatureRecue),
        (status = 400, description = "JSON illisible, champ inconnu ou en double, type inattendu", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Corps trop volumineux (64 Ko au plus)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type autre que application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Champs à corriger", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Trop d'envois depuis cette adresse", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn submit_application(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<CandidatureEntree>,
) -> Result<HttpResponse, Problem> {
    let header_key = match req.headers().get("Idempotency-Key") {
        None => None,
        Some(v) => Some(v.to_str().map(str::to_owned).map_err(|_| {
            Problem::validation(vec![key_error(
                "L'en-tête Idempotency-Key doit être un UUID.",
            )])
        })?),
    };
    let raw = to_raw_form(body.0, header_key.as_deref()).map_err(Problem::validation)?;
    let shared = state.clone();
    let (key, recorded) = db(&state, move |conn| {
        Ok(applications::check_and_submit(
            conn,
            &shared.settings,
            &shared.specialties,
            &raw,
            Utc::now(),
        )?)
    })
    .await?
    .map_err(|errors| Problem::validation(from_field_errors(&errors)))?;
    if recorded.is_new() {
        state.metrics.application_received();
    }
    if recorded.queued_mail() {
        state.mail_wake.notify_one();
    }
    let (status, statut, message) = match recorded {
        // The same answer whether the person was known or not (nothing tells an outsider that
        // an e-mail, a phone or an RPPS number is on file).
        Recorded::New { .. } | Recorded::Completed { .. } => (
            StatusCode::CREATED,
            "enregistree",
            "Candidature enregistrée ; un courriel de confirmation est envoyé au candidat.",
        ),
        Recorded::AlreadyReceived { .. } => (
            StatusCode::OK,
            "deja_recue",
            "Cette candidature (même clé) avait déjà été reçue : rien de plus n'a été enregistré.",
        ),
    };
    let confirmation = format!("/candidature/merci/{key}");
    Ok(HttpResponse::build(status)
        .insert_header((header::LOCATION, confirmation.clone()))
        .json(CandidatureRecue {
            reference: key,
            statut: statut.to_owned(),
            message: message.to_owned(),
            confirmation,
        }))
}
