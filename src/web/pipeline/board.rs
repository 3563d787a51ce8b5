//! The board as a kanban (one column per stage side by side, filters, order, pages), moving a
//! card (one action: a small form on each card, drag and drop with `static/board.js`), the
//! actions on a selection of cards (move, export) and the CSV export.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{option, Choice};
use crate::db::enums::{Situation, Stage, WorkingTime};
use crate::domain::{describe_half_days, parse_date, FreeText};
use crate::error::AppError;
use crate::pipeline::board::{board_targets, SELECTION_LIMIT, SELECTION_TARGETS};
use crate::pipeline::{self, BoardFilter, Column, ExportRow, MoveError, MoveRequest};
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::pages::see_other;
use crate::web::staff::{page as render, staff_page, Staff};
use crate::web::{db, AppState};

/// Whole days (Paris calendar) an application has been in its stage.
fn days_in_stage(at: chrono::DateTime<Utc>) -> i64 {
    let entered = at.with_timezone(&chrono_tz::Europe::Paris).date_naive();
    (crate::domain::paris_today() - entered).num_days().max(0)
}

/// « arrivée aujourd'hui », « depuis 1 jour », « depuis 12 jours ».
fn waiting_label(days: i64) -> String {
    match days {
        0 => "arrivée aujourd'hui".to_owned(),
        1 => "depuis 1 jour".to_owned(),
        n => format!("depuis {n} jours"),
    }
}

/// The board page.
#[derive(Serialize)]
struct BoardView<'a> {
    filter: &'a BoardFilter,
    total: i64,
    columns: Vec<ColumnView>,
    /// The stage shown alone (« Voir les N autres »), if any.
    focus: Option<&'static str>,
    newest_first: bool,
    selection_targets: Vec<Choice>,
    refusal_reasons: Vec<Choice>,
    withdrawal_reasons: Vec<Choice>,
    selection_limit: usize,
    specialties: Vec<Choice>,
    centres: Vec<Choice>,
    working_times: Vec<Choice>,
    situations: Vec<Choice>,
    positions: Vec<Choice>,
    spontaneous_selected: bool,
    page: i64,
    previous_page: Option<i64>,
    next_page: Option<i64>,
    /// The filters and order as a query string (without the page or the focused stage).
    query: String,
    /// The same with the focused stage: where a card's move comes back to.
    here: String,
    /// `here` as the value of a query parameter (the « Déplacer » links of the cards).
    here_param: String,
}

/// A column of the board.
#[derive(Serialize)]
struct ColumnView {
    code: &'static str,
    label: &'static str,
    count: i64,
    /// Cards after those shown (« Voir les N autres »).
    more: i64,
    more_label: String,
    /// The column alone, with the same filters.
    more_href: String,
    /// Leaving the pipeline (the last columns).
    exit: bool,
    cards: Vec<CardView>,
    /// Where a card of this column may be moved from the board.
    targets: Vec<TargetView>,
}

/// A stage a card may be moved to, and what the move needs before it is recorded.
#[derive(Serialize)]
struct TargetView {
    code: &'static str,
    label: &'static str,
    /// "motif" (a reason), "date" (a follow-up date), "courriel" (the stage's e-mail to review)
    /// or "" (recorded at once).
    needs: &'static str,
}

/// A card: one application, and how long it has been in its stage.
#[derive(Serialize)]
struct CardView {
    application_id: i64,
    candidate_id: i64,
    name: String,
    specialty: String,
    working_time: String,
    centres: Option<String>,
    /// Support asked for the spouse's job search.
    spouse: bool,
    days: i64,
    waiting: String,
    overdue: bool,
}

pub async fn board(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<BoardFilter>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let filter = query.into_inner();
    let f = filter.clone();
    let found = db(&state, move |conn| {
        Ok(pipeline::board::board_page(conn, &f)?)
    })
    .await?;
    let page = filter.page.unwrap_or(1).clamp(1, 10_000);
    let total: i64 = found.columns.iter().map(|c| c.count).sum();
    let expected = &state.settings.pipeline.expected_days;
    let query = serde_urlencoded_like(&filter);
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
    let view = BoardView {
        filter: &filter,
        total,
        columns: found
            .columns
            .iter()
            .map(|c| column_view(c, expected, &found.templated, &query))
            .collect(),
        focus: filter.focus().map(|s| s.code()),
        newest_first: filter.order() == pipeline::board::CardOrder::Newest,
        selection_targets: SELECTION_TARGETS
            .iter()
            .map(|s| option(s.code(), s.label(), ""))
            .collect(),
        refusal_reasons: reasons(pipeline::REFUSAL_REASONS, ""),
        withdrawal_reasons: reasons(pipeline::WITHDRAWAL_REASONS, ""),
        selection_limit: SELECTION_LIMIT,
        specialties,
        centres: found
            .centres
            .iter()
            .map(|c| option(&c.id.to_string(), &c.commune, &filter.centre))
            .collect(),
        working_times: WorkingTime::ALL
            .iter()
            .map(|w| option(w.code(), w.label(), &filter.temps))
            .collect(),
        situations: Situation::ALL
            .iter()
            .map(|s| option(s.code(), s.label(), &filter.situation))
            .collect(),
        positions: found
            .positions
            .iter()
            .map(|p| option(&p.id.to_string(), &p.title, &filter.poste))
            .collect(),
        spontaneous_selected: filter.poste == "spontanee",
        page,
        previous_page: (page > 1).then(|| page - 1),
        next_page: found.more.then_some(page + 1),
        here_param: url::form_urlencoded::byte_serialize(board_query(&filter).as_bytes()).collect(),
        here: board_query(&filter),
        query,
    };
    render(
        &state,
        &staff,
        "pipeline/board",
        "Candidatures",
        serde_json::to_value(view)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("board view: {e}")))?,
    )
}

/// The coded reasons as choices (the withdrawal by the candidate themselves is not offered).
fn reasons(list: &[(&str, &str)], chosen: &str) -> Vec<Choice> {
    list.iter()
        .filter(|(code, _)| *code != pipeline::SELF_WITHDRAWAL)
        .map(|(code, label)| option(code, label, chosen))
        .collect()
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
        ("tri", &filter.tri),
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

fn column_view(
    c: &Column,
    expected: &BTreeMap<String, i64>,
    templated: &[Stage],
    query: &str,
) -> ColumnView {
    let limit = expected.get(c.stage.code()).copied();
    ColumnView {
        more_href: if query.is_empty() {
            format!("/recrutement?etape={}", c.stage.code())
        } else {
            format!("/recrutement?{query}&etape={}", c.stage.code())
        },
        code: c.stage.code(),
        label: c.label,
        count: c.count,
        more: c.more,
        more_label: if c.more == 1 {
            "Voir l'autre candidature".to_owned()
        } else {
            format!(
                "Voir les {} autres",
                crate::domain::french::thousands(c.more)
            )
        },
        exit: !c.stage.is_open(),
        targets: board_targets(c.stage)
            .into_iter()
            .map(|to| TargetView {
                code: to.code(),
                label: to.label(),
                needs: needs(to, templated),
            })
            .collect(),
        cards: c
            .cards
            .iter()
            .map(|card| {
                let days = days_in_stage(card.stage_entered_at);
                CardView {
                    application_id: card.application_id,
                    candidate_id: card.candidate_id,
                    name: format!("{} {}", card.first_name, card.last_name),
                    specialty: card.specialty.clone(),
                    working_time: match card.part_time_half_days {
                        Some(n) => format!("Temps partiel, {}", describe_half_days(n)),
                        None => card.working_time.label().to_owned(),
                    },
                    centres: card.centres.clone(),
                    spouse: card.spouse_support == Some(true),
                    days,
                    waiting: waiting_label(days),
                    overdue: c.stage.is_open() && limit.is_some_and(|l| days > l),
                }
            })
            .collect(),
    }
}

/// What a move to `to` needs before it is recorded.
fn needs(to: Stage, templated: &[Stage]) -> &'static str {
    match to {
        Stage::Refused | Stage::Withdrawn => "motif",
        Stage::Pool => "date",
        s if templated.contains(&s) => "courriel",
        _ => "",
    }
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
        Ok(pipeline::board::export_by(conn, actor, &filter)?)
    })
    .await?;
    csv_response(rows, "candidatures")
}

/// The export's rows as the spreadsheet reads them.
fn csv_bytes(rows: Vec<ExportRow>) -> Result<Vec<u8>, csv::Error> {
    let mut out = Vec::with_capacity(256 * (rows.len() + 1));
    out.extend_from_slice("\u{feff}".as_bytes());
    {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
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
        ])?;
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
            w.write_record(record.iter().map(|c| pipeline::neutralize_cell(c)))?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// The filters, order and focused stage as a query string (without the page).
fn board_query(filter: &BoardFilter) -> String {
    let mut query = serde_urlencoded_like(filter);
    if let Some(stage) = filter.focus() {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("etape=");
        query.push_str(stage.code());
    }
    query
}

/// The board's query string a form came from, read back as a filter and written again (so
/// that nothing but the board's own parameters goes into the address we answer with).
/// The board to go back to, rebuilt from the known filters of `raw` (a query string): never an
/// address from elsewhere.
pub(super) fn board_return(raw: &str) -> String {
    let filter = web::Query::<BoardFilter>::from_query(raw.trim_start_matches('?'))
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let query = board_query(&filter);
    if query.is_empty() {
        "/recrutement".to_owned()
    } else {
        format!("/recrutement?{query}")
    }
}

/// The move a preview (the board's or the candidate page's) carries on to its confirmation.
#[derive(Serialize)]
pub(super) struct PendingMove<'a> {
    pub depuis: &'a str,
    pub vers: &'a str,
    pub motif_refus: &'a str,
    pub motif_desistement: &'a str,
    pub relance: &'a str,
    pub note: &'a str,
    pub retour: Option<&'a str>,
}

/// Where a card's « Déplacer » link comes from: the board's query string, to go back to.
#[derive(Debug, Default, Deserialize)]
pub struct CardMoveQuery {
    #[serde(default)]
    retour: String,
}

/// The page that moves one card without JavaScript (each card's « Déplacer » link): the
/// stages it may go to, posted to the same endpoint as the board's own form.
#[derive(Serialize)]
struct CardMovePageView {
    application_id: i64,
    candidate_id: i64,
    name: String,
    from_code: &'static str,
    from_label: &'static str,
    targets: Vec<TargetView>,
    /// The board's query string (the form's `retour`).
    retour: String,
    /// The board's address, with its parameters.
    back: String,
}

pub async fn move_card_page(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    query: web::Query<CardMoveQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let application_id = path.into_inner();
    let (card, templated) = db(&state, move |conn| {
        Ok((
            pipeline::board::card(conn, application_id)?,
            pipeline::board::templated_stages(conn)?,
        ))
    })
    .await?;
    let card = card.ok_or(AppError::NotFound)?;
    let back = board_return(&query.retour);
    let retour = back
        .strip_prefix("/recrutement")
        .unwrap_or_default()
        .trim_start_matches('?')
        .to_owned();
    let name = format!("{} {}", card.first_name, card.last_name);
    let view = CardMovePageView {
        application_id,
        candidate_id: card.candidate_id,
        from_code: card.stage.code(),
        from_label: card.stage.label(),
        targets: board_targets(card.stage)
            .into_iter()
            .map(|to| TargetView {
                code: to.code(),
                label: to.label(),
                needs: needs(to, &templated),
            })
            .collect(),
        retour,
        back,
        name: name.clone(),
    };
    render(
        &state,
        &staff,
        "pipeline/board_card_move",
        &format!("Déplacer {name}"),
        serde_json::to_value(view)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("card move view: {e}")))?,
    )
}

/// A card's move, from its small form (or from the page asking for the move's reason or date).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct CardMoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    depuis: String,
    #[serde(default)]
    vers: String,
    /// The board's query string, to go back to the same view.
    #[serde(default)]
    retour: String,
    /// "oui" when the form is the page asking for the move's details.
    #[serde(default)]
    details: String,
    #[serde(default)]
    motif: String,
    #[serde(default)]
    relance: String,
    #[serde(default)]
    note: String,
    /// "oui" to review the stage's e-mail before the move (on the details page).
    #[serde(default)]
    envoyer_courriel: String,
}

/// The page asking for what a move needs (a reason, a follow-up date), shown again with the
/// message at the field when it is missing or wrong.
#[derive(Serialize)]
struct MoveDetailsView<'a> {
    application_id: i64,
    from_code: &'static str,
    from_label: &'static str,
    to_code: &'static str,
    to_label: &'static str,
    needs_reason: bool,
    needs_date: bool,
    templated: bool,
    reasons: Vec<Choice>,
    values: &'a CardMoveForm,
    email_checked: bool,
    errors: MoveDetailsErrors,
    summary: Vec<SummaryLine>,
    back: String,
}

/// A line of a form's error summary: a link to the field and its message.
#[derive(Serialize)]
struct SummaryLine {
    field: &'static str,
    label: &'static str,
    message: String,
}

#[derive(Serialize, Default)]
struct MoveDetailsErrors {
    motif: Option<String>,
    relance: Option<String>,
    note: Option<String>,
    general: Option<String>,
}

/// Moves a card: the move's reason or date is asked for on a page of its own when the target
/// needs one, the stage's e-mail is shown for review when the stage has a template (the same
/// preview as the candidate page, which then records the move), otherwise the move is recorded
/// at once through the same rules, and the board is shown again.
pub async fn move_card(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<CardMoveForm>,
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
    let back = board_return(&form.retour);
    let needs_reason = matches!(to, Stage::Refused | Stage::Withdrawn);
    let needs_date = to == Stage::Pool;
    let templated = {
        let stages = db(&state, |conn| Ok(pipeline::board::templated_stages(conn)?)).await?;
        stages.contains(&to)
    };
    let asked = form.details == "oui";
    let mut errors = MoveDetailsErrors::default();
    let reason = needs_reason.then(|| form.motif.clone());
    if asked && needs_reason && pipeline::reason_label(to, &form.motif).is_none() {
        errors.motif = Some("Choisissez le motif dans la liste.".to_owned());
    }
    let follow_up = parse_date(&form.relance);
    if asked && needs_date {
        match follow_up {
            None if form.relance.trim().is_empty() => {
                errors.relance =
                    Some("Indiquez la date à laquelle recontacter ce candidat.".to_owned())
            }
            None => {
                errors.relance =
                    Some("Cette date ne se lit pas : écrivez-la comme 15/03/2027.".to_owned())
            }
            Some(d) if d <= crate::domain::paris_today() => {
                errors.relance = Some("Choisissez une date à venir.".to_owned())
            }
            Some(_) => {}
        }
    }
    let note = match FreeText::parse(&form.note, 5000) {
        Ok(n) => n.as_str().to_owned(),
        Err(_) => {
            errors.note = Some(
                "La note est trop longue ou contient des caractères invisibles : 5 000 caractères au plus."
                    .to_owned(),
            );
            String::new()
        }
    };
    let needs_details = (needs_reason || needs_date) && !asked;
    let has_errors = errors.motif.is_some() || errors.relance.is_some() || errors.note.is_some();
    if needs_details || has_errors {
        let status = if has_errors {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        return details_page(
            &state,
            &staff,
            status,
            application_id,
            from,
            to,
            templated,
            &form,
            errors,
            back,
        );
    }
    let request = MoveRequest {
        application_id,
        expected_from: from,
        to,
        reason,
        note: Some(note),
        follow_up_on: follow_up.filter(|_| needs_date),
    };
    // The stage's e-mail is reviewed first (from a card, always when the stage has one; from
    // the details page, when its box is ticked).
    let review = templated && (!asked || form.envoyer_courriel == "oui");
    if review {
        let settings = state.settings.clone();
        let req = request.clone();
        let prepared = db(&state, move |conn| {
            Ok(pipeline::board::prepare_card_move(conn, &settings, &req)?)
        })
        .await?;
        match prepared {
            Ok(Some((Some(template), Some((recipient, data))))) => {
                return email_review(
                    &state, &staff, &request, &form, &template, &recipient, &data,
                );
            }
            Ok(_) => {}
            Err(e) => {
                return refused_move(
                    &state,
                    &staff,
                    e,
                    application_id,
                    from,
                    to,
                    templated,
                    &form,
                    back,
                )
            }
        }
    } else if pipeline::OFFER_FLOW_STAGES.contains(&to) {
        return refused_move(
            &state,
            &staff,
            MoveError::OfferFlowOnly(to.label()),
            application_id,
            from,
            to,
            templated,
            &form,
            back,
        );
    }
    let actor = staff.0.user_id;
    let moved = db(&state, move |conn| {
        Ok(pipeline::moves::move_application(
            conn,
            actor,
            &request,
            None,
            Utc::now(),
        )?)
    })
    .await?;
    match moved {
        Ok(()) => {
            tracing::info!(application_id, to = to.code(), "card moved from the board");
            Ok(see_other(back))
        }
        Err(e) => refused_move(
            &state,
            &staff,
            e,
            application_id,
            from,
            to,
            templated,
            &form,
            back,
        ),
    }
}

/// A move the rules refused: 404 for an unknown application, otherwise the details page with
/// the reason (409 when the card changed stage meanwhile, 422 for a forbidden move).
#[allow(clippy::too_many_arguments)]
fn refused_move(
    state: &AppState,
    staff: &Staff,
    e: MoveError,
    application_id: i64,
    from: Stage,
    to: Stage,
    templated: bool,
    form: &CardMoveForm,
    back: String,
) -> Result<HttpResponse, AppError> {
    let status = match e {
        MoveError::NotFound => return Err(AppError::NotFound),
        MoveError::Stale(_) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let errors = match e {
        MoveError::ReasonRequired => MoveDetailsErrors {
            motif: Some(e.to_string()),
            ..Default::default()
        },
        MoveError::FollowUpRequired => MoveDetailsErrors {
            relance: Some(e.to_string()),
            ..Default::default()
        },
        e => MoveDetailsErrors {
            general: Some(e.to_string()),
            ..Default::default()
        },
    };
    details_page(
        state,
        staff,
        status,
        application_id,
        from,
        to,
        templated,
        form,
        errors,
        back,
    )
}

#[allow(clippy::too_many_arguments)]
fn details_page(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    application_id: i64,
    from: Stage,
    to: Stage,
    templated: bool,
    form: &CardMoveForm,
    errors: MoveDetailsErrors,
    back: String,
) -> Result<HttpResponse, AppError> {
    let mut summary = Vec::new();
    if let Some(m) = &errors.motif {
        summary.push(SummaryLine {
            field: "motif",
            label: "Motif",
            message: m.clone(),
        });
    }
    if let Some(m) = &errors.relance {
        summary.push(SummaryLine {
            field: "relance",
            label: "Date de relance",
            message: m.clone(),
        });
    }
    if let Some(m) = &errors.note {
        summary.push(SummaryLine {
            field: "note",
            label: "Note",
            message: m.clone(),
        });
    }
    let reasons = match to {
        Stage::Refused => reasons(pipeline::REFUSAL_REASONS, &form.motif),
        Stage::Withdrawn => reasons(pipeline::WITHDRAWAL_REASONS, &form.motif),
        _ => Vec::new(),
    };
    let view = MoveDetailsView {
        application_id,
        from_code: from.code(),
        from_label: from.label(),
        to_code: to.code(),
        to_label: to.label(),
        needs_reason: matches!(to, Stage::Refused | Stage::Withdrawn),
        needs_date: to == Stage::Pool,
        templated,
        reasons,
        values: form,
        email_checked: templated && (form.details != "oui" || form.envoyer_courriel == "oui"),
        errors,
        summary,
        back,
    };
    let title = if status == StatusCode::OK {
        format!("Passer à « {} »", to.label())
    } else {
        format!("Erreur – Passer à « {} »", to.label())
    };
    staff_page(
        state,
        staff,
        "pipeline/board_move",
        &title,
        status,
        serde_json::to_value(view)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("move view: {e}")))?,
    )
}

/// The stage's e-mail rendered for the candidate, to edit and confirm: the candidate page's
/// review page, which records the move through the same endpoint.
fn email_review(
    state: &AppState,
    staff: &Staff,
    request: &MoveRequest,
    form: &CardMoveForm,
    template: &pipeline::emails::StageTemplate,
    recipient: &str,
    data: &serde_json::Value,
) -> Result<HttpResponse, AppError> {
    let (subject, body, problem) = pipeline::emails::proposed(Some(template), data);
    let (motif_refus, motif_desistement) = match request.to {
        Stage::Refused => (form.motif.as_str(), ""),
        Stage::Withdrawn => ("", form.motif.as_str()),
        _ => ("", ""),
    };
    let relance = request
        .follow_up_on
        .map(|d| d.to_string())
        .unwrap_or_default();
    let retour = format!("?{}", form.retour.trim_start_matches('?'));
    render(
        state,
        staff,
        "pipeline/email_preview",
        "Courriel au candidat",
        json!({
            "application_id": request.application_id,
            "recipient": recipient,
            "to_label": request.to.label(),
            "subject": subject,
            "body": body,
            "problem": problem,
            // The same pending move as the candidate page's preview carries.
            "move": PendingMove {
                depuis: request.expected_from.code(),
                vers: request.to.code(),
                motif_refus,
                motif_desistement,
                relance: &relance,
                note: request.note.as_deref().unwrap_or_default(),
                // Never empty from the board (« ? » is the board without filters).
                retour: Some(&retour),
            },
        }),
    )
}

/// The actions on a selection of cards: move them all, or export them.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct SelectionForm {
    #[serde(default)]
    csrf: String,
    /// Each selected card as `<application id>:<stage it was shown in>`.
    #[serde(default)]
    selection: Vec<String>,
    /// "deplacer" or "exporter".
    #[serde(default)]
    action: String,
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
    #[serde(default)]
    retour: String,
}

/// The selection page: the move's form shown again with its messages, or what the move did.
#[derive(Serialize)]
struct SelectionView<'a> {
    values: &'a SelectionForm,
    selection: Vec<String>,
    count_label: String,
    targets: Vec<Choice>,
    refusal_reasons: Vec<Choice>,
    withdrawal_reasons: Vec<Choice>,
    errors: SelectionErrors,
    summary: Vec<SummaryLine>,
    outcome: Option<OutcomeView>,
    back: String,
    retour: String,
}

#[derive(Serialize, Default)]
struct SelectionErrors {
    selection: Option<String>,
    vers: Option<String>,
    motif_refus: Option<String>,
    motif_desistement: Option<String>,
    relance: Option<String>,
    note: Option<String>,
}

/// What a selection's move did, in a sentence and card by card for those that did not move.
#[derive(Serialize)]
struct OutcomeView {
    headline: String,
    not_moved: Vec<pipeline::board::NotMoved>,
}

/// Reads the selection: each card once, the stage it was shown in; `None` when a value does
/// not read (a forged form).
fn read_selection(raw: &[String]) -> Option<Vec<(i64, Stage)>> {
    let mut out: Vec<(i64, Stage)> = Vec::new();
    for value in raw {
        let (id, stage) = value.split_once(':')?;
        let id: i64 = id.parse().ok().filter(|id| *id > 0)?;
        let stage = Stage::from_code(stage)?;
        if !out.iter().any(|(seen, _)| *seen == id) {
            out.push((id, stage));
        }
    }
    Some(out)
}

/// Moves or exports the cards ticked on the board.
pub async fn selection(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<SelectionForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let form = form.into_inner();
    let back = board_return(&form.retour);
    let Some(selected) = read_selection(&form.selection) else {
        return Err(AppError::BadRequest(
            "La sélection envoyée est illisible : rechargez la page des candidatures et recommencez."
                .to_owned(),
        ));
    };
    let mut errors = SelectionErrors::default();
    if selected.is_empty() {
        errors.selection = Some(
            "Cochez au moins une candidature sur le tableau, puis choisissez l'action.".to_owned(),
        );
    } else if selected.len() > SELECTION_LIMIT {
        errors.selection = Some(format!(
            "Sélectionnez {SELECTION_LIMIT} candidatures au plus à la fois (vous en avez coché {}) : filtrez le tableau ou faites-le en plusieurs fois.",
            crate::domain::french::thousands(selected.len() as i64)
        ));
    }
    if form.action == "exporter" {
        if errors.selection.is_some() {
            return selection_page(&state, &staff, &form, &selected, errors, None, back);
        }
        let actor = staff.0.user_id;
        let ids: Vec<i64> = selected.iter().map(|(id, _)| *id).collect();
        let rows = db(&state, move |conn| {
            Ok(pipeline::board::export_selection(conn, actor, &ids)?)
        })
        .await?;
        return csv_response(rows, "candidatures-selection");
    }
    if form.action != "deplacer" {
        return Err(AppError::BadRequest(
            "Choisissez « Déplacer la sélection » ou « Exporter la sélection ».".to_owned(),
        ));
    }
    let to = Stage::from_code(&form.vers).filter(|s| SELECTION_TARGETS.contains(s));
    let mut reason = None;
    let mut follow_up = None;
    match to {
        None => errors.vers = Some("Choisissez l'étape de destination dans la liste.".to_owned()),
        Some(Stage::Refused) => {
            if pipeline::reason_label(Stage::Refused, &form.motif_refus).is_none() {
                errors.motif_refus = Some("Choisissez le motif du refus dans la liste.".to_owned());
            }
            reason = Some(form.motif_refus.clone());
        }
        Some(Stage::Withdrawn) => {
            if pipeline::reason_label(Stage::Withdrawn, &form.motif_desistement).is_none() {
                errors.motif_desistement =
                    Some("Choisissez le motif du désistement dans la liste.".to_owned());
            }
            reason = Some(form.motif_desistement.clone());
        }
        Some(Stage::Pool) => match parse_date(&form.relance) {
            None => errors.relance = Some(
                "Indiquez la date à laquelle recontacter ces candidats (par exemple 15/03/2027)."
                    .to_owned(),
            ),
            Some(d) if d <= crate::domain::paris_today() => {
                errors.relance = Some("Choisissez une date à venir.".to_owned())
            }
            Some(d) => follow_up = Some(d),
        },
        Some(_) => {}
    }
    let note = match FreeText::parse(&form.note, 5000) {
        Ok(n) => n.as_str().to_owned(),
        Err(_) => {
            errors.note = Some(
                "La note est trop longue ou contient des caractères invisibles : 5 000 caractères au plus."
                    .to_owned(),
            );
            String::new()
        }
    };
    let (Some(to), false) = (
        to,
        errors.selection.is_some()
            || errors.motif_refus.is_some()
            || errors.motif_desistement.is_some()
            || errors.relance.is_some()
            || errors.note.is_some(),
    ) else {
        return selection_page(&state, &staff, &form, &selected, errors, None, back);
    };
    let request = MoveRequest {
        application_id: 0,
        expected_from: to,
        to,
        reason,
        note: Some(note),
        follow_up_on: follow_up,
    };
    let actor = staff.0.user_id;
    let cards = selected.clone();
    let outcome = db(&state, move |conn| {
        Ok(pipeline::board::move_selection(
            conn,
            actor,
            &cards,
            &request,
            Utc::now(),
        )?)
    })
    .await?;
    tracing::info!(
        moved = outcome.moved.len(),
        not_moved = outcome.not_moved.len(),
        to = to.code(),
        "selection moved from the board"
    );
    let mut headline = format!(
        "{} vers « {} »",
        crate::domain::french::count_label(
            outcome.moved.len() as i64,
            "candidature déplacée",
            "candidatures déplacées"
        ),
        to.label()
    );
    if !outcome.not_moved.is_empty() {
        headline.push_str(&format!(
            ", {} :",
            crate::domain::french::count_label(
                outcome.not_moved.len() as i64,
                "non déplacée",
                "non déplacées"
            )
        ));
    } else {
        headline.push('.');
    }
    let view = OutcomeView {
        headline,
        not_moved: outcome.not_moved,
    };
    selection_page(
        &state,
        &staff,
        &form,
        &selected,
        SelectionErrors::default(),
        Some(view),
        back,
    )
}

fn selection_page(
    state: &AppState,
    staff: &Staff,
    form: &SelectionForm,
    selected: &[(i64, Stage)],
    errors: SelectionErrors,
    outcome: Option<OutcomeView>,
    back: String,
) -> Result<HttpResponse, AppError> {
    let mut summary = Vec::new();
    let lines = [
        (&errors.selection, "selection-titre", "Sélection"),
        (&errors.vers, "vers", "Nouvelle étape"),
        (&errors.motif_refus, "motif_refus", "Motif du refus"),
        (
            &errors.motif_desistement,
            "motif_desistement",
            "Motif du désistement",
        ),
        (&errors.relance, "relance", "Date de relance"),
        (&errors.note, "note", "Note"),
    ];
    for (message, field, label) in lines {
        if let Some(m) = message {
            summary.push(SummaryLine {
                field,
                label,
                message: m.clone(),
            });
        }
    }
    let status = if summary.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let shown: Vec<(i64, Stage)> = selected.iter().take(SELECTION_LIMIT).copied().collect();
    let view = SelectionView {
        values: form,
        selection: shown
            .iter()
            .map(|(id, s)| format!("{id}:{}", s.code()))
            .collect(),
        count_label: crate::domain::french::count_label(
            shown.len() as i64,
            "candidature sélectionnée",
            "candidatures sélectionnées",
        ),
        targets: SELECTION_TARGETS
            .iter()
            .map(|s| option(s.code(), s.label(), &form.vers))
            .collect(),
        refusal_reasons: reasons(pipeline::REFUSAL_REASONS, &form.motif_refus),
        withdrawal_reasons: reasons(pipeline::WITHDRAWAL_REASONS, &form.motif_desistement),
        errors,
        summary,
        outcome,
        retour: back
            .trim_start_matches("/recrutement")
            .trim_start_matches('?')
            .to_owned(),
        back,
    };
    let title = match (&view.outcome, status) {
        (Some(_), _) => "Sélection déplacée",
        (None, StatusCode::OK) => "Déplacer la sélection",
        (None, _) => "Erreur – Déplacer la sélection",
    };
    staff_page(
        state,
        staff,
        "pipeline/board_selection",
        title,
        status,
        serde_json::to_value(view)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("selection view: {e}")))?,
    )
}

/// Rows as a CSV download named `<what>-<day>.csv`.
fn csv_response(rows: Vec<ExportRow>, what: &str) -> Result<HttpResponse, AppError> {
    let out =
        csv_bytes(rows).map_err(|e| AppError::Unexpected(anyhow::anyhow!("writing CSV: {e}")))?;
    let name = format!("{what}-{}.csv", Utc::now().format("%Y-%m-%d"));
    Ok(crate::web::pages::csv_download(&name, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_is_said_as_people_say_it() {
        assert_eq!(waiting_label(0), "arrivée aujourd'hui");
        assert_eq!(waiting_label(1), "depuis 1 jour");
        assert_eq!(waiting_label(12), "depuis 12 jours");
    }

    #[test]
    fn a_selection_reads_each_card_once_or_not_at_all() {
        let read =
            |v: &[&str]| read_selection(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            read(&["3:nouvelle", "4:entretien", "3:entretien"]),
            Some(vec![(3, Stage::New), (4, Stage::Interview)])
        );
        for bad in [
            "3",
            "x:nouvelle",
            "0:nouvelle",
            "-2:nouvelle",
            "3:bogus",
            "",
        ] {
            assert_eq!(read(&[bad]), None, "{bad:?}");
        }
    }

    #[test]
    fn the_return_address_is_the_board_with_its_own_parameters_only() {
        assert_eq!(board_return(""), "/recrutement");
        assert_eq!(board_return("//evil.example/"), "/recrutement");
        assert_eq!(
            board_return("tri=recentes&etape=vivier&page=3&x=1"),
            "/recrutement?tri=recentes&etape=vivier"
        );
    }
}
