//! The recruiters' pages: the board, a candidate's page, stage moves, document downloads.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::candidates;
use crate::db::enums::{Situation, Stage, WorkingTime};
use crate::domain::{describe_half_days, parse_date};
use crate::error::AppError;
use crate::pipeline::{self, BoardFilter, MoveRequest, REFUSAL_REASONS, WITHDRAWAL_REASONS};
use crate::staff::RECRUITING;
use crate::templates;
use crate::web::body::Form;
use crate::web::staff::{page as render, Staff};
use crate::web::{db, AppState};

fn days_since(at: chrono::DateTime<Utc>) -> i64 {
    (Utc::now() - at).num_days().max(0)
}

fn option(value: &str, label: &str, chosen: &str) -> Value {
    json!({ "value": value, "label": label, "selected": value == chosen })
}

pub async fn board(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<BoardFilter>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let filter = query.into_inner();
    let f = filter.clone();
    let (columns, more, centres, positions) = db(&state, move |conn| {
        let (columns, more) = pipeline::board(conn, &f)?;
        Ok((
            columns,
            more,
            crate::centres::list_choosable(conn)?,
            crate::positions::list_published(conn)?,
        ))
    })
    .await?;
    let page = filter.page.unwrap_or(1).max(1);
    let total: i64 = columns.iter().map(|c| c.count).sum();
    let open: Vec<Value> = columns
        .iter()
        .filter(|c| c.stage.is_open() || c.stage == Stage::Recruited)
        .map(|c| column_view(c, &state.settings.pipeline.expected_days))
        .collect();
    let closed: Vec<Value> = columns
        .iter()
        .filter(|c| !(c.stage.is_open() || c.stage == Stage::Recruited))
        .map(|c| column_view(c, &state.settings.pipeline.expected_days))
        .collect();
    let mut specialties = vec![option(
        "MG",
        "Médecine générale (toutes)",
        &filter.specialite,
    )];
    specialties.extend(
        state
            .specialties
            .iter()
            .map(|s| option(&s.code, &s.label, &filter.specialite)),
    );
    let query_without_page = serde_urlencoded_like(&filter);
    render(
        &state,
        &staff,
        "pipeline/board",
        "Candidatures",
        json!({
            "filter": filter,
            "total": total,
            "open_columns": open,
            "closed_columns": closed,
            "specialties": specialties,
            "centres": centres.iter().map(|c| option(&c.id.to_string(), &c.commune, &filter.centre)).collect::<Vec<_>>(),
            "working_times": WorkingTime::ALL.iter().map(|w| option(w.code(), w.label(), &filter.temps)).collect::<Vec<_>>(),
            "situations": Situation::ALL.iter().map(|s| option(s.code(), s.label(), &filter.situation)).collect::<Vec<_>>(),
            "positions": positions.iter().map(|p| option(&p.id.to_string(), &p.title, &filter.poste)).collect::<Vec<_>>(),
            "spontaneous_selected": filter.poste == "spontanee",
            "page": page,
            "previous_page": (page > 1).then(|| page - 1),
            "next_page": more.then_some(page + 1),
            "query": query_without_page,
        }),
    )
}

/// The filter as a query string, without the page (for pagination links).
fn serde_urlencoded_like(filter: &BoardFilter) -> String {
    let pairs = [
        ("q", &filter.q),
        ("specialite", &filter.specialite),
        ("centre", &filter.centre),
        ("temps", &filter.temps),
        ("situation", &filter.situation),
        ("dispo_avant", &filter.dispo_avant),
        ("source", &filter.source),
        ("poste", &filter.poste),
    ];
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            pairs
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (*k, v.as_str())),
        )
        .finish()
}

fn column_view(c: &pipeline::Column, expected: &std::collections::BTreeMap<String, i64>) -> Value {
    let limit = expected.get(c.stage.code()).copied();
    json!({
        "code": c.stage.code(),
        "label": c.label,
        "count": c.count,
        "cards": c.cards.iter().map(|card| json!({
            "application_id": card.application_id,
            "candidate_id": card.candidate_id,
            "name": format!("{} {}", card.first_name, card.last_name),
            "specialty": card.specialty,
            "working_time": match card.part_time_half_days {
                Some(n) => format!("Temps partiel, {}", describe_half_days(n)),
                None => card.working_time.label().to_owned(),
            },
            "position": card.position_title,
            "centres": card.centres,
            "days": days_since(card.stage_entered_at),
            "overdue": limit.is_some_and(|l| days_since(card.stage_entered_at) > l),
        })).collect::<Vec<_>>(),
    })
}

pub async fn candidate(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    let view = db(&state, move |conn| Ok(candidates::load(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let candidate_id = view.id;
    let today = crate::domain::paris_today();
    let (meetings, centres, duplicates, offers, placements) = db(&state, move |conn| {
        Ok((
            crate::pipeline::meetings::for_candidate(conn, candidate_id)?,
            crate::centres::list_choosable(conn)?,
            candidates::possible_duplicates(conn, candidate_id)?,
            crate::offers::for_candidate(conn, candidate_id)?,
            crate::placements::for_candidate(conn, candidate_id, today)?,
        ))
    })
    .await?;
    let (submitted, on_file) = db(&state, move |conn| {
        Ok((
            crate::applications::submissions_of(conn, candidate_id, 10)?,
            candidates::edit_values(conn, candidate_id)?,
        ))
    })
    .await?;
    let proposals = match on_file {
        Some(current) => proposals_view(&state, &centres, &current, &submitted),
        None => Vec::new(),
    };
    let title = format!("{} {}", view.first_name, view.last_name);
    // Each application carries its offers, and whether one may be drafted from its stage.
    let mut candidate_json = serde_json::to_value(&view)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("candidate view: {e}")))?;
    if let Some(apps) = candidate_json
        .get_mut("applications")
        .and_then(Value::as_array_mut)
    {
        for app in apps {
            let id = app.get("id").and_then(Value::as_i64).unwrap_or_default();
            let stage = app
                .get("stage_code")
                .and_then(Value::as_str)
                .and_then(Stage::from_code);
            let mine: Vec<&crate::offers::OfferView> =
                offers.iter().filter(|o| o.application_id == id).collect();
            let placed = placements.iter().any(|p| p.application_id == id);
            if let Some(obj) = app.as_object_mut() {
                obj.insert("offers".to_owned(), json!(mine));
                obj.insert(
                    "can_offer".to_owned(),
                    json!(
                        !placed && stage.is_some_and(|s| crate::offers::OFFER_STAGES.contains(&s))
                    ),
                );
            }
        }
    }
    render(
        &state,
        &staff,
        "pipeline/candidate",
        &title,
        json!({
            "candidate": candidate_json,
            "placements": placements,
            "meetings": meetings,
            "duplicates": duplicates,
            "proposals": proposals,
            "centres": centres.iter().map(|c| json!({"id": c.id, "commune": c.commune})).collect::<Vec<_>>(),
            "refusal_reasons": REFUSAL_REASONS.iter().map(|(c, l)| json!({"value": c, "label": l})).collect::<Vec<_>>(),
            "withdrawal_reasons": WITHDRAWAL_REASONS.iter().map(|(c, l)| json!({"value": c, "label": l})).collect::<Vec<_>>(),
        }),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    depuis: String,
    #[serde(default)]
    vers: String,
    #[serde(default)]
    motif_refus: String,
    #[serde(default)]
    motif_desistement: String,
    #[serde(default)]
    relance: String,
    #[serde(default)]
    note: String,
    /// "oui" when the recruiter wants to write to the candidate (a preview comes first).
    #[serde(default)]
    envoyer_courriel: String,
    /// "oui" to send the previewed e-mail, "sans" to move without it.
    #[serde(default)]
    confirmer: String,
    #[serde(default)]
    objet: String,
    #[serde(default)]
    texte: String,
}

pub async fn move_stage(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<MoveForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let application_id = path.into_inner();
    let form = form.into_inner();
    let (Some(from), Some(to)) = (Stage::from_code(&form.depuis), Stage::from_code(&form.vers))
    else {
        return Err(AppError::BadRequest(
            "Choisissez l'étape de destination dans la liste.".to_owned(),
        ));
    };
    let reason = match to {
        Stage::Refused => Some(form.motif_refus.clone()),
        Stage::Withdrawn => Some(form.motif_desistement.clone()),
        _ => None,
    };
    if form.note.chars().count() > 5000 {
        return Err(AppError::BadRequest(
            "La note est trop longue (5 000 caractères au plus).".to_owned(),
        ));
    }
    let request = MoveRequest {
        application_id,
        expected_from: from,
        to,
        reason,
        note: Some(form.note.trim().to_owned()),
        follow_up_on: parse_date(&form.relance),
    };
    let actor = staff.0.user_id;
    let wants_email = form.envoyer_courriel == "oui" && form.confirmer != "sans";
    if wants_email && form.confirmer != "oui" {
        return preview_email(&state, &staff, &form, request).await;
    }
    let email = if wants_email {
        let subject = form.objet.split_whitespace().collect::<Vec<_>>().join(" ");
        let body = form.texte.replace("\r\n", "\n");
        if subject.is_empty()
            || body.trim().is_empty()
            || subject.chars().count() > 300
            || body.chars().count() > 20_000
        {
            return Err(AppError::Unprocessable(
                "Le courriel doit avoir un objet (300 caractères au plus) et un texte : revenez en arrière pour le compléter.".to_owned(),
            ));
        }
        let settings = state.settings.clone();
        let recipient = db(&state, move |conn| {
            Ok(
                pipeline::emails::context(conn, &settings, application_id, to)?
                    .map(|(email, _)| email),
            )
        })
        .await?
        .ok_or(AppError::NotFound)?;
        Some(pipeline::emails::confirmed_email(
            &state.settings,
            &recipient,
            &subject,
            &body,
        )?)
    } else {
        None
    };
    let with_email = email.is_some();
    let outcome = db(&state, move |conn| {
        let candidate_id: Option<i64> = {
            use crate::db::schema::applications;
            use diesel::prelude::*;
            applications::table
                .find(application_id)
                .select(applications::candidate_id)
                .first(conn)
                .optional()?
        };
        let result = pipeline::move_application(conn, actor, &request, email, Utc::now())?;
        Ok((candidate_id, result))
    })
    .await?;
    if with_email && matches!(outcome, (Some(_), Ok(()))) {
        state.mail_wake.notify_one();
    }
    match outcome {
        (Some(candidate_id), Ok(())) => {
            tracing::info!(application_id, to = to.code(), "stage moved");
            Ok(HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/recrutement/candidats/{candidate_id}#candidature-{application_id}"),
                ))
                .finish())
        }
        (None, _) => Err(AppError::NotFound),
        (Some(_), Err(pipeline::MoveError::NotFound)) => Err(AppError::NotFound),
        (Some(_), Err(e @ pipeline::MoveError::Stale(_))) => Err(AppError::Conflict(e.to_string())),
        (Some(_), Err(e)) => Err(AppError::Unprocessable(e.to_string())),
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
    let (key, _name, _candidate) = db(&state, move |conn| Ok(candidates::document(conn, id)?))
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
    // Only PDFs are stored (checked by their bytes at upload).
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}\"",
                crate::documents::download_name(id)
            ),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}

/// The filtered list as CSV for spreadsheet users: UTF-8 with a byte-order mark, `;` separated
/// (what French spreadsheets expect), formula-looking cells neutralized.
pub async fn export_csv(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<BoardFilter>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let filter = query.into_inner();
    let actor = staff.0.user_id;
    let rows = db(&state, move |conn| {
        let rows = pipeline::export(conn, &filter)?;
        crate::staff::audit::audit(
            conn,
            Some(actor),
            "export_csv",
            "application",
            None,
            &format!("{} lignes", rows.len()),
        )?;
        Ok(rows)
    })
    .await?;
    let mut out = Vec::with_capacity(256 * (rows.len() + 1));
    out.extend_from_slice("\u{feff}".as_bytes());
    {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        let io = |e: csv::Error| AppError::Unexpected(anyhow::anyhow!("writing CSV: {e}"));
        w.write_record([
            "Candidature",
            "Reçue le",
            "Étape",
            "Dans l'étape depuis",
            "Nom",
            "Prénom",
            "Courriel",
            "Téléphone",
            "RPPS",
            "Spécialité",
            "Situation",
            "Disponibilité",
            "Temps de travail",
            "Centres souhaités",
            "Poste",
            "Connu par",
            "Source",
            "Campagne",
        ])
        .map_err(io)?;
        let paris = |t: chrono::DateTime<Utc>| {
            t.with_timezone(&chrono_tz::Europe::Paris)
                .format("%d/%m/%Y")
                .to_string()
        };
        for r in rows {
            let working_time = match r.part_time_half_days {
                Some(n) => format!("Temps partiel, {}", describe_half_days(n)),
                None => r.working_time.label().to_owned(),
            };
            let record = [
                r.application_id.to_string(),
                paris(r.created_at),
                r.stage.label().to_owned(),
                paris(r.stage_entered_at),
                r.last_name,
                r.first_name,
                r.email,
                r.phone,
                r.rpps.unwrap_or_default(),
                r.specialty,
                r.situation.label().to_owned(),
                r.available_from
                    .map(|d| d.format("%d/%m/%Y").to_string())
                    .unwrap_or_default(),
                working_time,
                r.centres.unwrap_or_default(),
                r.position.unwrap_or_default(),
                r.heard_from
                    .map(|h| h.label().to_owned())
                    .unwrap_or_default(),
                r.utm_source.unwrap_or_default(),
                r.utm_campaign.unwrap_or_default(),
            ];
            w.write_record(record.iter().map(|c| pipeline::neutralize_cell(c)))
                .map_err(io)?;
        }
        w.flush()
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("writing CSV: {e}")))?;
    }
    let name = format!("candidatures-{}.csv", Utc::now().format("%Y-%m-%d"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(out))
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
    let body = crate::domain::FreeText::parse(&form.note, 5000)
        .map_err(|e| AppError::Unprocessable(e.0))?;
    if body.as_str().is_empty() {
        return Err(AppError::Unprocessable(
            "La note est vide : écrivez-la avant de l'enregistrer.".to_owned(),
        ));
    }
    let author = staff.0.user_id;
    let added = db(&state, move |conn| {
        Ok(candidates::add_note(
            conn,
            candidate_id,
            author,
            body.as_str(),
        )?)
    })
    .await?;
    if !added {
        return Err(AppError::NotFound);
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/recrutement/candidats/{candidate_id}#notes"),
        ))
        .finish())
}

/// Checks the move, then shows the stage's e-mail rendered for the candidate, to edit and
/// confirm. Nothing is written yet.
async fn preview_email(
    state: &AppState,
    staff: &Staff,
    form: &MoveForm,
    request: MoveRequest,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.clone();
    let to = request.to;
    let application_id = request.application_id;
    let prepared = db(state, move |conn| {
        let Some(current) = pipeline::current_stage(conn, application_id)? else {
            return Ok(Err(pipeline::MoveError::NotFound));
        };
        if let Err(e) = pipeline::check_move(current, &request) {
            return Ok(Err(e));
        }
        let template = pipeline::emails::template_for(conn, to)?;
        let context = pipeline::emails::context(conn, &settings, application_id, to)?;
        Ok(Ok((template, context)))
    })
    .await?;
    let (template, context) = match prepared {
        Ok(found) => found,
        Err(pipeline::MoveError::NotFound) => return Err(AppError::NotFound),
        Err(e @ pipeline::MoveError::Stale(_)) => return Err(AppError::Conflict(e.to_string())),
        Err(e) => return Err(AppError::Unprocessable(e.to_string())),
    };
    let (recipient, data) = context.ok_or(AppError::NotFound)?;
    let (subject, body, problem) = match template {
        Some(t) => match pipeline::emails::render(&t.subject, &t.body, &data) {
            Ok((s, b)) => (s, b, None),
            Err(e) => (String::new(), String::new(), Some(format!("Le modèle de cette étape est invalide ({e}) : écrivez le courriel vous-même ou demandez à un administrateur de le corriger."))),
        },
        None => (String::new(), String::new(), None),
    };
    render(
        state,
        staff,
        "pipeline/email_preview",
        "Courriel au candidat",
        json!({
            "application_id": application_id,
            "recipient": recipient,
            "to_label": to.label(),
            "subject": subject,
            "body": body,
            "problem": problem,
            "move": {
                "depuis": form.depuis, "vers": form.vers, "motif_refus": form.motif_refus,
                "motif_desistement": form.motif_desistement, "relance": form.relance, "note": form.note,
            },
        }),
    )
}

pub async fn follow_ups(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    let due = db(&state, move |conn| {
        Ok(pipeline::followups::due(conn, today)?)
    })
    .await?;
    render(
        &state,
        &staff,
        "pipeline/follow_ups",
        "Relances du vivier",
        json!({ "follow_ups": due }),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct MeetingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    heure: String,
    #[serde(default)]
    duree: String,
    #[serde(default)]
    centre: String,
    #[serde(default)]
    lieu: String,
    #[serde(default)]
    participants: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    inviter: String,
}

pub async fn add_meeting(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<MeetingForm>,
) -> Result<HttpResponse, AppError> {
    use crate::pipeline::meetings::{self, MeetingKind, NewMeeting};
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let application_id = path.into_inner();
    let bad = |m: &str| {
        AppError::Unprocessable(format!(
            "{m} Revenez en arrière pour corriger : rien n'a été enregistré."
        ))
    };
    let kind =
        MeetingKind::from_code(&form.kind).ok_or_else(|| bad("Choisissez entretien ou visite."))?;
    let starts_at = meetings::parse_start(&form.date, &form.heure).map_err(|m| bad(&m))?;
    let duration_minutes: i32 = form
        .duree
        .trim()
        .parse()
        .ok()
        .filter(|d| (5..=720).contains(d))
        .ok_or_else(|| bad("La durée se compte en minutes, de 5 à 720."))?;
    let centre_id = match form.centre.trim() {
        "" => None,
        c => Some(
            c.parse::<i64>()
                .map_err(|_| bad("Choisissez le centre dans la liste."))?,
        ),
    };
    let clip = |s: &str, n: usize| s.trim().chars().take(n).collect::<String>();
    let meeting = NewMeeting {
        application_id,
        kind,
        starts_at,
        duration_minutes,
        centre_id,
        location: clip(&form.lieu, 300),
        participants: clip(&form.participants, 500),
        note: clip(&form.note, 2000),
    };
    let invite = form.inviter == "oui";
    let actor = staff.0.user_id;
    let settings = state.settings.clone();
    let created = db(&state, move |conn| {
        use diesel::Connection;
        Ok(
            conn.transaction(|conn| -> anyhow::Result<Result<i64, &'static str>> {
                if let Some(c) = centre_id {
                    let known = crate::centres::list_choosable(conn)?
                        .iter()
                        .any(|x| x.id == c);
                    if !known {
                        return Ok(Err(
                            "Ce centre n'existe pas ou est fermé : choisissez-en un dans la liste.",
                        ));
                    }
                }
                let Some(id) = meetings::create(conn, actor, &meeting)? else {
                    return Ok(Err(""));
                };
                if invite {
                    let view = meetings::find(conn, id)?
                        .ok_or_else(|| anyhow::anyhow!("meeting vanished"))?;
                    let email = invitation_email(&settings, &view)?;
                    let mut email = email;
                    email.application_id = Some(application_id);
                    email.candidate_id = Some(view.candidate_id);
                    crate::mail::outbox::enqueue(conn, &[email])?;
                }
                Ok(Ok(view_candidate(conn, application_id)?))
            })?,
        )
    })
    .await?;
    let candidate_id = match created {
        Ok(id) => id,
        Err("") => return Err(AppError::NotFound),
        Err(message) => return Err(bad(message)),
    };
    if invite {
        state.mail_wake.notify_one();
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/recrutement/candidats/{candidate_id}#rendez-vous"),
        ))
        .finish())
}

fn view_candidate(
    conn: &mut diesel::PgConnection,
    application_id: i64,
) -> diesel::QueryResult<i64> {
    use crate::db::schema::applications;
    use diesel::prelude::*;
    applications::table
        .find(application_id)
        .select(applications::candidate_id)
        .first(conn)
}

fn invitation_email(
    settings: &crate::config::Settings,
    m: &crate::pipeline::meetings::MeetingView,
) -> anyhow::Result<crate::mail::outbox::NewOutboundEmail> {
    let paris = |t: chrono::DateTime<Utc>| t.with_timezone(&chrono_tz::Europe::Paris);
    let data = json!({
        "org": settings.organisation,
        "kind": m.kind,
        "day": paris(m.starts_at).format("%d/%m/%Y").to_string(),
        "time": paris(m.starts_at).format("%H:%M").to_string(),
        "duration": m.duration_minutes,
        "place": m.place,
        "participants": m.participants,
        "candidate": m.candidate,
    });
    let rendered = templates::global()
        .render_email("meeting_invitation", &data)
        .map_err(|e| anyhow::anyhow!("rendering the invitation: {e}"))?;
    let mut email = crate::mail::outbox::NewOutboundEmail::new(
        "meeting_invitation",
        &m.candidate_email,
        rendered,
        crate::mail::new_message_id(&settings.mail_domain()),
    );
    email.ics = Some(crate::pipeline::meetings::ics(
        m,
        &settings.mail_domain(),
        &settings.organisation.service,
        &settings.organisation.contact_email,
        true,
    ));
    Ok(email)
}

pub async fn meeting_ics(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    let m = db(&state, move |conn| {
        Ok(crate::pipeline::meetings::find(conn, id)?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let body = crate::pipeline::meetings::ics(
        &m,
        &state.settings.mail_domain(),
        &state.settings.organisation.service,
        &state.settings.organisation.contact_email,
        false,
    );
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"rendez-vous-{id}.ics\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

pub async fn agenda(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    let list = db(&state, move |conn| {
        Ok(crate::pipeline::meetings::upcoming(conn, today, 200)?)
    })
    .await?;
    render(
        &state,
        &staff,
        "pipeline/agenda",
        "Agenda des rendez-vous",
        json!({ "meetings": list }),
    )
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
        Ok(candidates::merge(conn, actor, keep, other)?)
    })
    .await?;
    match result {
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/recrutement/candidats/{keep}")))
            .finish()),
        Err(candidates::MergeError::NotFound) => Err(AppError::NotFound),
        Err(e) => Err(AppError::Unprocessable(e.to_string())),
    }
}

/// Which values of the submissions differ from the record: what each proposed, field by
/// field, in words, for the recruiter to apply (or not) through the edit page.
fn proposals_view(
    state: &AppState,
    centres: &[crate::centres::Centre],
    current: &crate::applications::RawApplicationForm,
    submitted: &[crate::applications::SubmissionOf],
) -> Vec<Value> {
    use crate::db::enums::Civility;
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
        let changes: Vec<Value> = pairs
            .into_iter()
            .filter(|(_, now, proposed)| now != proposed)
            .map(|(label, now, proposed)| json!({ "label": label, "current": now, "proposed": proposed }))
            .collect();
        if changes.is_empty() {
            continue;
        }
        out.push(json!({
            "key": s.key,
            "created_at": s.created_at,
            "duplicate": s.match_kind == "doublon_possible",
            "changes": changes,
        }));
    }
    out
}

/// The values a submission proposed, in the edit form's terms.
fn proposal_form(p: crate::applications::Submitted) -> crate::applications::RawApplicationForm {
    crate::applications::RawApplicationForm {
        civilite: p.civilite,
        prenom: p.prenom,
        nom: p.nom,
        courriel: p.courriel,
        telephone: p.telephone,
        rpps: p.rpps,
        specialite: p.specialite,
        situation: p.situation,
        disponibilite: p.disponibilite,
        temps_travail: p.temps_travail,
        demi_journees: p.demi_journees,
        centres: p.centres,
        garde: p.garde,
        maitre_stage: p.maitre_stage,
        ..Default::default()
    }
}

/// The edit page of a candidate, with values and per-field errors.
async fn render_edit(
    state: &AppState,
    staff: &Staff,
    id: i64,
    raw: &crate::applications::RawApplicationForm,
    errors: &crate::domain::FieldErrors,
    proposal: Option<chrono::DateTime<Utc>>,
) -> Result<HttpResponse, AppError> {
    let lists = db(state, |conn| Ok(crate::centres::list_choosable(conn)?)).await?;
    let opts = |all: Vec<(&str, &str)>, chosen: &str| -> Vec<Value> {
        all.into_iter().map(|(v, l)| option(v, l, chosen)).collect()
    };
    let civilities = opts(
        crate::db::enums::Civility::ALL
            .iter()
            .map(|c| (c.code(), c.label()))
            .collect(),
        &raw.civilite,
    );
    let situations = opts(
        Situation::ALL
            .iter()
            .map(|c| (c.code(), c.label()))
            .collect(),
        &raw.situation,
    );
    let specialties: Vec<Value> = state
        .specialties
        .iter()
        .map(|s| option(&s.code, &s.label, &raw.specialite))
        .collect();
    let half_days: Vec<Value> = (1..=9)
        .map(|n: i16| option(&n.to_string(), &describe_half_days(n), &raw.demi_journees))
        .collect();
    let centres: Vec<Value> = lists
        .iter()
        .map(|c| json!({ "id": c.id, "commune": c.commune, "checked": raw.centres.contains(&c.id.to_string()) }))
        .collect();
    let summary = errors.summary(crate::applications::FIELD_ORDER);
    let (status, title) = if summary.is_empty() {
        (actix_web::http::StatusCode::OK, "Modifier la fiche")
    } else {
        (
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Erreur – Modifier la fiche",
        )
    };
    crate::web::staff::staff_page(
        state,
        staff,
        "pipeline/candidate_edit",
        title,
        status,
        json!({
            "id": id, "values": raw, "errors": errors, "summary": summary, "proposal": proposal,
            "civilities": civilities, "situations": situations, "specialties": specialties,
            "half_days": half_days, "centres": centres,
            "part_time": raw.temps_travail == WorkingTime::PartTime.code(),
            "full_time": raw.temps_travail == WorkingTime::FullTime.code(),
        }),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct EditQuery {
    /// A submission of this candidate whose values prefill the form, for the recruiter to review.
    #[serde(default)]
    proposition: String,
}

pub async fn edit_candidate(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    query: web::Query<EditQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    let raw = db(&state, move |conn| Ok(candidates::edit_values(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    if query.proposition.is_empty() {
        return render_edit(&state, &staff, id, &raw, &Default::default(), None).await;
    }
    let key = uuid::Uuid::parse_str(&query.proposition).map_err(|_| AppError::NotFound)?;
    let proposal = db(&state, move |conn| {
        Ok(crate::applications::submission_of(conn, id, key)?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    render_edit(
        &state,
        &staff,
        id,
        &proposal_form(proposal.submitted),
        &Default::default(),
        Some(proposal.created_at),
    )
    .await
}

pub async fn update_candidate(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    use crate::applications::fields::{self as form, RawApplicationForm};
    use crate::domain::FieldErrors;
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    // A urlencoded body where "centres" repeats.
    let mut raw = RawApplicationForm::default();
    let mut csrf = String::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        let v = v.into_owned();
        match k.as_ref() {
            "csrf" => csrf = v,
            "civilite" => raw.civilite = v,
            "prenom" => raw.prenom = v,
            "nom" => raw.nom = v,
            "courriel" => raw.courriel = v,
            "telephone" => raw.telephone = v,
            "rpps" => raw.rpps = v,
            "specialite" => raw.specialite = v,
            "situation" => raw.situation = v,
            "disponibilite" => raw.disponibilite = v,
            "temps_travail" => raw.temps_travail = v,
            "demi_journees" => raw.demi_journees = v,
            "centres" => raw.centres.push(v),
            "garde" => raw.garde = !v.is_empty(),
            "maitre_stage" => raw.maitre_stage = !v.is_empty(),
            _ => {}
        }
    }
    staff.check_csrf(&csrf)?;
    // Validated exactly like the public form; consent and form key do not apply here.
    raw.consentement = true;
    raw.soumission = uuid::Uuid::new_v4().to_string();
    let centres = db(&state, |conn| Ok(crate::centres::list_choosable(conn)?)).await?;
    let codes: Vec<String> = state.specialties.iter().map(|s| s.code.clone()).collect();
    let centre_ids: Vec<i64> = centres.iter().map(|c| c.id).collect();
    let validated = form::validate(
        &raw,
        &form::Choices {
            specialty_codes: &codes,
            centre_ids: &centre_ids,
            published_position_ids: &[],
            privacy_notice_version: "",
            today: Utc::now().date_naive(),
        },
    );
    let app = match validated {
        Ok(app) => app,
        Err(errors) => return render_edit(&state, &staff, id, &raw, &errors, None).await,
    };
    let actor = staff.0.user_id;
    let result = db(&state, move |conn| {
        Ok(candidates::update_details(conn, actor, id, &app)?)
    })
    .await?;
    match result {
        Ok(true) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/recrutement/candidats/{id}")))
            .finish()),
        Ok(false) => Err(AppError::NotFound),
        Err(message) => {
            let mut errors = FieldErrors::default();
            errors.add("rpps", message);
            render_edit(&state, &staff, id, &raw, &errors, None).await
        }
    }
}
