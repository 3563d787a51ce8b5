//! What the campaign yields, over a chosen period: the recruitment funnel (from the stage
//! history), the channels and campaigns that bring applications, offers and recruitments, the
//! reasons of refusals, withdrawals and declined offers, the pool, and who applies.
//!
//! Every figure is aggregated by PostgreSQL; only the aggregates come back.

pub mod svg;

use chrono::{DateTime, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Double, Nullable, Text, Timestamptz};

use crate::db::enums::Stage;
use crate::pipeline::FORWARD;

/// A period of whole days in Paris time, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

fn paris_midnight(day: NaiveDate) -> DateTime<Utc> {
    let naive = day.and_time(chrono::NaiveTime::MIN);
    Paris
        .from_local_datetime(&naive)
        .earliest()
        // Midnight never falls in a DST gap in Paris; fall back to UTC midnight regardless.
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| naive.and_utc())
}

impl Period {
    /// The last twelve months up to `today`.
    pub fn last_year(today: NaiveDate) -> Period {
        Period {
            from: today
                .checked_sub_months(Months::new(12))
                .unwrap_or(today)
                .succ_opt()
                .unwrap_or(today),
            to: today,
        }
    }

    /// The first instant of the period.
    pub fn start(&self) -> DateTime<Utc> {
        paris_midnight(self.from)
    }

    /// The first instant after the period.
    pub fn end(&self) -> DateTime<Utc> {
        paris_midnight(self.to.succ_opt().unwrap_or(self.to))
    }
}

fn forward_codes() -> Vec<String> {
    FORWARD.iter().map(|s| s.code().to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// Funnel

/// One stage of the funnel.
#[derive(Debug, Clone, PartialEq)]
pub struct StageFigures {
    pub stage: Stage,
    /// Applications that entered this stage during the period.
    pub entered: i64,
    /// Forward stages only: applications that, during the period, entered this stage or a
    /// later one (a skipped stage counts as passed).
    pub reached: Option<i64>,
    /// `reached` as a share of the previous stage's, in percent.
    pub conversion: Option<f64>,
    /// Stays in this stage that began in the period and have ended.
    pub stays: i64,
    /// Their median length, in days.
    pub median_days: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Funnel {
    pub stages: Vec<StageFigures>,
    /// Doctors who took up their post during the period (placements started, up to today).
    pub recruited: i64,
    /// Median days from application to the start of the placement, for those.
    pub median_days_to_recruitment: Option<f64>,
    /// Applications moved to « Recrutée » during the period with no placement behind them
    /// (manual moves recorded before the stage was reserved to the offer flow): not counted.
    pub recruited_without_placement: i64,
}

/// The history the funnel reads: every move but those into « Recrutée », which come from the
/// placements instead: a hire is a placement that has started (on or before `$3`, today),
/// dated at its start day (or at the acceptance, if the start was recorded as earlier). So the
/// figures for a day do not depend on whether the daily job has recorded the move yet, and an
/// old manual move to « Recrutée » without a placement is not a hire.
const HISTORY: &str = "WITH history AS NOT MATERIALIZED ( \
       SELECT h.id, h.application_id, h.to_stage, h.created_at FROM stage_history h \
       WHERE h.to_stage <> 'recrutee' \
       UNION ALL \
       SELECT -p.id, p.application_id, 'recrutee', \
              greatest(p.started_on::timestamp AT TIME ZONE 'Europe/Paris', \
                       (SELECT max(h.created_at) FROM stage_history h \
                        WHERE h.application_id = p.application_id AND h.to_stage = 'acceptee')) \
       FROM placements p WHERE p.started_on <= $3) ";

#[derive(QueryableByName)]
struct StageCount {
    #[diesel(sql_type = Text)]
    stage: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct RankCount {
    #[diesel(sql_type = BigInt)]
    rank: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct StageMedian {
    #[diesel(sql_type = Text)]
    stage: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<Double>)]
    median_days: Option<f64>,
}

#[derive(QueryableByName)]
struct CountMedian {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<Double>)]
    median_days: Option<f64>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The funnel of the period, as known on `today` (placements starting later are not hires yet).
pub fn funnel(conn: &mut PgConnection, period: Period, today: NaiveDate) -> QueryResult<Funnel> {
    let (start, end) = (period.start(), period.end());
    let entered: Vec<StageCount> = diesel::sql_query(format!(
        "{HISTORY} SELECT to_stage AS stage, count(DISTINCT application_id) AS n FROM history \
         WHERE created_at >= $1 AND created_at < $2 GROUP BY to_stage"
    ))
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .bind::<Date, _>(today)
    .load(conn)?;
    // For each application, the furthest forward stage it entered in the period (1-based).
    let furthest: Vec<RankCount> = diesel::sql_query(format!(
        "{HISTORY} SELECT rank::int8 AS rank, count(*) AS n FROM ( \
           SELECT max(array_position($4, to_stage)) AS rank FROM history \
           WHERE created_at >= $1 AND created_at < $2 AND to_stage = ANY($4) \
           GROUP BY application_id) furthest \
         GROUP BY rank"
    ))
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .bind::<Date, _>(today)
    .bind::<Array<Text>, _>(forward_codes())
    .load(conn)?;
    // A stay lasts from entering a stage to the application's next move.
    let medians: Vec<StageMedian> = diesel::sql_query(format!(
        "{HISTORY} SELECT stage, count(*) AS n, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median_days \
         FROM ( \
           SELECT h.to_stage AS stage, h.created_at, \
                  extract(epoch FROM lead(h.created_at) OVER w - h.created_at)::float8 / 86400 \
                    AS days \
           FROM history h \
           WHERE h.application_id IN (SELECT application_id FROM history \
                                      WHERE created_at >= $1 AND created_at < $2) \
           WINDOW w AS (PARTITION BY h.application_id ORDER BY h.created_at, h.id) \
         ) stays \
         WHERE days IS NOT NULL AND created_at >= $1 AND created_at < $2 \
         GROUP BY stage"
    ))
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .bind::<Date, _>(today)
    .load(conn)?;
    let to_recruitment: CountMedian = diesel::sql_query(format!(
        "{HISTORY} SELECT count(*) AS n, percentile_cont(0.5) WITHIN GROUP \
                (ORDER BY extract(epoch FROM r.at - a.created_at)::float8 / 86400) AS median_days \
         FROM (SELECT application_id, min(created_at) AS at FROM history \
               WHERE to_stage = 'recrutee' AND created_at >= $1 AND created_at < $2 \
               GROUP BY application_id) r \
         JOIN applications a ON a.id = r.application_id"
    ))
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .bind::<Date, _>(today)
    .get_result(conn)?;
    let without_placement: Count = diesel::sql_query(
        "SELECT count(DISTINCT h.application_id) AS n FROM stage_history h \
         WHERE h.to_stage = 'recrutee' AND h.created_at >= $1 AND h.created_at < $2 \
           AND NOT EXISTS (SELECT 1 FROM placements p WHERE p.application_id = h.application_id)",
    )
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .get_result(conn)?;

    let count_of = |stage: Stage| {
        entered
            .iter()
            .find(|c| c.stage == stage.code())
            .map_or(0, |c| c.n)
    };
    // reached[i]: applications whose furthest forward stage is at rank i + 1 or later.
    let reached: Vec<i64> = (1..=FORWARD.len() as i64)
        .map(|rank| {
            furthest
                .iter()
                .filter(|r| r.rank >= rank)
                .map(|r| r.n)
                .sum()
        })
        .collect();
    let stages = Stage::ALL
        .iter()
        .map(|&stage| {
            let position = FORWARD.iter().position(|s| *s == stage);
            let median = medians.iter().find(|m| m.stage == stage.code());
            StageFigures {
                stage,
                entered: count_of(stage),
                reached: position.map(|i| reached[i]),
                conversion: position.and_then(|i| {
                    (i > 0 && reached[i - 1] > 0)
                        .then(|| reached[i] as f64 * 100.0 / reached[i - 1] as f64)
                }),
                stays: median.map_or(0, |m| m.n),
                median_days: median.and_then(|m| m.median_days),
            }
        })
        .collect();
    Ok(Funnel {
        stages,
        recruited: to_recruitment.n,
        median_days_to_recruitment: to_recruitment.median_days,
        recruited_without_placement: without_placement.n,
    })
}

// ---------------------------------------------------------------------------------------------
// Channels and campaigns

/// What a channel yielded from the applications received in the period.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Yield {
    #[diesel(sql_type = BigInt)]
    pub applications: i64,
    /// Of them, applications that were sent an offer.
    #[diesel(sql_type = BigInt)]
    pub offers: i64,
    /// Of them, applications that ended in a recruitment.
    #[diesel(sql_type = BigInt)]
    pub recruitments: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct HeardFromRow {
    /// The code of [`crate::db::enums::HeardFrom`]; none when the doctor did not say.
    #[diesel(sql_type = Nullable<Text>)]
    pub heard_from: Option<String>,
    #[diesel(embed)]
    pub figures: Yield,
}

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct UtmRow {
    #[diesel(sql_type = Nullable<Text>)]
    pub source: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub medium: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub campaign: Option<String>,
    #[diesel(embed)]
    pub figures: Yield,
}

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct CampaignRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub name: String,
    /// E-mail or letter (issue 19).
    #[diesel(sql_type = Text)]
    pub kind: crate::db::enums::CampaignKind,
    /// Messages sent (or letters produced) during the period.
    #[diesel(sql_type = BigInt)]
    pub sent: i64,
    /// Messages of the campaign that came back undeliverable during the period.
    #[diesel(sql_type = BigInt)]
    pub bounced: i64,
    /// Clicks on its tracked links during the period.
    #[diesel(sql_type = BigInt)]
    pub clicks: i64,
    #[diesel(embed)]
    pub figures: Yield,
}

/// What a channel link (issue 19) brought: visits of its short URL and the applications that
/// followed it, with the same cohort as every other channel.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ChannelLinkRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub label: String,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub archived: bool,
    /// Visits of the short URL during the period.
    #[diesel(sql_type = BigInt)]
    pub visits: i64,
    #[diesel(embed)]
    pub figures: Yield,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub heard_from: Vec<HeardFromRow>,
    pub utm: Vec<UtmRow>,
    pub campaigns: Vec<CampaignRow>,
    pub channel_links: Vec<ChannelLinkRow>,
}

/// Every channel link with its visits in the period and what the applications received in the
/// period by it yielded (as of `today`); with `all`, links with nothing in the period too
/// (the links' own page), otherwise only those with a visit or an application.
pub fn channel_links(
    conn: &mut PgConnection,
    period: Period,
    today: NaiveDate,
    all: bool,
) -> QueryResult<Vec<ChannelLinkRow>> {
    diesel::sql_query(format!(
        "{COHORT}, by_link AS ( \
           SELECT channel_link_id, {YIELD} FROM cohort WHERE channel_link_id IS NOT NULL \
           GROUP BY channel_link_id), \
         visits AS ( \
           SELECT link_id, sum(visits)::int8 AS visits FROM channel_link_visits \
           WHERE day >= $4 AND day <= $5 GROUP BY link_id) \
         SELECT l.id, l.label, l.code, l.archived_at IS NOT NULL AS archived, \
                coalesce(v.visits, 0) AS visits, coalesce(b.applications, 0) AS applications, \
                coalesce(b.offers, 0) AS offers, coalesce(b.recruitments, 0) AS recruitments \
         FROM channel_links l \
         LEFT JOIN visits v ON v.link_id = l.id \
         LEFT JOIN by_link b ON b.channel_link_id = l.id \
         WHERE $6 OR v.visits IS NOT NULL OR b.applications IS NOT NULL \
         ORDER BY archived, applications DESC, visits DESC, lower(l.label), l.id"
    ))
    .bind::<Timestamptz, _>(period.start())
    .bind::<Timestamptz, _>(period.end())
    .bind::<Date, _>(today)
    .bind::<Date, _>(period.from)
    .bind::<Date, _>(period.to)
    .bind::<diesel::sql_types::Bool, _>(all)
    .load(conn)
}

/// The applications received in the period, with whether each was offered a post and recruited
/// (a placement started on or before `$3`, today: as the funnel counts hires).
/// Offers and placements are joined as sets of application ids: a correlated `EXISTS` on offers
/// (no plain index on `application_id`) took ~0.7 s for 30,000 applications, the join ~60 ms.
const COHORT: &str = "WITH cohort AS ( \
       SELECT a.heard_from, a.utm_source, a.utm_medium, a.utm_campaign, a.campaign_id, \
              a.channel_link_id, \
              o.application_id IS NOT NULL AS offered, \
              p.application_id IS NOT NULL AS recruited \
       FROM applications a \
       LEFT JOIN (SELECT DISTINCT application_id FROM offers WHERE sent_at IS NOT NULL) o \
         ON o.application_id = a.id \
       LEFT JOIN (SELECT DISTINCT application_id FROM placements WHERE started_on <= $3) p \
         ON p.application_id = a.id \
       WHERE a.created_at >= $1 AND a.created_at < $2) ";

const YIELD: &str = "count(*) AS applications, count(*) FILTER (WHERE offered) AS offers, \
     count(*) FILTER (WHERE recruited) AS recruitments";

pub fn sources(conn: &mut PgConnection, period: Period, today: NaiveDate) -> QueryResult<Sources> {
    let (start, end) = (period.start(), period.end());
    let heard_from = diesel::sql_query(format!(
        "{COHORT} SELECT heard_from, {YIELD} FROM cohort GROUP BY heard_from \
         ORDER BY applications DESC, heard_from NULLS LAST"
    ))
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .bind::<Date, _>(today)
    .load(conn)?;
    let utm = diesel::sql_query(format!(
        "{COHORT} SELECT utm_source AS source, utm_medium AS medium, utm_campaign AS campaign, \
         {YIELD} FROM cohort \
         WHERE utm_source IS NOT NULL OR utm_medium IS NOT NULL OR utm_campaign IS NOT NULL \
         GROUP BY 1, 2, 3 ORDER BY applications DESC, 1, 2, 3"
    ))
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .bind::<Date, _>(today)
    .load(conn)?;
    // Campaigns with something to show in the period: messages sent, clicks or applications.
    let campaigns = diesel::sql_query(format!(
        "{COHORT}, by_campaign AS ( \
           SELECT campaign_id, {YIELD} FROM cohort WHERE campaign_id IS NOT NULL \
           GROUP BY campaign_id), \
         sent AS ( \
           SELECT r.campaign_id, count(*) AS sent FROM deliveries d \
           JOIN campaign_runs r ON r.id = d.run_id \
           WHERE d.status = 'envoye' AND d.sent_at >= $1 AND d.sent_at < $2 \
           GROUP BY r.campaign_id), \
         bounced AS ( \
           SELECT r.campaign_id, count(*) AS bounced FROM deliveries d \
           JOIN campaign_runs r ON r.id = d.run_id \
           WHERE d.bounced_at >= $1 AND d.bounced_at < $2 \
           GROUP BY r.campaign_id), \
         clicks AS ( \
           SELECT r.campaign_id, count(*) AS clicks FROM link_clicks k \
           JOIN deliveries d ON d.id = k.delivery_id JOIN campaign_runs r ON r.id = d.run_id \
           WHERE k.clicked_at >= $1 AND k.clicked_at < $2 \
           GROUP BY r.campaign_id) \
         SELECT c.id, c.name, c.kind, coalesce(s.sent, 0) AS sent, \
                coalesce(bo.bounced, 0) AS bounced, coalesce(k.clicks, 0) AS clicks, \
                coalesce(b.applications, 0) AS applications, coalesce(b.offers, 0) AS offers, \
                coalesce(b.recruitments, 0) AS recruitments \
         FROM campaigns c \
         LEFT JOIN sent s ON s.campaign_id = c.id \
         LEFT JOIN bounced bo ON bo.campaign_id = c.id \
         LEFT JOIN clicks k ON k.campaign_id = c.id \
         LEFT JOIN by_campaign b ON b.campaign_id = c.id \
         WHERE s.sent IS NOT NULL OR k.clicks IS NOT NULL OR b.applications IS NOT NULL \
         ORDER BY applications DESC, sent DESC, c.name, c.id"
    ))
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .bind::<Date, _>(today)
    .load(conn)?;
    let channel_links = channel_links(conn, period, today, false)?;
    Ok(Sources {
        heard_from,
        utm,
        campaigns,
        channel_links,
    })
}

// ---------------------------------------------------------------------------------------------
// Reasons, pool, profiles

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ReasonCount {
    /// The reason's code; none when none was recorded.
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct LabelCount {
    #[diesel(sql_type = Text)]
    pub label: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profiles {
    /// Refusals by the département during the period, by reason.
    pub refusals: Vec<ReasonCount>,
    /// Withdrawals by the doctors during the period, by reason.
    pub withdrawals: Vec<ReasonCount>,
    /// Offers declined during the period, by reason.
    pub declines: Vec<ReasonCount>,
    /// Candidates who applied during the period, by specialty label.
    pub specialties: Vec<LabelCount>,
    /// Same, by situation code.
    pub situations: Vec<LabelCount>,
    /// Applications received during the period by their answer to the spouse's job question.
    pub spouse: Vec<SpouseRow>,
}

/// The applications received in the period that gave one answer to the spouse's job question
/// (#Dites32 à 2), and what became of them.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct SpouseRow {
    /// true: support asked; false: « non »; none: not answered.
    #[diesel(sql_type = Nullable<diesel::sql_types::Bool>)]
    pub support: Option<bool>,
    #[diesel(embed)]
    pub figures: Yield,
    /// Of them, applications the doctor withdrew from (any reason, at any date).
    #[diesel(sql_type = BigInt)]
    pub withdrawals: i64,
    /// Of them, withdrawals recorded with the reason « Emploi du conjoint ».
    #[diesel(sql_type = BigInt)]
    pub spouse_withdrawals: i64,
}

/// The withdrawal reason « Emploi du conjoint » (`pipeline::WITHDRAWAL_REASONS`).
pub const SPOUSE_WITHDRAWAL_REASON: &str = "emploi_conjoint";

/// The applications received in the period by their answer to the spouse's job question: how
/// many were sent an offer, recruited (a placement started on or before `today`), withdrawn, and
/// withdrawn for the spouse's job.
pub fn spouse_support(
    conn: &mut PgConnection,
    period: Period,
    today: NaiveDate,
) -> QueryResult<Vec<SpouseRow>> {
    diesel::sql_query(
        "WITH cohort AS ( \
           SELECT a.spouse_support, \
                  o.application_id IS NOT NULL AS offered, \
                  p.application_id IS NOT NULL AS recruited, \
                  w.application_id IS NOT NULL AS withdrew, \
                  coalesce(w.for_spouse, false) AS withdrew_for_spouse \
           FROM applications a \
           LEFT JOIN (SELECT DISTINCT application_id FROM offers WHERE sent_at IS NOT NULL) o \
             ON o.application_id = a.id \
           LEFT JOIN (SELECT DISTINCT application_id FROM placements WHERE started_on <= $3) p \
             ON p.application_id = a.id \
           LEFT JOIN (SELECT application_id, bool_or(reason = $5) AS for_spouse \
                      FROM stage_history WHERE to_stage = $4 GROUP BY application_id) w \
             ON w.application_id = a.id \
           WHERE a.created_at >= $1 AND a.created_at < $2) \
         SELECT spouse_support AS support, count(*) AS applications, \
                count(*) FILTER (WHERE offered) AS offers, \
                count(*) FILTER (WHERE recruited) AS recruitments, \
                count(*) FILTER (WHERE withdrew) AS withdrawals, \
                count(*) FILTER (WHERE withdrew_for_spouse) AS spouse_withdrawals \
         FROM cohort GROUP BY spouse_support ORDER BY spouse_support DESC NULLS LAST",
    )
    .bind::<Timestamptz, _>(period.start())
    .bind::<Timestamptz, _>(period.end())
    .bind::<Date, _>(today)
    .bind::<Text, _>(Stage::Withdrawn.code())
    .bind::<Text, _>(SPOUSE_WITHDRAWAL_REASON)
    .load(conn)
}

fn stage_reasons(
    conn: &mut PgConnection,
    period: Period,
    stage: Stage,
) -> QueryResult<Vec<ReasonCount>> {
    diesel::sql_query(
        "SELECT nullif(reason, '') AS reason, count(*) AS n FROM stage_history \
         WHERE to_stage = $3 AND created_at >= $1 AND created_at < $2 \
         GROUP BY 1 ORDER BY n DESC, 1 NULLS LAST",
    )
    .bind::<Timestamptz, _>(period.start())
    .bind::<Timestamptz, _>(period.end())
    .bind::<Text, _>(stage.code())
    .load(conn)
}

pub fn profiles(
    conn: &mut PgConnection,
    period: Period,
    today: NaiveDate,
) -> QueryResult<Profiles> {
    let (start, end) = (period.start(), period.end());
    let refusals = stage_reasons(conn, period, Stage::Refused)?;
    let withdrawals = stage_reasons(conn, period, Stage::Withdrawn)?;
    let declines = diesel::sql_query(
        "SELECT nullif(decline_reason, '') AS reason, count(*) AS n FROM offers \
         WHERE status = 'declined' AND answered_at >= $1 AND answered_at < $2 \
         GROUP BY 1 ORDER BY n DESC, 1 NULLS LAST",
    )
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .load(conn)?;
    let specialties = diesel::sql_query(
        "SELECT s.label, count(DISTINCT c.id) AS n FROM applications a \
         JOIN candidates c ON c.id = a.candidate_id \
         JOIN specialties s ON s.code = c.specialty_code \
         WHERE a.created_at >= $1 AND a.created_at < $2 \
         GROUP BY s.label ORDER BY n DESC, s.label",
    )
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .load(conn)?;
    let situations = diesel::sql_query(
        "SELECT c.situation AS label, count(DISTINCT c.id) AS n FROM applications a \
         JOIN candidates c ON c.id = a.candidate_id \
         WHERE a.created_at >= $1 AND a.created_at < $2 \
         GROUP BY c.situation ORDER BY n DESC, c.situation",
    )
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .load(conn)?;
    let spouse = spouse_support(conn, period, today)?;
    Ok(Profiles {
        refusals,
        withdrawals,
        declines,
        specialties,
        situations,
        spouse,
    })
}

/// Candidates who may still be kept in the pool at `now`: they consented, and their last action
/// is within the retention period (after which they are anonymised).
pub fn pool_size(
    conn: &mut PgConnection,
    retention_years: u32,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let cutoff = now
        .checked_sub_months(Months::new(retention_years.saturating_mul(12)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    diesel::sql_query(
        "SELECT count(*) AS n FROM candidates \
         WHERE pool_consent_at IS NOT NULL AND anonymised_at IS NULL \
           AND last_activity_at >= $1",
    )
    .bind::<Timestamptz, _>(cutoff)
    .get_result::<N>(conn)
    .map(|r| r.n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_covers_whole_paris_days() {
        let p = Period {
            from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 7, 31).unwrap(),
        };
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(p.start().to_rfc3339(), "2025-12-31T23:00:00+00:00");
        assert_eq!(p.end().to_rfc3339(), "2026-07-31T22:00:00+00:00");
    }

    #[test]
    fn the_default_period_is_the_last_twelve_months() {
        let p = Period::last_year(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(p.from, NaiveDate::from_ymd_opt(2025, 11, 24).unwrap());
        assert_eq!(p.to, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
    }
}
