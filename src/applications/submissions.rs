//! What each submission typed, kept beside the application it made or joined: read back for the
//! confirmation page, the candidate's page (proposals) and the person's own data.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use uuid::Uuid;

use super::fields::NewApplication;

/// What a submission said of the person, as typed (in the form's terms), kept beside the
/// application: an anonymous submission never changes an existing record, so whatever it proposes
/// that differs from the record waits here for a recruiter (or the person, through the link sent
/// to the address on file) to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Submitted {
    pub civilite: String,
    pub prenom: String,
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
    pub vivier: bool,
}

impl Submitted {
    pub fn of(app: &NewApplication) -> Submitted {
        let mut centres: Vec<String> = app.centre_ids.iter().map(i64::to_string).collect();
        centres.sort();
        Submitted {
            civilite: app.civility.code().to_owned(),
            prenom: app.first_name.as_str().to_owned(),
            nom: app.last_name.as_str().to_owned(),
            courriel: app.email.as_str().to_owned(),
            telephone: app.phone.as_str().to_owned(),
            rpps: app
                .rpps
                .as_ref()
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
            specialite: app.specialty_code.clone(),
            situation: app.situation.code().to_owned(),
            disponibilite: app
                .available_from
                .map(|d| d.to_string())
                .unwrap_or_default(),
            temps_travail: app.working_time.code().to_owned(),
            demi_journees: app
                .part_time_half_days
                .map(|n| n.to_string())
                .unwrap_or_default(),
            centres,
            garde: app.on_call,
            maitre_stage: app.intern_training,
            vivier: app.pool_consent,
        }
    }
}

/// What the confirmation page shows of a submission: only what the person typed, whether it
/// made a new record or joined a known one (the page must not tell which).
#[derive(Debug, Clone)]
pub struct ReceivedSummary {
    pub created_at: DateTime<Utc>,
    pub submitted: Submitted,
}

#[derive(QueryableByName)]
struct SubmissionRow {
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    details: String,
}

/// The submission recorded under this key, if any.
pub fn find_by_submission_key(
    conn: &mut PgConnection,
    key: Uuid,
) -> anyhow::Result<Option<ReceivedSummary>> {
    let row: Option<SubmissionRow> = diesel::sql_query(
        "SELECT created_at, details::text AS details FROM submissions WHERE submission_key = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(key)
    .get_result(conn)
    .optional()?;
    row.map(|r| {
        Ok(ReceivedSummary {
            created_at: r.created_at,
            submitted: serde_json::from_str(&r.details)?,
        })
    })
    .transpose()
}

/// A submission attached to a candidate, with what it proposed.
#[derive(Debug, Clone)]
pub struct SubmissionOf {
    pub key: Uuid,
    pub created_at: DateTime<Utc>,
    pub match_kind: String,
    /// This submission created the record it is attached to: its values are the record's first
    /// state, not a proposal.
    pub created_this_record: bool,
    pub submitted: Submitted,
}

#[derive(QueryableByName)]
struct SubmissionOfRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    submission_key: Uuid,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    match_kind: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    created_this_record: bool,
    #[diesel(sql_type = diesel::sql_types::Text)]
    details: String,
}

const SUBMISSION_COLUMNS: &str = "SELECT submission_key, created_at, match_kind, \
     coalesce(created_candidate_id = candidate_id, false) AS created_this_record, \
     details::text AS details FROM submissions WHERE candidate_id = $1";

fn submission_of_row(r: SubmissionOfRow) -> anyhow::Result<SubmissionOf> {
    Ok(SubmissionOf {
        key: r.submission_key,
        created_at: r.created_at,
        match_kind: r.match_kind,
        created_this_record: r.created_this_record,
        submitted: serde_json::from_str(&r.details)?,
    })
}

/// The candidate's submissions, newest first (at most `limit`).
pub fn submissions_of(
    conn: &mut PgConnection,
    candidate_id: i64,
    limit: i64,
) -> anyhow::Result<Vec<SubmissionOf>> {
    let rows: Vec<SubmissionOfRow> = diesel::sql_query(format!(
        "{SUBMISSION_COLUMNS} ORDER BY created_at DESC, submission_key LIMIT $2"
    ))
    .bind::<BigInt, _>(candidate_id)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    rows.into_iter().map(submission_of_row).collect()
}

/// What each submission typed, for the person's own data page and export (right of access).
pub fn submissions_for_export(
    conn: &mut PgConnection,
    candidate_id: i64,
) -> QueryResult<Vec<serde_json::Value>> {
    let rows: Vec<SubmissionOfRow> = diesel::sql_query(format!(
        "{SUBMISSION_COLUMNS} ORDER BY created_at, submission_key"
    ))
    .bind::<BigInt, _>(candidate_id)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let details: serde_json::Value =
                serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null);
            serde_json::json!({ "created_at": r.created_at, "details": details })
        })
        .collect())
}

/// One submission of this candidate, by key.
pub fn submission_of(
    conn: &mut PgConnection,
    candidate_id: i64,
    key: Uuid,
) -> anyhow::Result<Option<SubmissionOf>> {
    let row: Option<SubmissionOfRow> =
        diesel::sql_query(format!("{SUBMISSION_COLUMNS} AND submission_key = $2"))
            .bind::<BigInt, _>(candidate_id)
            .bind::<diesel::sql_types::Uuid, _>(key)
            .get_result(conn)
            .optional()?;
    row.map(submission_of_row).transpose()
}
