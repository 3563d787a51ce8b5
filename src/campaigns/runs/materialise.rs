//! A run's deliveries, materialised in one statement when the run starts: one per active
//! contact of the campaign's lists, deduplicated by address, without suppressed addresses.
//! Contacts known only by post (no e-mail address) are left out and counted.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};

use crate::db::enums::ContactStatus;
use crate::db::schema::deliveries;

/// A run's recipients: how many, and the range of their delivery ids.
pub(super) struct Recipients {
    pub count: i64,
    /// Active contacts of the lists left out for want of an e-mail address.
    pub without_email: i64,
    pub first: i64,
    pub last: i64,
}

/// Inserts the run's deliveries, unless it has some already, and returns them. Called by
/// [`super::lifecycle::materialise`], in its transaction, with the run locked.
pub(super) fn insert_deliveries(
    conn: &mut PgConnection,
    run_id: i64,
    campaign_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Recipients> {
    // The recipients are sorted by address (DISTINCT ON): 100,000 of them take about
    // 15 MB, which spilled to disk under the default 4 MB (0.3-0.5 s more).
    diesel::sql_query("SET LOCAL work_mem = '64MB'").execute(conn)?;
    // Once per run: a second call finds the run's deliveries and adds nobody. No ON
    // CONFLICT: DISTINCT ON already gives one row per address (so per contact), and a
    // speculative insertion per row made materialising 40 % slower (3.4 s against 2.4 s
    // for 100,000 recipients in the mailing benchmark); the unique indexes
    // still refuse a duplicate.
    diesel::sql_query(
        "INSERT INTO deliveries (run_id, contact_id, email, next_attempt_at, updated_at) \
         SELECT DISTINCT ON (lower(c.email)) $1, c.id, c.email, $3, $3 \
         FROM contacts c \
         JOIN list_members m ON m.contact_id = c.id \
         JOIN campaign_lists cl ON cl.list_id = m.list_id AND cl.campaign_id = $2 \
         WHERE c.status = $4 AND NOT c.deceased AND c.email IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(c.email)) \
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = $1) \
         ORDER BY lower(c.email), c.id",
    )
    .bind::<BigInt, _>(run_id)
    .bind::<BigInt, _>(campaign_id)
    .bind::<Timestamptz, _>(now)
    .bind::<Text, _>(ContactStatus::Active)
    .execute(conn)?;
    // The run's range of ids: claims walk it with their cursor (migration 000016).
    let (recipients, first, last): (i64, Option<i64>, Option<i64>) = deliveries::table
        .filter(deliveries::run_id.eq(run_id))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(deliveries::id),
            diesel::dsl::max(deliveries::id),
        ))
        .get_result(conn)?;
    let (first, last) = (first.unwrap_or(0), last.unwrap_or(0));
    let without_email = count_without_email(conn, campaign_id)?;
    Ok(Recipients {
        count: recipients,
        without_email,
        first,
        last,
    })
}

/// How many recipients a run of campaign `campaign_id` would have if it started now: the
/// active contacts of its lists, deduplicated by address, without suppressed addresses (the
/// rule of [`insert_deliveries`]). Shown on the button that sends or schedules it.
pub fn count_recipients(conn: &mut PgConnection, campaign_id: i64) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    // One contact per address (unique index on lower(email)): a semi-join counts them without
    // the sort of DISTINCT.
    diesel::sql_query(
        "SELECT count(*) AS n FROM contacts c \
         WHERE c.status = $2 AND NOT c.deceased AND c.email IS NOT NULL \
           AND EXISTS (SELECT 1 FROM list_members m \
                       JOIN campaign_lists cl ON cl.list_id = m.list_id \
                       WHERE cl.campaign_id = $1 AND m.contact_id = c.id) \
           AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(c.email))",
    )
    .bind::<BigInt, _>(campaign_id)
    .bind::<Text, _>(ContactStatus::Active)
    .get_result::<Count>(conn)
    .map(|c| c.n)
}

/// How many active contacts of campaign `campaign_id`'s lists have no e-mail address (known
/// only by post): an e-mail run leaves them out and reports them « sans adresse électronique ».
pub fn count_without_email(conn: &mut PgConnection, campaign_id: i64) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(
        "SELECT count(*) AS n FROM contacts c \
         WHERE c.status = $2 AND NOT c.deceased AND c.email IS NULL \
           AND EXISTS (SELECT 1 FROM list_members m \
                       JOIN campaign_lists cl ON cl.list_id = m.list_id \
                       WHERE cl.campaign_id = $1 AND m.contact_id = c.id)",
    )
    .bind::<BigInt, _>(campaign_id)
    .bind::<Text, _>(ContactStatus::Active)
    .get_result::<Count>(conn)
    .map(|c| c.n)
}
