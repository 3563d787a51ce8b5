//! The board's queries: its filters, the columns of cards, the CSV export and the JSON API's
//! pages over the same filters.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::enums::{Stage, WorkingTime};
use crate::db::schema::{applications, candidates, positions, specialties};

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
    /// The order of the cards in a column: "" or "attente" (waiting longest first),
    /// "recentes" (newest in the stage first).
    #[serde(default)]
    pub tri: String,
    /// One stage's column alone (its « Voir les N autres » link), or every column.
    #[serde(default)]
    pub etape: String,
}

/// The order of the cards in a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardOrder {
    /// Waiting in their stage for the longest time first (the default).
    WaitingLongest,
    /// Arrived in their stage most recently first.
    Newest,
}

impl BoardFilter {
    pub fn order(&self) -> CardOrder {
        if self.tri == "recentes" {
            CardOrder::Newest
        } else {
            CardOrder::WaitingLongest
        }
    }

    /// The stage whose column is shown alone, if any.
    pub fn focus(&self) -> Option<Stage> {
        Stage::from_code(&self.etape)
    }
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
    /// Support asked for the spouse's job search (#Dites32 à 2); none when not answered.
    pub spouse_support: Option<bool>,
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
            // The first name and the last name (never null) are both within « first last »:
            // testing that text alone finds the same candidates, with two conditions fewer for
            // the planner to estimate (the OR of four was over-estimated, which pushed it
            // towards hashing all the applications instead of probing the matches' few).
            let by_name = candidates::email_normalized
                .ilike(like.clone())
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

/// The filters on the application itself (source or campaign, position) and on its copies of the
/// candidate's working time, situation, specialty and wished centres (migration 000031, kept by
/// triggers), for a boxed query over `applications` or over `board_source`.
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
        if !filter.specialite.is_empty() {
            if filter.specialite == "MG" {
                // As an array computed once (not `IN (SELECT …)`), so that the planner sees
                // how many applications match.
                q = q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "applications.candidate_specialty = \
                     ANY(ARRAY(SELECT code FROM specialties WHERE general_practice))",
                ));
            } else {
                q = q.filter(applications::candidate_specialty.eq(filter.specialite.clone()));
            }
        }
        if let Ok(centre) = filter.centre.parse::<i64>() {
            q = q.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "applications.candidate_centres @> ARRAY[",
                )
                .bind::<diesel::sql_types::BigInt, _>(centre)
                .sql("]::int8[]"),
            );
        }
        if let Some(wt) = WorkingTime::from_code(&filter.temps) {
            q = q.filter(applications::candidate_working_time.eq(wt));
        }
        if let Some(s) = crate::db::enums::Situation::from_code(&filter.situation) {
            q = q.filter(applications::candidate_situation.eq(s));
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

#[diesel::dsl::auto_type]
#[allow(non_camel_case_types)]
fn narrow_source() -> _ {
    applications::table.inner_join(candidates::table)
}

/// The same as `filtered`, over applications and candidates alone (the filters need nothing
/// else): for the ids of a column's cards, a join of two tables is planned and run in less
/// time than one of four, ten times per page.
fn filtered_narrow(
    filter: &BoardFilter,
) -> diesel::dsl::IntoBoxed<'static, narrow_source, diesel::pg::Pg> {
    board_filters!(narrow_source().into_boxed(), filter)
}

/// A column of the board.
#[derive(Debug, Serialize)]
pub struct Column {
    pub stage: Stage,
    pub label: &'static str,
    pub count: i64,
    pub cards: Vec<Card>,
    /// Cards of the column after the ones shown (on later pages).
    pub more: i64,
}

/// Whether the filter looks at the candidate's own record (name searched, availability); if
/// not, the applications table alone answers it (it holds copies of the other filters' values).
fn needs_candidates(filter: &BoardFilter) -> bool {
    !filter.q.trim().is_empty() || crate::domain::parse_date(&filter.dispo_avant).is_some()
}

/// The filters on the application itself (source, position), on the applications table alone.
fn filtered_applications(
    filter: &BoardFilter,
) -> applications::BoxedQuery<'static, diesel::pg::Pg> {
    application_filters!(applications::table.into_boxed(), filter)
}

/// Whether the filter looks at the application itself (source or campaign, position) or at
/// the copies of its candidate's values, exactly as `application_filters!` applies it.
fn has_application_filter(filter: &BoardFilter) -> bool {
    !filter.source.trim().is_empty()
        || filter.poste == "spontanee"
        || filter.poste.parse::<i64>().is_ok()
        || copied_filters(filter) > 0
}

/// How many of the filters answered by the applications' copies (specialty, centre, working
/// time, situation) are set.
fn copied_filters(filter: &BoardFilter) -> usize {
    [
        !filter.specialite.is_empty(),
        filter.centre.parse::<i64>().is_ok(),
        WorkingTime::from_code(&filter.temps).is_some(),
        crate::db::enums::Situation::from_code(&filter.situation).is_some(),
    ]
    .iter()
    .filter(|set| **set)
    .count()
}

/// A board filtered on one value of one copied filter and on nothing else: its counts per stage
/// are kept in the ledger `stage_filter_counts` (migration 000031).
#[derive(Debug, Clone, PartialEq, Eq)]
enum LedgerKey {
    /// Every general-practice specialty (`specialite=MG`).
    GeneralPractice,
    /// One (dimension, value) of the ledger.
    Value(&'static str, String),
}

fn ledger_key(filter: &BoardFilter) -> Option<LedgerKey> {
    if needs_candidates(filter)
        || copied_filters(filter) != 1
        || !filter.source.trim().is_empty()
        || !filter.poste.is_empty()
    {
        return None;
    }
    if filter.specialite == "MG" {
        return Some(LedgerKey::GeneralPractice);
    }
    if !filter.specialite.is_empty() {
        return Some(LedgerKey::Value("specialite", filter.specialite.clone()));
    }
    if let Ok(centre) = filter.centre.parse::<i64>() {
        return Some(LedgerKey::Value("centre", centre.to_string()));
    }
    if let Some(wt) = WorkingTime::from_code(&filter.temps) {
        return Some(LedgerKey::Value("temps", wt.code().to_owned()));
    }
    crate::db::enums::Situation::from_code(&filter.situation)
        .map(|s| LedgerKey::Value("situation", s.code().to_owned()))
}

/// Past this many rows read for one value in the ledger of filtered counts, it is folded.
const FOLD_FILTER_COUNTS_PAST: i64 = 512;

/// The number of applications in each stage for one value of a copied filter, from the ledger
/// that the triggers of migration 000031 keep exact.
fn filter_counts(conn: &mut PgConnection, key: &LedgerKey) -> QueryResult<Vec<(Stage, i64)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        stage: Stage,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        total: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        entries: i64,
    }
    let rows: Vec<Row> = match key {
        LedgerKey::GeneralPractice => diesel::sql_query(
            "SELECT stage, sum(delta)::int8 AS total, count(*) AS entries \
             FROM stage_filter_counts WHERE dimension = 'specialite' \
             AND value IN (SELECT code FROM specialties WHERE general_practice) GROUP BY stage",
        )
        .load(conn)?,
        LedgerKey::Value(dimension, value) => diesel::sql_query(
            "SELECT stage, sum(delta)::int8 AS total, count(*) AS entries \
             FROM stage_filter_counts WHERE dimension = $1 AND value = $2 GROUP BY stage",
        )
        .bind::<diesel::sql_types::Text, _>(*dimension)
        .bind::<diesel::sql_types::Text, _>(value)
        .load(conn)?,
    };
    if rows.iter().map(|r| r.entries).sum::<i64>() > FOLD_FILTER_COUNTS_PAST {
        diesel::sql_query("SELECT stage_filter_counts_fold()").execute(conn)?;
    }
    Ok(rows
        .into_iter()
        .filter(|r| r.total != 0)
        .map(|r| (r.stage, r.total))
        .collect())
}

/// Past this many rows in the ledger of counts (each move adds two), it is folded back into one
/// row per stage.
const FOLD_COUNTS_PAST: i64 = 256;

/// The number of applications in each stage, from the ledger `stage_counts` that the triggers
/// of migration 000025 keep exact (a few rows per stage, instead of reading every
/// application). Folds the ledger when it has grown.
pub fn stage_counts(conn: &mut PgConnection) -> QueryResult<Vec<(Stage, i64)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        stage: Stage,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        total: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        entries: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT stage, sum(delta)::int8 AS total, count(*) AS entries \
         FROM stage_counts GROUP BY stage",
    )
    .load(conn)?;
    if rows.iter().map(|r| r.entries).sum::<i64>() > FOLD_COUNTS_PAST {
        diesel::sql_query("SELECT stage_counts_fold()").execute(conn)?;
    }
    Ok(rows.into_iter().map(|r| (r.stage, r.total)).collect())
}

/// How many filters on the candidate the board's filter sets (besides the text searched).
fn candidate_filters(filter: &BoardFilter) -> usize {
    [
        !filter.specialite.is_empty(),
        filter.centre.parse::<i64>().is_ok(),
        WorkingTime::from_code(&filter.temps).is_some(),
        crate::db::enums::Situation::from_code(&filter.situation).is_some(),
        crate::domain::parse_date(&filter.dispo_avant).is_some(),
    ]
    .iter()
    .filter(|set| **set)
    .count()
}

/// The matching applications (of the focused stage, if any): id, stage, entered the stage at;
/// at most `limit` of them when given, in no particular order.
fn listing(
    conn: &mut PgConnection,
    filter: &BoardFilter,
    focus: Option<Stage>,
    limit: Option<i64>,
) -> QueryResult<Vec<(i64, Stage, DateTime<Utc>)>> {
    if !needs_candidates(filter) {
        let mut listed = filtered_applications(filter).select((
            applications::id,
            applications::stage,
            applications::stage_entered_at,
        ));
        if let Some(s) = focus {
            listed = listed.filter(applications::stage.eq(s));
        }
        if let Some(n) = limit {
            listed = listed.limit(n);
        }
        return listed.load(conn);
    }
    let mut listed = filtered_narrow(filter).select((
        applications::id,
        applications::stage,
        applications::stage_entered_at,
    ));
    if let Some(s) = focus {
        listed = listed.filter(applications::stage.eq(s));
    }
    if let Some(n) = limit {
        listed = listed.limit(n);
    }
    listed.load(conn)
}

/// Up to this many matching applications, they are listed in one narrow query and paginated
/// here, instead of one query per column.
const SMALL_RESULT: i64 = 2_000;

/// The board: one column per stage (or the focused stage's alone) with its count and a page of
/// cards, in the filter's order.
pub fn board(conn: &mut PgConnection, filter: &BoardFilter) -> QueryResult<(Vec<Column>, bool)> {
    let page = filter.page.unwrap_or(1).clamp(1, 10_000);
    let offset = (page - 1) * CARDS_PER_COLUMN;
    let focus = filter.focus();
    let order = filter.order();
    let stages: Vec<Stage> = match focus {
        Some(s) => vec![s],
        None => Stage::ALL.to_vec(),
    };
    let by_candidate = needs_candidates(filter);
    // A search by name or several filters on the candidate usually match a few hundred
    // applications: they are listed first (at most SMALL_RESULT + 1), and when that is all of
    // them the counts come from the list, instead of a second pass over the candidates (a
    // name search reads the 50,000 candidates' names each time).
    let mut listed_all: Option<Vec<(i64, Stage, DateTime<Utc>)>> = None;
    if !filter.q.trim().is_empty() || candidate_filters(filter) >= 2 {
        let rows = listing(conn, filter, focus, Some(SMALL_RESULT + 1))?;
        if rows.len() as i64 <= SMALL_RESULT {
            listed_all = Some(rows);
        }
    }
    // The counts: from the list when it is all of the matches; unfiltered, from the ledger of
    // stage counts (migration 000025); filtered on one value of working time, situation,
    // specialty or centre, from the ledger of filtered counts (migration 000031); otherwise
    // counted over the applications alone, or with their candidates when the name or the
    // availability is asked for.
    let counts: Vec<(Stage, i64)> = if let Some(all) = &listed_all {
        let mut counts: Vec<(Stage, i64)> = Vec::new();
        for (_, stage, _) in all {
            match counts.iter_mut().find(|(s, _)| s == stage) {
                Some((_, n)) => *n += 1,
                None => counts.push((*stage, 1)),
            }
        }
        counts
    } else if !by_candidate && !has_application_filter(filter) {
        stage_counts(conn)?
    } else if let Some(key) = ledger_key(filter) {
        filter_counts(conn, &key)?
    } else if by_candidate {
        board_filters!(
            applications::table
                .inner_join(candidates::table)
                .group_by(applications::stage)
                .select((applications::stage, diesel::dsl::count_star()))
                .into_boxed(),
            filter
        )
        .load(conn)?
    } else {
        application_filters!(
            applications::table
                .group_by(applications::stage)
                .select((applications::stage, diesel::dsl::count_star()))
                .into_boxed(),
            filter
        )
        .load(conn)?
    };
    let count_of = |stage: Stage| {
        counts
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let total: i64 = stages.iter().map(|s| count_of(*s)).sum();
    // The applications shown, column by column.
    let mut shown: Vec<i64> = Vec::new();
    if total <= SMALL_RESULT {
        let mut all = match listed_all {
            Some(all) => all,
            None => listing(conn, filter, focus, None)?,
        };
        all.sort_by_key(|(id, _, at)| (*at, *id));
        if order == CardOrder::Newest {
            all.reverse();
        }
        for stage in stages.iter().copied() {
            shown.extend(
                all.iter()
                    .filter(|(_, s, _)| *s == stage)
                    .skip(offset as usize)
                    .take(CARDS_PER_COLUMN as usize)
                    .map(|(id, _, _)| *id),
            );
        }
    } else {
        for stage in stages.iter().copied() {
            if count_of(stage) <= offset {
                continue;
            }
            let ids: Vec<i64> = match (by_candidate, order) {
                (true, CardOrder::WaitingLongest) => filtered_narrow(filter)
                    .filter(applications::stage.eq(stage))
                    .select(applications::id)
                    .order((applications::stage_entered_at.asc(), applications::id.asc()))
                    .limit(CARDS_PER_COLUMN)
                    .offset(offset)
                    .load(conn)?,
                (true, CardOrder::Newest) => filtered_narrow(filter)
                    .filter(applications::stage.eq(stage))
                    .select(applications::id)
                    .order((
                        applications::stage_entered_at.desc(),
                        applications::id.desc(),
                    ))
                    .limit(CARDS_PER_COLUMN)
                    .offset(offset)
                    .load(conn)?,
                (false, CardOrder::WaitingLongest) => filtered_applications(filter)
                    .filter(applications::stage.eq(stage))
                    .select(applications::id)
                    .order((applications::stage_entered_at.asc(), applications::id.asc()))
                    .limit(CARDS_PER_COLUMN)
                    .offset(offset)
                    .load(conn)?,
                (false, CardOrder::Newest) => filtered_applications(filter)
                    .filter(applications::stage.eq(stage))
                    .select(applications::id)
                    .order((
                        applications::stage_entered_at.desc(),
                        applications::id.desc(),
                    ))
                    .limit(CARDS_PER_COLUMN)
                    .offset(offset)
                    .load(conn)?,
            };
            shown.extend(ids);
        }
    }
    let mut cards = cards_by_id(conn, &shown)?;
    cards.sort_by_key(|c| (c.stage_entered_at, c.application_id));
    if order == CardOrder::Newest {
        cards.reverse();
    }
    let mut columns = Vec::new();
    let mut more = false;
    for stage in stages.iter().copied() {
        let count = count_of(stage);
        more |= count > page * CARDS_PER_COLUMN;
        let cards: Vec<Card> = cards.iter().filter(|c| c.stage == stage).cloned().collect();
        columns.push(Column {
            stage,
            label: stage.label(),
            count,
            more: (count - offset - cards.len() as i64).max(0),
            cards,
        });
    }
    Ok((columns, more))
}

/// One application's card (its stage, its candidate's name), for the page that moves it
/// without JavaScript; `None` when there is no such application.
pub fn card(conn: &mut PgConnection, application_id: i64) -> QueryResult<Option<Card>> {
    Ok(cards_by_id(conn, &[application_id])?.into_iter().next())
}

/// The cards of these applications, in no particular order.
fn cards_by_id(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<Card>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    board_source()
        .filter(applications::id.eq_any(ids))
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
            applications::spouse_support,
        ))
        .load(conn)
}

/// What the board page shows: its columns, whether a next page exists, and the choices of its
/// filter form.
pub struct BoardPage {
    pub columns: Vec<Column>,
    pub more: bool,
    /// Stages with an e-mail template: a move there is reviewed with its e-mail first.
    pub templated: Vec<Stage>,
    pub centres: Vec<crate::centres::Centre>,
    pub positions: Vec<crate::positions::PublishedPosition>,
}

/// The board with the centres and published positions its filters offer.
pub fn board_page(conn: &mut PgConnection, filter: &BoardFilter) -> QueryResult<BoardPage> {
    let (columns, more) = board(conn, filter)?;
    Ok(BoardPage {
        columns,
        more,
        templated: templated_stages(conn)?,
        centres: crate::centres::list_choosable(conn)?,
        positions: crate::positions::list_published(conn)?,
    })
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

/// The stages that have an e-mail template.
pub fn templated_stages(conn: &mut PgConnection) -> QueryResult<Vec<Stage>> {
    use crate::db::schema::stage_email_templates;
    let codes: Vec<String> = stage_email_templates::table
        .select(stage_email_templates::stage)
        .load(conn)?;
    Ok(codes.iter().filter_map(|c| Stage::from_code(c)).collect())
}

/// The stages a card may be moved to from the board (or the selection): those a recruiter may
/// choose by hand (never « Proposition », « Acceptée », « Recrutée », reached only through the
/// offer flow).
pub fn board_targets(from: Stage) -> Vec<Stage> {
    super::allowed_manual_targets(from)
}

/// The stages a selection may be moved to (each card still checked by the rules).
pub const SELECTION_TARGETS: [Stage; 6] = [
    Stage::FirstContact,
    Stage::Interview,
    Stage::SiteVisit,
    Stage::Refused,
    Stage::Withdrawn,
    Stage::Pool,
];

/// Checks a move asked from a card against the rules and the offer flow; when the target stage
/// has an e-mail template, answers its preview (the recruiter reviews it before anything is
/// written). Nothing is written.
pub fn prepare_card_move(
    conn: &mut PgConnection,
    settings: &crate::config::Settings,
    request: &super::MoveRequest,
) -> QueryResult<Result<Option<super::emails::Preview>, super::MoveError>> {
    match super::emails::preview(conn, settings, request)? {
        Err(e) => Ok(Err(e)),
        Ok((None, _)) => Ok(Ok(None)),
        Ok(preview) => Ok(Ok(Some(preview))),
    }
}

/// The most cards a selection may hold.
pub const SELECTION_LIMIT: usize = 500;

/// One card of a selection that did not move, and why.
#[derive(Debug, Serialize)]
pub struct NotMoved {
    pub application_id: i64,
    pub reason: String,
}

/// What moving a selection did.
#[derive(Debug, Default, Serialize)]
pub struct SelectionOutcome {
    pub moved: Vec<i64>,
    pub not_moved: Vec<NotMoved>,
}

/// Moves each card of a selection (application, the stage it was shown in) to the same stage,
/// each through the same rules as a single move, each in its own transaction: one card refused
/// does not stop the others. No e-mail is sent.
pub fn move_selection(
    conn: &mut PgConnection,
    actor_id: i64,
    selection: &[(i64, Stage)],
    template: &super::MoveRequest,
    now: DateTime<Utc>,
) -> anyhow::Result<SelectionOutcome> {
    let mut outcome = SelectionOutcome::default();
    for &(application_id, shown) in selection {
        let request = super::MoveRequest {
            application_id,
            expected_from: shown,
            ..template.clone()
        };
        // The rules (rules::check_move) refuse the offer flow's stages, as on every path.
        let refused = super::moves::move_application(conn, actor_id, &request, None, now)?.err();
        match refused {
            None => outcome.moved.push(application_id),
            Some(e) => outcome.not_moved.push(NotMoved {
                application_id,
                reason: e.to_string(),
            }),
        }
    }
    Ok(outcome)
}

/// The selected applications for the CSV export (those that exist), written to the journal.
pub fn export_selection(
    conn: &mut PgConnection,
    actor: i64,
    ids: &[i64],
) -> QueryResult<Vec<ExportRow>> {
    let rows: Vec<ExportRow> = board_source()
        .filter(applications::id.eq_any(ids))
        .select(export_columns!())
        .order(applications::id.asc())
        .load(conn)?;
    crate::staff::audit::audit(
        conn,
        Some(actor),
        "export_csv",
        "application",
        None,
        &format!("{} lignes (sélection)", rows.len()),
    )?;
    Ok(rows)
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

/// Every application matching the filter, for the CSV export (no pagination).
pub fn export(conn: &mut PgConnection, filter: &BoardFilter) -> QueryResult<Vec<ExportRow>> {
    filtered(filter)
        .select(export_columns!())
        .order(applications::id.asc())
        .load(conn)
}

/// The CSV export of a staff member, written to the journal with its number of lines.
pub fn export_by(
    conn: &mut PgConnection,
    actor: i64,
    filter: &BoardFilter,
) -> QueryResult<Vec<ExportRow>> {
    let rows = export(conn, filter)?;
    crate::staff::audit::audit(
        conn,
        Some(actor),
        "export_csv",
        "application",
        None,
        &format!("{} lignes", rows.len()),
    )?;
    Ok(rows)
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

    #[test]
    fn formula_cells_are_neutralized() {
        assert_eq!(neutralize_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralize_cell("+33612345678"), "'+33612345678");
        assert_eq!(neutralize_cell("-1"), "'-1");
        assert_eq!(neutralize_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralize_cell("Martin"), "Martin");
        assert_eq!(neutralize_cell(""), "");
    }
}
