//! A candidate's page in two parts: a summary with the actions possible now (move forward,
//! refuse, withdrawal, pool, meeting, note), beside a timeline of everything that happened.
//! Also recruiters' notes, merging two records and downloading a document. A refused action
//! shows the page again (422) with the message at the field and what was typed.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::candidates::timeline::{timeline, TimelineEntry};
use crate::candidates::{self, ApplicationView, CandidateView, PossibleDuplicate};
use crate::db::enums::{Civility, Situation, Stage, WorkingTime};
use crate::domain::describe_half_days;
use crate::domain::ids::CandidateId;
use crate::error::AppError;
use crate::offers::OfferView;
use crate::pipeline::evaluation::EvaluationView;
use crate::pipeline::meetings::MeetingView;
use crate::pipeline::{REFUSAL_REASONS, WITHDRAWAL_REASONS};
use crate::placements::PlacementView;
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::pages::see_other;
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

use super::{option, Choice};

/// What a submission proposes to change in the record.
#[derive(Serialize)]
struct ProposalView {
    key: uuid::Uuid,
    created_at: chrono::DateTime<chrono::Utc>,
    duplicate: bool,
    changes: Vec<ChangeView>,
}

/// One field a submission proposes to change, in words.
#[derive(Serialize)]
struct ChangeView {
    label: &'static str,
    current: String,
    proposed: String,
}

/// The confirmation shown once after an action, from a fixed code of the redirect: never text
/// taken from the address.
fn flash(code: &str) -> Option<String> {
    let fixed = match code {
        "note" => "Note ajoutée.",
        "rendez-vous" => "Rendez-vous enregistré.",
        "invitation" => "Rendez-vous enregistré ; l'invitation part au candidat par courriel.",
        "rendez-vous-deplace" => "Rendez-vous déplacé.",
        "rendez-vous-deplace-courriel" => "Rendez-vous déplacé ; la mise à jour part au candidat par courriel.",
        "rendez-vous-annule" => "Rendez-vous annulé.",
        "rendez-vous-annule-courriel" => "Rendez-vous annulé ; l'annulation part au candidat par courriel.",
        "grille" => "Grille d'entretien enregistrée.",
        "fiche" => "Fiche modifiée.",
        "reponse" => "Réponse enregistrée ; elle part au candidat par courriel.",
        "fusion" => "Fiches fusionnées : les candidatures, notes et documents de l'autre fiche sont maintenant sur celle-ci.",
        _ => {
            let (rest, with_email) = match code.strip_suffix("-courriel") {
                Some(rest) => (rest, true),
                None => (code, false),
            };
            let stage = Stage::from_code(rest.strip_prefix("etape-")?)?;
            return Some(format!(
                "Candidature passée à l'étape « {} »{}.",
                stage.label(),
                if with_email {
                    " ; le courriel part au candidat"
                } else {
                    ""
                }
            ));
        }
    };
    Some(fixed.to_owned())
}

/// The flash code after a stage move (see [`flash`]).
pub(super) fn moved_code(to: Stage, with_email: bool) -> String {
    format!(
        "etape-{}{}",
        to.code(),
        if with_email { "-courriel" } else { "" }
    )
}

/// How long an application has been at its stage, in words.
fn since(entered: chrono::DateTime<chrono::Utc>, today: NaiveDate) -> String {
    let day = entered
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    match (today - day).num_days() {
        n if n <= 0 => "depuis aujourd'hui".to_owned(),
        1 => "depuis hier".to_owned(),
        n => format!("depuis {n} jours"),
    }
}

/// Which form of an application a stage move came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MoveKind {
    Forward,
    Refuse,
    Withdraw,
    Pool,
}

impl MoveKind {
    pub(super) fn of(to: Stage) -> MoveKind {
        match to {
            Stage::Refused => MoveKind::Refuse,
            Stage::Withdrawn => MoveKind::Withdraw,
            Stage::Pool => MoveKind::Pool,
            _ => MoveKind::Forward,
        }
    }

    /// The code in the form's field ids.
    pub(super) fn code(self) -> &'static str {
        match self {
            MoveKind::Forward => "avancer",
            MoveKind::Refuse => "refus",
            MoveKind::Withdraw => "desistement",
            MoveKind::Pool => "vivier",
        }
    }
}

/// One of an application's stage forms, with what was typed and the messages at its fields.
#[derive(Debug, Default, Serialize)]
pub(super) struct ActionForm {
    /// Shown unfolded (it was just used and refused).
    pub open: bool,
    /// A message about the whole form (a stale page, a move not allowed).
    pub form_error: Option<String>,
    pub reason_error: Option<String>,
    pub date_error: Option<String>,
    pub note_error: Option<String>,
    pub note: String,
    pub reason: String,
    pub follow_up: String,
    pub email: bool,
    /// The reasons to choose from (refusal, withdrawal), the typed one selected.
    pub reasons: Vec<Choice>,
}

/// The meeting form of an application, with what was typed and the messages at its fields.
#[derive(Debug, Serialize)]
pub(super) struct MeetingForm {
    pub open: bool,
    pub kind: String,
    pub date: String,
    pub time: String,
    pub duration: String,
    pub centre: String,
    pub place: String,
    pub participants: String,
    pub note: String,
    pub invite: bool,
    pub kind_error: Option<String>,
    pub date_error: Option<String>,
    pub time_error: Option<String>,
    pub duration_error: Option<String>,
    pub centre_error: Option<String>,
    pub kinds: Vec<Choice>,
    pub centres: Vec<Choice>,
}

impl Default for MeetingForm {
    fn default() -> Self {
        MeetingForm {
            open: false,
            kind: "entretien".to_owned(),
            date: String::new(),
            time: String::new(),
            duration: "1 h".to_owned(),
            centre: String::new(),
            place: String::new(),
            participants: String::new(),
            note: String::new(),
            invite: true,
            kind_error: None,
            date_error: None,
            time_error: None,
            duration_error: None,
            centre_error: None,
            kinds: Vec::new(),
            centres: Vec::new(),
        }
    }
}

/// The note form, with what was typed and its message.
#[derive(Debug, Default, Serialize)]
pub(super) struct NoteFormView {
    pub note: String,
    pub error: Option<String>,
}

/// The answer form of the conversation, with what was typed and the messages at its fields.
#[derive(Debug, Default, Serialize)]
pub(super) struct AnswerFormView {
    pub open: bool,
    pub subject: String,
    pub body: String,
    pub form_error: Option<String>,
    pub subject_error: Option<String>,
    pub body_error: Option<String>,
}

/// One line of the error summary at the top of the page, linking to its field.
#[derive(Debug, Serialize)]
pub(super) struct SummaryLink {
    pub href: String,
    pub message: String,
}

/// What a refused action shows again: its status, the form used with what was typed, and the
/// summary of the messages.
#[derive(Debug, Default)]
pub(super) struct Reshow {
    pub status: Option<StatusCode>,
    /// (application id, which form, its state)
    pub action: Option<(i64, MoveKind, ActionForm)>,
    /// (application id, its meeting form)
    pub meeting: Option<(i64, MeetingForm)>,
    pub note: Option<NoteFormView>,
    pub answer: Option<AnswerFormView>,
    pub errors: Vec<SummaryLink>,
    /// The part of the timeline asked for (`?voir=`), all of it when empty or unknown.
    pub timeline_filter: String,
}

/// An application with the actions possible now.
#[derive(Serialize)]
struct ApplicationPanel<'a> {
    #[serde(flatten)]
    app: &'a ApplicationView,
    since: String,
    offers: Vec<&'a OfferView>,
    can_offer: bool,
    /// The forward stages one may choose by hand.
    forward: Vec<&'a candidates::Target>,
    forward_form: ActionForm,
    refuse_form: Option<ActionForm>,
    withdraw_form: Option<ActionForm>,
    pool_form: Option<ActionForm>,
    meeting_form: MeetingForm,
}

/// A meeting with its grid.
#[derive(Serialize)]
struct MeetingPanel<'a> {
    #[serde(flatten)]
    meeting: &'a MeetingView,
    evaluation: Option<&'a EvaluationView>,
}

/// The candidate's page.
#[derive(Serialize)]
struct CandidatePageView<'a> {
    candidate: &'a CandidateView,
    applications: Vec<ApplicationPanel<'a>>,
    placements: &'a [PlacementView],
    meetings: Vec<MeetingPanel<'a>>,
    duplicates: &'a [PossibleDuplicate],
    proposals: Vec<ProposalView>,
    timeline: Vec<TimelineEntry>,
    timeline_filters: Vec<FilterLink>,
    flash: Option<String>,
    errors: Vec<SummaryLink>,
    note_form: NoteFormView,
    answer_form: AnswerFormView,
    /// The candidate has an address one may write to.
    can_answer: bool,
    /// Answers to mail come back to Vocation (a mailbox is read).
    conversations: bool,
    /// Received messages not read before this visit.
    unread: usize,
    /// The last messages exchanged, oldest first, for the « Échanges » section.
    exchanges: Vec<&'a crate::conversations::MessageView>,
}

fn reasons(list: &'static [(&'static str, &'static str)], chosen: &str) -> Vec<Choice> {
    let mut out = vec![option("", "Choisissez le motif", chosen)];
    out.extend(list.iter().map(|(v, l)| option(v, l, chosen)));
    out
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// The code of the confirmation to show (see [`flash`]).
    #[serde(default)]
    fait: String,
    /// The part of the timeline to show (see [`TIMELINE_FILTERS`]).
    #[serde(default)]
    voir: String,
}

/// The timeline's filters: code, label, and the kinds of entries each shows.
const TIMELINE_FILTERS: &[(&str, &str, &[&str])] = &[
    ("", "Tout", &[]),
    ("etapes", "Étapes", &["etape"]),
    ("courriels", "Courriels", &["courriel", "echange"]),
    ("notes", "Notes", &["note"]),
    ("rendez-vous", "Rendez-vous et grilles", &["rdv", "grille"]),
    (
        "propositions",
        "Propositions",
        &["proposition", "affectation"],
    ),
    (
        "documents",
        "Documents et formulaires",
        &["document", "formulaire"],
    ),
];

/// A filter link of the timeline.
#[derive(Serialize)]
struct FilterLink {
    href: String,
    label: &'static str,
    current: bool,
}

pub async fn candidate(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let query = query.into_inner();
    let id = path.into_inner();
    let page = render_candidate(
        &state,
        &staff,
        id,
        flash(&query.fait),
        Reshow {
            timeline_filter: query.voir,
            ..Default::default()
        },
    )
    .await?;
    // Shown once as new, then read.
    db(&state, move |conn| {
        Ok(crate::conversations::mark_read(
            conn,
            id,
            chrono::Utc::now(),
        )?)
    })
    .await?;
    Ok(page)
}

/// Renders the page of candidate `id`, with `reshow`'s forms and messages after a refused
/// action.
pub(super) async fn render_candidate(
    state: &AppState,
    staff: &Staff,
    id: i64,
    flash: Option<String>,
    mut reshow: Reshow,
) -> Result<HttpResponse, AppError> {
    let today = crate::domain::paris_today();
    let page = db(state, move |conn| {
        Ok(candidates::page::page(conn, id, today)?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let candidate_id = page.candidate.id;
    let on_file = db(state, move |conn| {
        Ok(candidates::edit_values(conn, candidate_id)?)
    })
    .await?;
    let proposals = match on_file {
        Some(current) => proposals_view(state, &page.centres, &current, &page.submitted),
        None => Vec::new(),
    };
    let view = &page.candidate;
    let title = format!("{} {}", view.first_name, view.last_name);
    let applications = view
        .applications
        .iter()
        .map(|app| {
            let stage = Stage::from_code(app.stage_code);
            let placed = page.placements.iter().any(|p| p.application_id == app.id);
            let targets: Vec<&str> = app.targets.iter().map(|t| t.code).collect();
            let mut forms = [
                MoveKind::Forward,
                MoveKind::Refuse,
                MoveKind::Withdraw,
                MoveKind::Pool,
            ]
            .map(|kind| {
                let mut form = match reshow.action.take() {
                    Some((app_id, k, form)) if app_id == app.id && k == kind => form,
                    other => {
                        reshow.action = other;
                        ActionForm::default()
                    }
                };
                form.reasons = match kind {
                    MoveKind::Refuse => reasons(REFUSAL_REASONS, &form.reason),
                    MoveKind::Withdraw => reasons(WITHDRAWAL_REASONS, &form.reason),
                    _ => Vec::new(),
                };
                Some(form)
            });
            let allowed = |s: Stage| targets.contains(&s.code());
            let mut meeting_form = match reshow.meeting.take() {
                Some((app_id, form)) if app_id == app.id => form,
                other => {
                    reshow.meeting = other;
                    MeetingForm::default()
                }
            };
            meeting_form.kinds = vec![
                option("entretien", "Entretien", &meeting_form.kind),
                option("visite", "Visite du territoire", &meeting_form.kind),
            ];
            meeting_form.centres = std::iter::once(option("", "Aucun", &meeting_form.centre))
                .chain(
                    page.centres
                        .iter()
                        .map(|c| option(&c.id.to_string(), &c.commune, &meeting_form.centre)),
                )
                .collect();
            ApplicationPanel {
                app,
                since: since(app.stage_entered_at, today),
                offers: page
                    .offers
                    .iter()
                    .filter(|o| o.application_id == app.id)
                    .collect(),
                can_offer: !placed
                    && stage.is_some_and(|s| crate::offers::OFFER_STAGES.contains(&s)),
                forward: app
                    .targets
                    .iter()
                    .filter(|t| {
                        !matches!(
                            Stage::from_code(t.code),
                            Some(Stage::Refused | Stage::Withdrawn | Stage::Pool) | None
                        )
                    })
                    .collect(),
                forward_form: forms[0].take().unwrap_or_default(),
                refuse_form: forms[1].take().filter(|_| allowed(Stage::Refused)),
                withdraw_form: forms[2].take().filter(|_| allowed(Stage::Withdrawn)),
                pool_form: forms[3].take().filter(|_| allowed(Stage::Pool)),
                meeting_form,
            }
        })
        .collect();
    let meetings = page
        .meetings
        .iter()
        .map(|m| MeetingPanel {
            meeting: m,
            evaluation: page.evaluations.iter().find(|e| e.meeting_id == m.id),
        })
        .collect();
    let (filter, kinds) = TIMELINE_FILTERS
        .iter()
        .find(|(code, _, _)| *code == reshow.timeline_filter)
        .map_or(("", &[][..]), |(code, _, kinds)| (*code, *kinds));
    let status = reshow.status.unwrap_or(StatusCode::OK);
    let title = if status == StatusCode::OK {
        title
    } else {
        format!("Erreur – {title}")
    };
    let data = CandidatePageView {
        candidate: view,
        applications,
        placements: &page.placements,
        meetings,
        duplicates: &page.duplicates,
        proposals,
        timeline: timeline(&page)
            .into_iter()
            .filter(|e| kinds.is_empty() || kinds.contains(&e.kind))
            .collect(),
        timeline_filters: TIMELINE_FILTERS
            .iter()
            .map(|(code, label, _)| FilterLink {
                href: if code.is_empty() {
                    format!("/recrutement/candidats/{candidate_id}#historique")
                } else {
                    format!("/recrutement/candidats/{candidate_id}?voir={code}#historique")
                },
                label,
                current: *code == filter,
            })
            .collect(),
        flash,
        errors: reshow.errors,
        note_form: reshow.note.unwrap_or_default(),
        answer_form: reshow.answer.unwrap_or_else(|| AnswerFormView {
            subject: crate::conversations::answer_subject(
                &page.messages,
                &format!(
                    "Votre candidature – {}",
                    state.settings.organisation.service
                ),
            ),
            ..Default::default()
        }),
        can_answer: view.email.contains('@'),
        conversations: state.settings.conversations(),
        unread: page
            .messages
            .iter()
            .filter(|m| m.direction == "recu" && !m.read)
            .count(),
        exchanges: {
            let shown: Vec<_> = page.messages.iter().filter(|m| !m.automatic).collect();
            let skip = shown.len().saturating_sub(5);
            shown.into_iter().skip(skip).collect()
        },
    };
    let data = serde_json::to_value(&data)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("candidate view: {e}")))?;
    staff_page(state, staff, "pipeline/candidate", &title, status, data)
}

/// Which values of the submissions differ from the record: what each proposed, field by
/// field, in words, for the recruiter to apply (or not) through the edit page.
fn proposals_view(
    state: &AppState,
    centres: &[crate::centres::Centre],
    current: &crate::applications::RawApplicationForm,
    submitted: &[crate::applications::SubmissionOf],
) -> Vec<ProposalView> {
    let specialty = |code: &str| {
        state
            .specialties
            .iter()
            .find(|s| s.code == code)
            .map_or_else(|| code.to_owned(), |s| s.label.clone())
    };
    let civility = |code: &str| {
        Civility::from_code(code)
            .map_or("", Civility::label)
            .to_owned()
    };
    let situation = |code: &str| {
        Situation::from_code(code)
            .map_or("", Situation::label)
            .to_owned()
    };
    let working = |time: &str, half_days: &str| match (
        WorkingTime::from_code(time),
        half_days.parse::<i16>(),
    ) {
        (Some(WorkingTime::PartTime), Ok(n)) => format!("Temps partiel, {}", describe_half_days(n)),
        (Some(w), _) => w.label().to_owned(),
        (None, _) => String::new(),
    };
    let date = |d: &str| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_or_else(
            |_| "Dès maintenant".to_owned(),
            |d| d.format("%d/%m/%Y").to_string(),
        )
    };
    let places = |ids: &[String]| {
        let mut ids: Vec<&String> = ids.iter().collect();
        ids.sort();
        let names: Vec<String> = ids
            .iter()
            .filter_map(|id| centres.iter().find(|c| &c.id.to_string() == *id))
            .map(|c| c.commune.clone())
            .collect();
        if names.is_empty() {
            "Pas de préférence".to_owned()
        } else {
            names.join(", ")
        }
    };
    let yes_no = |b: bool| if b { "Oui" } else { "Non" }.to_owned();
    let mut out = Vec::new();
    for s in submitted.iter().filter(|s| !s.created_this_record) {
        let p = &s.submitted;
        let pairs = [
            (
                "Civilité",
                civility(&current.civilite),
                civility(&p.civilite),
            ),
            ("Prénom", current.prenom.clone(), p.prenom.clone()),
            ("Nom", current.nom.clone(), p.nom.clone()),
            ("Courriel", current.courriel.clone(), p.courriel.clone()),
            ("Téléphone", current.telephone.clone(), p.telephone.clone()),
            ("RPPS", current.rpps.clone(), p.rpps.clone()),
            (
                "Spécialité",
                specialty(&current.specialite),
                specialty(&p.specialite),
            ),
            (
                "Situation",
                situation(&current.situation),
                situation(&p.situation),
            ),
            (
                "Disponibilité",
                date(&current.disponibilite),
                date(&p.disponibilite),
            ),
            (
                "Temps de travail",
                working(&current.temps_travail, &current.demi_journees),
                working(&p.temps_travail, &p.demi_journees),
            ),
            (
                "Centres souhaités",
                places(&current.centres),
                places(&p.centres),
            ),
            ("Gardes", yes_no(current.garde), yes_no(p.garde)),
            (
                "Maître de stage",
                yes_no(current.maitre_stage),
                yes_no(p.maitre_stage),
            ),
        ];
        let changes: Vec<ChangeView> = pairs
            .into_iter()
            .filter(|(_, now, proposed)| now != proposed)
            .map(|(label, current, proposed)| ChangeView {
                label,
                current,
                proposed,
            })
            .collect();
        if changes.is_empty() {
            continue;
        }
        out.push(ProposalView {
            key: s.key,
            created_at: s.created_at,
            duplicate: s.match_kind == "doublon_possible",
            changes,
        });
    }
    out
}

#[derive(Debug, Default, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

pub async fn add_note(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<NoteForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let candidate_id = path.into_inner();
    let problem = match crate::domain::FreeText::parse(&form.note, 5000) {
        Ok(body) if body.as_str().is_empty() => {
            Err("La note est vide : écrivez-la avant de l'enregistrer.".to_owned())
        }
        Ok(body) => Ok(body),
        Err(_) => Err(format!(
            "La note compte {} caractères : raccourcissez-la à 5 000 au plus.",
            form.note.chars().count()
        )),
    };
    let body = match problem {
        Ok(body) => body,
        Err(message) => {
            let reshow = Reshow {
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                errors: vec![SummaryLink {
                    href: "#nouvelle-note".to_owned(),
                    message: format!("Note : {message}"),
                }],
                note: Some(NoteFormView {
                    note: form.into_inner().note,
                    error: Some(message),
                }),
                ..Default::default()
            };
            return render_candidate(&state, &staff, candidate_id, None, reshow).await;
        }
    };
    let author = staff.0.user_id;
    let added = db(&state, move |conn| {
        Ok(candidates::add_note(
            conn,
            candidate_id,
            author,
            body.as_str(),
            chrono::Utc::now(),
        )?)
    })
    .await?;
    if !added {
        return Err(AppError::NotFound);
    }
    Ok(see_other(format!(
        "/recrutement/candidats/{candidate_id}?fait=note#notes"
    )))
}

#[derive(Debug, Default, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    objet: String,
    #[serde(default)]
    message: String,
}

/// Longest answer a recruiter may write.
const ANSWER_MAX_CHARS: usize = 20_000;

/// A recruiter writes to the candidate from their page: sent through the outbox, threaded with
/// the last message received, and kept on the conversation.
pub async fn answer(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<AnswerForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let candidate_id = path.into_inner();
    let form = form.into_inner();
    let mut view = AnswerFormView {
        open: true,
        subject: form.objet.clone(),
        body: form.message.clone(),
        ..Default::default()
    };
    let subject = form.objet.trim().to_owned();
    if subject.is_empty() {
        view.subject_error = Some("Indiquez l'objet du courriel.".to_owned());
    } else if subject.chars().count() > 200 {
        view.subject_error = Some(format!(
            "L'objet compte {} caractères : raccourcissez-le à 200 au plus.",
            subject.chars().count()
        ));
    } else if subject.chars().any(char::is_control) {
        view.subject_error = Some("L'objet tient sur une ligne.".to_owned());
    }
    let body = match crate::domain::FreeText::parse(&form.message, ANSWER_MAX_CHARS) {
        Ok(body) if body.as_str().trim().is_empty() => {
            view.body_error = Some("Écrivez le message avant de l'envoyer.".to_owned());
            None
        }
        Ok(body) => Some(body),
        Err(_) => {
            view.body_error = Some(format!(
                "Le message compte {} caractères : raccourcissez-le à 20\u{202f}000 au plus.",
                crate::domain::french::thousands(form.message.chars().count() as i64)
            ));
            None
        }
    };
    let refuse = |view: AnswerFormView| {
        let mut errors = Vec::new();
        if let Some(m) = &view.form_error {
            errors.push(SummaryLink {
                href: "#reponse-objet".to_owned(),
                message: m.clone(),
            });
        }
        if let Some(m) = &view.subject_error {
            errors.push(SummaryLink {
                href: "#reponse-objet".to_owned(),
                message: format!("Objet : {m}"),
            });
        }
        if let Some(m) = &view.body_error {
            errors.push(SummaryLink {
                href: "#reponse-message".to_owned(),
                message: format!("Message : {m}"),
            });
        }
        Reshow {
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            answer: Some(view),
            errors,
            ..Default::default()
        }
    };
    let Some(body) = body.filter(|_| view.subject_error.is_none()) else {
        return render_candidate(&state, &staff, candidate_id, None, refuse(view)).await;
    };
    let settings = state.settings.clone();
    let author = staff.0.user_id;
    let sent = db(&state, move |conn| {
        Ok(crate::conversations::answer(
            conn,
            &settings,
            candidate_id,
            author,
            &subject,
            body.as_str().trim(),
            chrono::Utc::now(),
        )?)
    })
    .await?;
    match sent {
        Ok(_) => {
            state.mail_wake.notify_one();
            Ok(see_other(format!(
                "/recrutement/candidats/{candidate_id}?fait=reponse#echanges"
            )))
        }
        Err(crate::conversations::AnswerError::NoCandidate) => Err(AppError::NotFound),
        Err(crate::conversations::AnswerError::NoAddress) => {
            view.form_error = Some(
                "Ce candidat n'a pas d'adresse électronique : impossible de lui écrire.".to_owned(),
            );
            render_candidate(&state, &staff, candidate_id, None, refuse(view)).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    avec: String,
}

pub async fn merge(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<MergeForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let keep = path.into_inner();
    let other: i64 = form
        .avec
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("Fiche à fusionner illisible.".to_owned()))?;
    let actor = staff.0.user_id;
    let result = db(&state, move |conn| {
        Ok(candidates::merge(
            conn,
            actor,
            CandidateId(keep),
            CandidateId(other),
        )?)
    })
    .await?;
    match result {
        Ok(()) => Ok(see_other(format!(
            "/recrutement/candidats/{keep}?fait=fusion"
        ))),
        Err(candidates::MergeError::NotFound) => Err(AppError::NotFound),
        Err(e) => Err(AppError::Unprocessable(e.to_string())),
    }
}

pub async fn download_document(
    state: web::Data<AppState>,
    staff: Staff,
    req: actix_web::HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    let (key, name, _candidate, kind) = db(&state, move |conn| Ok(candidates::document(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let file = state.settings.storage.documents_dir.join(&key);
    let bytes = web::block(move || std::fs::read(file))
        .await
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("{e}")))?
        .map_err(|_| AppError::NotFound)?;
    // A HEAD (link checker) sends no document: nothing to record.
    let head = {
        use actix_web::HttpMessage;
        req.extensions()
            .get::<crate::web::inputs::HeadRequest>()
            .is_some()
    };
    if !head {
        let actor = staff.0.user_id;
        db(&state, move |conn| {
            Ok(crate::staff::audit::audit(
                conn,
                Some(actor),
                "telechargement",
                "document",
                Some(id),
                "",
            )?)
        })
        .await?;
    }
    // The uploader chose the name (`cv.html`, `cv.exe`): the file is served under one of ours.
    // The form stores only PDFs (checked by their bytes at upload); an attachment of a mail
    // received may be anything: served as a PDF only when its bytes are one, else as bytes to
    // save, never as something the browser would open.
    let (content_type, filename) = if kind == "piece_jointe" {
        (
            if crate::documents::looks_like_pdf(&bytes) {
                "application/pdf"
            } else {
                "application/octet-stream"
            },
            crate::documents::attachment_download_name(id, &name),
        )
    } else {
        ("application/pdf", crate::documents::download_name(id))
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}
