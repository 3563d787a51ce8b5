//! The recruiters' pipeline: which stage moves are allowed, recording a move (appended to the
//! history, never rewritten), and the board's queries.

pub mod emails;
pub mod followups;
pub mod meetings;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::enums::{Stage, WorkingTime};
use crate::db::schema::{
    applications, candidate_centres, candidates, positions, specialties, stage_history,
};
use crate::staff::audit::audit;

/// The forward path of an application.
pub const FORWARD: [Stage; 7] = [
    Stage::New,
    Stage::FirstContact,
    Stage::Interview,
    Stage::SiteVisit,
    Stage::Offer,
    Stage::Accepted,
    Stage::Recruited,
];

/// Coded reasons for a refusal by the département.
pub const REFUSAL_REASONS: &[(&str, &str)] = &[
    ("profil_inadapte", "Profil ne correspondant pas aux besoins"),
    ("specialite", "Spécialité non recherchée"),
    ("diplome", "Diplôme ou autorisation d'exercice manquant"),
    ("disponibilite", "Disponibilité incompatible"),
    ("poste_pourvu", "Poste déjà pourvu"),
    ("autre", "Autre raison"),
];

/// Coded reasons for a doctor's withdrawal.
pub const WITHDRAWAL_REASONS: &[(&str, &str)] = &[
    ("remuneration", "Rémunération"),
    ("distance", "Distance, trajets"),
    ("temps_travail", "Temps de travail proposé"),
    ("gardes", "Permanence des soins (gardes)"),
    ("emploi_conjoint", "Emploi du conjoint"),
    ("autre_offre", "Autre offre acceptée"),
    ("personnel", "Raisons personnelles"),
    ("sans_reponse", "Sans nouvelles du candidat"),
    (
        crate::privacy::SELF_WITHDRAWAL,
        "Retrait par le candidat (page « Mes données »)",
    ),
    ("autre", "Autre raison"),
];

pub fn reason_label(stage: Stage, code: &str) -> Option<&'static str> {
    let list = match stage {
        Stage::Refused => REFUSAL_REASONS,
        Stage::Withdrawn => WITHDRAWAL_REASONS,
        _ => return None,
    };
    list.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

/// Stages an application in `from` may move to.
pub fn allowed_targets(from: Stage) -> Vec<Stage> {
    if from.is_open() {
        let i = FORWARD.iter().position(|s| *s == from).unwrap_or(0);
        let mut targets: Vec<Stage> = FORWARD[i + 1..].to_vec();
        targets.extend([Stage::Refused, Stage::Withdrawn, Stage::Pool]);
        targets
    } else if from == Stage::Pool {
        // A pool candidate is contacted again when a need arises.
        vec![Stage::FirstContact, Stage::Refused, Stage::Withdrawn]
    } else {
        Vec::new()
    }
}

/// A move asked for by a recruiter.
#[derive(Debug, Clone)]
pub struct MoveRequest {
    pub application_id: i64,
    /// The stage the recruiter saw: if it changed meanwhile, the move is refused.
    pub expected_from: Stage,
    pub to: Stage,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub follow_up_on: Option<NaiveDate>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("Cette candidature n'existe pas.")]
    NotFound,
    #[error("La candidature a changé d'étape entre-temps (elle est maintenant « {0} ») : rechargez la page.")]
    Stale(&'static str),
    #[error("Impossible de passer de « {0} » à « {1} ».")]
    NotAllowed(&'static str, &'static str),
    #[error("Choisissez le motif dans la liste.")]
    ReasonRequired,
    #[error("Indiquez la date à laquelle recontacter ce candidat.")]
    FollowUpRequired,
}

/// Checks a move against the rules, without the database.
pub fn check_move(current: Stage, req: &MoveRequest) -> Result<(), MoveError> {
    if current != req.expected_from {
        return Err(MoveError::Stale(current.label()));
    }
    if !allowed_targets(current).contains(&req.to) {
        return Err(MoveError::NotAllowed(current.label(), req.to.label()));
    }
    match req.to {
        Stage::Refused | Stage::Withdrawn => {
            let ok = req
                .reason
                .as_deref()
                .and_then(|r| reason_label(req.to, r))
                .is_some();
            if !ok {
                return Err(MoveError::ReasonRequired);
            }
        }
        Stage::Pool if req.follow_up_on.is_none() => return Err(MoveError::FollowUpRequired),
        _ => {}
    }
    Ok(())
}

/// The stage an application is in, if it exists.
pub fn current_stage(conn: &mut PgConnection, application_id: i64) -> QueryResult<Option<Stage>> {
    applications::table
        .find(application_id)
        .select(applications::stage)
        .first(conn)
        .optional()
}

/// Moves an application: locks it, checks the rules, updates its stage and appends the history.
/// When `email` is given it is queued in the same transaction, so it goes out if and only if
/// the move is recorded.
pub fn move_application(
    conn: &mut PgConnection,
    actor_id: i64,
    req: &MoveRequest,
    email: Option<crate::mail::outbox::NewOutboundEmail>,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<(), MoveError>> {
    conn.transaction(|conn| {
        let found: Option<(Stage, i64)> = applications::table
            .find(req.application_id)
            .select((applications::stage, applications::candidate_id))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((current, candidate_id)) = found else {
            return Ok(Err(MoveError::NotFound));
        };
        if let Err(e) = check_move(current, req) {
            return Ok(Err(e));
        }
        let reason = match req.to {
            Stage::Refused | Stage::Withdrawn => req.reason.as_deref(),
            _ => None,
        };
        record_move(
            conn,
            &RecordedMove {
                application_id: req.application_id,
                candidate_id,
                from: current,
                to: req.to,
                actor_id: Some(actor_id),
                reason,
                note: req.note.as_deref(),
                follow_up_on: req.follow_up_on.filter(|_| req.to == Stage::Pool),
            },
            now,
        )?;
        if let Some(mut email) = email {
            email.candidate_id = Some(candidate_id);
            email.application_id = Some(req.application_id);
            crate::mail::outbox::enqueue(conn, &[email])?;
        }
        audit(
            conn,
            Some(actor_id),
            "changement_etape",
            "application",
            Some(req.application_id),
            &format!("{} -> {}", current.code(), req.to.code()),
        )?;
        Ok(Ok(()))
    })
}

/// A move already decided (by a recruiter's checked request, or by an offer being sent,
/// accepted or started): the application's stage, its history and the candidate's activity.
pub struct RecordedMove<'a> {
    pub application_id: i64,
    pub candidate_id: i64,
    pub from: Stage,
    pub to: Stage,
    pub actor_id: Option<i64>,
    pub reason: Option<&'a str>,
    pub note: Option<&'a str>,
    pub follow_up_on: Option<NaiveDate>,
}

/// Writes a move; the caller holds the application's row lock and has checked the move.
pub fn record_move(
    conn: &mut PgConnection,
    m: &RecordedMove<'_>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(applications::table.find(m.application_id))
        .set((
            applications::stage.eq(m.to),
            applications::stage_entered_at.eq(now),
            applications::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::insert_into(stage_history::table)
        .values((
            stage_history::application_id.eq(m.application_id),
            stage_history::from_stage.eq(Some(m.from)),
            stage_history::to_stage.eq(m.to),
            stage_history::actor_id.eq(m.actor_id),
            stage_history::reason.eq(m.reason),
            stage_history::note.eq(m.note.filter(|n| !n.trim().is_empty())),
            stage_history::follow_up_on.eq(m.follow_up_on),
            stage_history::created_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(candidates::table.find(m.candidate_id))
        .set(candidates::last_activity_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// The board's filters, as typed in its form.
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
pub struct BoardFilter {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub specialite: String,
    #[serde(default)]
    pub centre: String,
    #[serde(default)]
    pub temps: String,
    #[serde(default)]
    pub situation: String,
    #[serde(default)]
    pub dispo_avant: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub poste: String,
    #[serde(default)]
    pub page: Option<i64>,
}

/// One card of the board.
#[derive(Debug, Clone, Queryable, Serialize)]
pub struct Card {
    pub application_id: i64,
    pub candidate_id: i64,
    pub first_name: String,
    pub last_name: String,
    pub specialty: String,
    pub working_time: WorkingTime,
    pub part_time_half_days: Option<i16>,
    pub stage: Stage,
    pub stage_entered_at: DateTime<Utc>,
    pub position_title: Option<String>,
    /// Wished centres, by commune, comma-separated.
    pub centres: Option<String>,
}

/// The communes a candidate wishes to work in, as one text (for cards and the export).
const WISHED_COMMUNES: &str = "(SELECT string_agg(ce.commune, ', ' ORDER BY ce.commune) \
     FROM candidate_centres cc JOIN centres ce ON ce.id = cc.centre_id \
     WHERE cc.candidate_id = candidates.id)";

pub const CARDS_PER_COLUMN: i64 = 20;

#[diesel::dsl::auto_type]
#[allow(non_camel_case_types)]
fn board_source() -> _ {
    applications::table
        .inner_join(candidates::table.inner_join(specialties::table))
        .left_join(positions::table)
}

type BoardQuery = diesel::dsl::IntoBoxed<'static, board_source, diesel::pg::Pg>;

/// Applies the board's filters to a boxed query over `board_source` (whatever it selects or
/// groups by).
macro_rules! board_filters {
    ($query:expr, $filter:expr) => {{
        let filter: &BoardFilter = $filter;
        let mut q = $query;
        let term = filter.q.trim();
        if !term.is_empty() {
            let like = format!(
                "%{}%",
                term.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            let by_name = candidates::first_name
                .ilike(like.clone())
                .or(candidates::last_name.ilike(like.clone()))
                .or(candidates::email_normalized.ilike(like.clone()))
                .or(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "(candidates.first_name || ' ' || candidates.last_name) ILIKE ",
                )
                .bind::<diesel::sql_types::Text, _>(like.clone()));
            let digits: String = term.chars().filter(|c| c.is_ascii_digit()).collect();
            if digits.len() >= 4 {
                // Phones are stored as +33…: search without the trunk zero.
                let national = digits.strip_prefix('0').unwrap_or(&digits).to_owned();
                q = q.filter(
                    by_name
                        .or(candidates::rpps.eq(digits.clone()).assume_not_null())
                        .or(candidates::phone_normalized.like(format!("%{national}%"))),
                );
            } else {
                q = q.filter(by_name);
            }
        }
        if !filter.specialite.is_empty() {
            if filter.specialite == "MG" {
                q = q.filter(specialties::general_practice.eq(true));
            } else {
                q = q.filter(candidates::specialty_code.eq(filter.specialite.clone()));
            }
        }
        if let Ok(centre) = filter.centre.parse::<i64>() {
            q = q.filter(
                candidates::id.eq_any(
                    candidate_centres::table
                        .filter(candidate_centres::centre_id.eq(centre))
                        .select(candidate_centres::candidate_id),
                ),
            );
        }
        if let Some(wt) = WorkingTime::from_code(&filter.temps) {
            q = q.filter(candidates::working_time.eq(wt));
        }
        if let Some(s) = crate::db::enums::Situation::from_code(&filter.situation) {
            q = q.filter(candidates::situation.eq(s));
        }
        if let Some(d) = crate::domain::parse_date(&filter.dispo_avant) {
            q = q.filter(
                candidates::available_from
                    .le(d)
                    .or(candidates::available_from.is_null()),
            );
        }
        application_filters!(q, filter)
    }};
}

/// The filters on the application itself (source or campaign, position), for a boxed query over
/// `applications` or over `board_source`.
macro_rules! application_filters {
    ($query:expr, $filter:expr) => {{
        let filter: &BoardFilter = $filter;
        let mut q = $query;
        let source = filter.source.trim();
        if !source.is_empty() {
            q = q.filter(
                applications::utm_campaign
                    .eq(source.to_owned())
                    .or(applications::utm_source.eq(source.to_owned()))
                    .or(applications::heard_from.eq(source.to_owned())),
            );
        }
        match filter.poste.as_str() {
            "" => {}
            "spontanee" => q = q.filter(applications::position_id.is_null()),
            p => {
                if let Ok(id) = p.parse::<i64>() {
                    q = q.filter(applications::position_id.eq(id));
                }
            }
        }
        q
    }};
}

/// The applications matching the board's filters; columns and counts narrow it further.
fn filtered(filter: &BoardFilter) -> BoardQuery {
    board_filters!(board_source().into_boxed(), filter)
}

/// A column of the board.
#[derive(Debug, Serialize)]
pub struct Column {
    pub stage: Stage,
    pub label: &'static str,
    pub count: i64,
    pub cards: Vec<Card>,
}

/// Whether the filter looks at the candidate; if not, the applications table alone answers it.
fn needs_candidates(filter: &BoardFilter) -> bool {
    !filter.q.trim().is_empty()
        || !filter.specialite.is_empty()
        || filter.centre.parse::<i64>().is_ok()
        || WorkingTime::from_code(&filter.temps).is_some()
        || crate::db::enums::Situation::from_code(&filter.situation).is_some()
        || crate::domain::parse_date(&filter.dispo_avant).is_some()
}

/// The filters on the application itself (source, position), on the applications table alone.
fn filtered_applications(
    filter: &BoardFilter,
) -> applications::BoxedQuery<'static, diesel::pg::Pg> {
    application_filters!(applications::table.into_boxed(), filter)
}

/// Up to this many matching applications, they are listed in one narrow query and paginated
/// here, instead of one query per column.
const SMALL_RESULT: i64 = 2_000;

/// The board: one column per stage with its count and a page of cards, oldest in stage first.
pub fn board(conn: &mut PgConnection, filter: &BoardFilter) -> QueryResult<(Vec<Column>, bool)> {
    let page = filter.page.unwrap_or(1).clamp(1, 10_000);
    let offset = (page - 1) * CARDS_PER_COLUMN;
    let by_candidate = needs_candidates(filter);
    let counts: Vec<(Stage, i64)> = if by_candidate {
        board_filters!(
            board_source()
                .group_by(applications::stage)
                .select((applications::stage, diesel::dsl::count_star()))
                .into_boxed(),
            filter
        )
        .load(conn)?
    } else {
        let mut q = applications::table
            .group_by(applications::stage)
            .select((applications::stage, diesel::dsl::count_star()))
            .into_boxed();
        let source = filter.source.trim();
        if !source.is_empty() {
            q = q.filter(
                applications::utm_campaign
                    .eq(source.to_owned())
                    .or(applications::utm_source.eq(source.to_owned()))
                    .or(applications::heard_from.eq(source.to_owned())),
            );
        }
        match filter.poste.as_str() {
            "" => {}
            "spontanee" => q = q.filter(applications::position_id.is_null()),
            p => {
                if let Ok(id) = p.parse::<i64>() {
                    q = q.filter(applications::position_id.eq(id));
                }
            }
        }
        q.load(conn)?
    };
    let count_of = |stage: Stage| {
        counts
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    // The applications shown, column by column.
    let mut shown: Vec<i64> = Vec::new();
    if total <= SMALL_RESULT {
        let all: Vec<(i64, Stage)> = filtered(filter)
            .select((applications::id, applications::stage))
            .order((applications::stage_entered_at.asc(), applications::id.asc()))
            .load(conn)?;
        for stage in Stage::ALL.iter().copied() {
            shown.extend(
                all.iter()
                    .filter(|(_, s)| *s == stage)
                    .skip(offset as usize)
                    .take(CARDS_PER_COLUMN as usize)
                    .map(|(id, _)| *id),
            );
        }
    } else {
        for stage in Stage::ALL.iter().copied() {
            if count_of(stage) <= offset {
                continue;
            }
            let order = (applications::stage_entered_at.asc(), applications::id.asc());
            let ids: Vec<i64> = if by_candidate {
                filtered(filter)
                    .filter(applications::stage.eq(stage))
                    .select(applications::id)
                    .order(order)
                    .limit(CARDS_PER_COLUMN)
                    .offset(offset)
                    .load(conn)?
            } else {
                filtered_applications(filter)
                    .filter(applications::stage.eq(stage))
                    .select(applications::id)
                    .order(order)
                    .limit(CARDS_PER_COLUMN)
                    .offset(offset)
                    .load(conn)?
            };
            shown.extend(ids);
        }
    }
    let mut cards: Vec<Card> = if shown.is_empty() {
        Vec::new()
    } else {
        board_source()
            .filter(applications::id.eq_any(&shown))
            .select((
                applications::id,
                candidates::id,
                candidates::first_name,
                candidates::last_name,
                specialties::label,
                candidates::working_time,
                candidates::part_time_half_days,
                applications::stage,
                applications::stage_entered_at,
                positions::title.nullable(),
                diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
                    WISHED_COMMUNES,
                ),
            ))
            .load(conn)?
    };
    cards.sort_by_key(|c| (c.stage_entered_at, c.application_id));
    let mut columns = Vec::new();
    let mut more = false;
    for stage in Stage::ALL.iter().copied() {
        let count = count_of(stage);
        more |= count > page * CARDS_PER_COLUMN;
        columns.push(Column {
            stage,
            label: stage.label(),
            count,
            cards: cards.iter().filter(|c| c.stage == stage).cloned().collect(),
        });
    }
    Ok((columns, more))
}

/// One line of the CSV export.
#[derive(Debug, Clone, Queryable)]
pub struct ExportRow {
    pub application_id: i64,
    pub created_at: DateTime<Utc>,
    pub stage: Stage,
    pub stage_entered_at: DateTime<Utc>,
    pub last_name: String,
    pub first_name: String,
    pub email: String,
    pub phone: String,
    pub rpps: Option<String>,
    pub specialty: String,
    pub situation: crate::db::enums::Situation,
    pub available_from: Option<NaiveDate>,
    pub working_time: WorkingTime,
    pub part_time_half_days: Option<i16>,
    pub centres: Option<String>,
    pub position: Option<String>,
    pub heard_from: Option<crate::db::enums::HeardFrom>,
    pub utm_source: Option<String>,
    pub utm_campaign: Option<String>,
}

/// The columns of an [`ExportRow`], in its field order (the CSV export and the API's pages).
macro_rules! export_columns {
    () => {
        (
            applications::id,
            applications::created_at,
            applications::stage,
            applications::stage_entered_at,
            candidates::last_name,
            candidates::first_name,
            candidates::email,
            candidates::phone,
            candidates::rpps,
            specialties::label,
            candidates::situation,
            candidates::available_from,
            candidates::working_time,
            candidates::part_time_half_days,
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
                WISHED_COMMUNES,
            ),
            positions::title.nullable(),
            applications::heard_from,
            applications::utm_source,
            applications::utm_campaign,
        )
    };
}

/// Every application matching the filter, for the CSV export (no pagination).
pub fn export(conn: &mut PgConnection, filter: &BoardFilter) -> QueryResult<Vec<ExportRow>> {
    filtered(filter)
        .select(export_columns!())
        .order(applications::id.asc())
        .load(conn)
}

/// A spreadsheet must not read a cell as a formula: cells starting with `=`, `+`, `-`, `@`
/// (or a tab or carriage return) get a leading apostrophe.
pub fn neutralize_cell(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    }
}

/// A page of the candidates having an application that matches the board's filters (by id),
/// with how many there are in all: the JSON API's candidate list.
pub fn candidate_ids_page(
    conn: &mut PgConnection,
    filter: &BoardFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<i64>, i64)> {
    let total: i64 = filtered(filter)
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "count(DISTINCT candidates.id)",
        ))
        .get_result(conn)?;
    let ids = filtered(filter)
        .select(candidates::id)
        .distinct()
        .order(candidates::id.asc())
        .limit(limit)
        .offset(offset)
        .load(conn)?;
    Ok((ids, total))
}

/// A page of the applications matching the board's filters (and a stage, if given), oldest
/// first, with how many there are in all: the JSON API's application list.
pub fn applications_page(
    conn: &mut PgConnection,
    filter: &BoardFilter,
    stage: Option<Stage>,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<ExportRow>, i64)> {
    let in_stage = |q: BoardQuery| match stage {
        Some(s) => q.filter(applications::stage.eq(s)),
        None => q,
    };
    let total: i64 = in_stage(filtered(filter)).count().get_result(conn)?;
    let rows = in_stage(filtered(filter))
        .select(export_columns!())
        .order(applications::id.asc())
        .limit(limit)
        .offset(offset)
        .load(conn)?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(from: Stage, to: Stage) -> MoveRequest {
        MoveRequest {
            application_id: 1,
            expected_from: from,
            to,
            reason: None,
            note: None,
            follow_up_on: None,
        }
    }

    #[test]
    fn forward_moves_are_allowed_and_backward_ones_are_not() {
        assert!(check_move(Stage::New, &req(Stage::New, Stage::FirstContact)).is_ok());
        assert!(check_move(Stage::New, &req(Stage::New, Stage::Interview)).is_ok());
        assert!(matches!(
            check_move(Stage::Interview, &req(Stage::Interview, Stage::New)),
            Err(MoveError::NotAllowed(..))
        ));
        assert!(matches!(
            check_move(Stage::Recruited, &req(Stage::Recruited, Stage::Refused)),
            Err(MoveError::NotAllowed(..))
        ));
    }

    #[test]
    fn exits_need_a_coded_reason_and_the_pool_a_date() {
        assert_eq!(
            check_move(Stage::Interview, &req(Stage::Interview, Stage::Withdrawn)),
            Err(MoveError::ReasonRequired)
        );
        let mut r = req(Stage::Interview, Stage::Withdrawn);
        r.reason = Some("bogus".into());
        assert_eq!(
            check_move(Stage::Interview, &r),
            Err(MoveError::ReasonRequired)
        );
        r.reason = Some("distance".into());
        assert!(check_move(Stage::Interview, &r).is_ok());
        assert_eq!(
            check_move(Stage::New, &req(Stage::New, Stage::Pool)),
            Err(MoveError::FollowUpRequired)
        );
    }

    #[test]
    fn a_stale_form_is_refused() {
        assert_eq!(
            check_move(Stage::Interview, &req(Stage::New, Stage::FirstContact)),
            Err(MoveError::Stale("Entretien"))
        );
    }

    #[test]
    fn formula_cells_are_neutralized() {
        assert_eq!(neutralize_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralize_cell("+33612345678"), "'+33612345678");
        assert_eq!(neutralize_cell("-1"), "'-1");
        assert_eq!(neutralize_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralize_cell("Martin"), "Martin");
        assert_eq!(neutralize_cell(""), "");
    }

    #[test]
    fn a_pool_candidate_can_be_contacted_again() {
        assert!(check_move(Stage::Pool, &req(Stage::Pool, Stage::FirstContact)).is_ok());
    }
}
