//! The board (one column per stage, filters, pages) and its CSV export.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Serialize;

use super::{option, Choice};
use crate::db::enums::{Situation, Stage, WorkingTime};
use crate::domain::describe_half_days;
use crate::error::AppError;
use crate::pipeline::{self, BoardFilter, Column, ExportRow};
use crate::staff::RECRUITING;
use crate::web::staff::{page as render, Staff};
use crate::web::{db, AppState};

fn days_since(at: chrono::DateTime<Utc>) -> i64 {
    (Utc::now() - at).num_days().max(0)
}

/// The board page.
#[derive(Serialize)]
struct BoardView<'a> {
    filter: &'a BoardFilter,
    total: i64,
    open_columns: Vec<ColumnView>,
    closed_columns: Vec<ColumnView>,
    specialties: Vec<Choice>,
    centres: Vec<Choice>,
    working_times: Vec<Choice>,
    situations: Vec<Choice>,
    positions: Vec<Choice>,
    spontaneous_selected: bool,
    page: i64,
    previous_page: Option<i64>,
    next_page: Option<i64>,
    query: String,
}

/// A column of the board.
#[derive(Serialize)]
struct ColumnView {
    code: &'static str,
    label: &'static str,
    count: i64,
    cards: Vec<CardView>,
}

/// A card: one application, and how long it has been in its stage.
#[derive(Serialize)]
struct CardView {
    application_id: i64,
    candidate_id: i64,
    name: String,
    specialty: String,
    working_time: String,
    position: Option<String>,
    centres: Option<String>,
    days: i64,
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
    let page = filter.page.unwrap_or(1).max(1);
    let total: i64 = found.columns.iter().map(|c| c.count).sum();
    let expected = &state.settings.pipeline.expected_days;
    let (open, closed): (Vec<&Column>, Vec<&Column>) = found
        .columns
        .iter()
        .partition(|c| c.stage.is_open() || c.stage == Stage::Recruited);
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
        open_columns: open.into_iter().map(|c| column_view(c, expected)).collect(),
        closed_columns: closed
            .into_iter()
            .map(|c| column_view(c, expected))
            .collect(),
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
        query: serde_urlencoded_like(&filter),
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

fn column_view(c: &Column, expected: &BTreeMap<String, i64>) -> ColumnView {
    let limit = expected.get(c.stage.code()).copied();
    ColumnView {
        code: c.stage.code(),
        label: c.label,
        count: c.count,
        cards: c
            .cards
            .iter()
            .map(|card| CardView {
                application_id: card.application_id,
                candidate_id: card.candidate_id,
                name: format!("{} {}", card.first_name, card.last_name),
                specialty: card.specialty.clone(),
                working_time: match card.part_time_half_days {
                    Some(n) => format!("Temps partiel, {}", describe_half_days(n)),
                    None => card.working_time.label().to_owned(),
                },
                position: card.position_title.clone(),
                centres: card.centres.clone(),
                days: days_since(card.stage_entered_at),
                overdue: limit.is_some_and(|l| days_since(card.stage_entered_at) > l),
            })
            .collect(),
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
    let out =
        csv_bytes(rows).map_err(|e| AppError::Unexpected(anyhow::anyhow!("writing CSV: {e}")))?;
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
