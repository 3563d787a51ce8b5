//! What we hold about a candidate, as their private page shows it and its JSON export gives it.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::db::enums::Stage;
use crate::db::schema::{applications, candidates};

/// Whether a candidate exists and was not anonymised (a link to an erased candidate shows
/// nothing).
pub fn is_live(conn: &mut PgConnection, candidate_id: i64) -> QueryResult<bool> {
    diesel::select(exists(
        candidates::table
            .filter(candidates::id.eq(candidate_id))
            .filter(candidates::anonymised_at.is_null()),
    ))
    .get_result(conn)
}

/// Everything held about a candidate, as the private page shows it and the JSON export gives
/// it; None when the candidate does not exist or was anonymised.
pub fn personal_data(
    conn: &mut PgConnection,
    candidate_id: i64,
    today: NaiveDate,
) -> QueryResult<Option<Value>> {
    if !is_live(conn, candidate_id)? {
        return Ok(None);
    }
    let Some(c) = crate::candidates::load(conn, candidate_id)? else {
        return Ok(None);
    };
    let notices: Vec<(i64, String, DateTime<Utc>)> = applications::table
        .filter(applications::candidate_id.eq(candidate_id))
        .select((
            applications::id,
            applications::privacy_notice_version,
            applications::privacy_accepted_at,
        ))
        .load(conn)?;
    let offers = crate::offers::for_candidate(conn, candidate_id)?;
    let placements = crate::placements::for_candidate(conn, candidate_id, today)?;
    let submissions = crate::applications::submissions_for_export(conn, candidate_id)?;
    // Interview grids are an evaluation of the candidate: personal data under the right of
    // access (README, « Notes et grille d'entretien : ce que le candidat voit »).
    let evaluations = crate::pipeline::evaluation::for_candidate(conn, candidate_id)?;
    // So are the interviews and visits planned with them, and the note written with each.
    let meetings = crate::pipeline::meetings::for_candidate(conn, candidate_id)?;
    // And the mail exchanged with them: their answers (and automatic ones) and ours.
    let messages = crate::conversations::for_candidate(conn, candidate_id)?;
    let held = Held {
        candidate_id: c.id,
        identity: Identity {
            civility: c.civility,
            first_name: &c.first_name,
            last_name: &c.last_name,
            rpps: c.rpps.as_deref(),
        },
        contact: Contact {
            email: &c.email,
            phone: &c.phone,
        },
        professional: Professional {
            specialty: &c.specialty,
            situation: c.situation,
            available_from: c.available_from,
            working_time: &c.working_time,
            on_call: c.on_call,
            intern_training: c.intern_training,
            centres: &c.centres,
        },
        consent: Consent {
            pool: c.pool_consent_at.is_some(),
            pool_consent_at: c.pool_consent_at,
        },
        created_at: c.created_at,
        applications: c
            .applications
            .iter()
            .map(|a| {
                let notice = notices.iter().find(|(id, _, _)| *id == a.id);
                HeldApplication {
                    id: a.id,
                    position: a.position.as_deref(),
                    stage: a.stage,
                    stage_code: a.stage_code,
                    stage_entered_at: a.stage_entered_at,
                    created_at: a.created_at,
                    message: &a.message,
                    heard_from: a.heard_from,
                    spouse_support: a.spouse_support,
                    spouse_field: a.spouse_field.as_deref(),
                    spouse_label: a.spouse_label.as_deref(),
                    open: a.is_open || a.stage_code == Stage::Pool.code(),
                    privacy_notice_version: notice.map(|n| n.1.as_str()),
                    privacy_accepted_at: notice.map(|n| n.2),
                    history: a
                        .history
                        .iter()
                        .map(|h| HeldMove {
                            at: h.at,
                            from: h.from,
                            to: h.to,
                            reason: h.reason,
                            note: h.note.as_deref(),
                        })
                        .collect(),
                }
            })
            .collect(),
        submissions: &submissions,
        documents: c
            .documents
            .iter()
            .map(|d| HeldDocument {
                name: &d.original_name,
                size_kb: d.size_kb,
                created_at: d.created_at,
            })
            .collect(),
        notes: c
            .notes
            .iter()
            .map(|n| HeldNote {
                body: &n.body,
                created_at: n.created_at,
            })
            .collect(),
        meetings: meetings
            .iter()
            .map(|m| HeldMeeting {
                kind: m.kind,
                starts_at: m.starts_at,
                duration: &m.duration,
                place: &m.place,
                note: &m.note,
                cancelled: m.cancelled,
            })
            .collect(),
        evaluations: evaluations
            .iter()
            .map(|g| HeldEvaluation {
                meeting: g.meeting_kind,
                meeting_at: g.meeting_at,
                opinion: g.opinion,
                comment: &g.comment,
                updated_at: g.updated_at,
                scores: g
                    .scores
                    .iter()
                    .map(|s| HeldScore {
                        criterion: &s.criterion,
                        score: s.score,
                        score_label: s.score_label,
                        comment: &s.comment,
                    })
                    .collect(),
            })
            .collect(),
        emails: c
            .emails
            .iter()
            .map(|e| HeldEmail {
                subject: &e.subject,
                status: e.status,
                created_at: e.created_at,
                sent_at: e.sent_at,
            })
            .collect(),
        messages: messages
            .iter()
            .map(|m| HeldMessage {
                received: m.direction == "recu",
                automatic: m.automatic,
                subject: &m.subject,
                text: &m.body_text,
                attachments: m.attachments.iter().map(|a| a.name.as_str()).collect(),
                created_at: m.created_at,
            })
            .collect(),
        offers: offers
            .iter()
            .map(|o| HeldOffer {
                id: o.id,
                application_id: o.application_id,
                status: o.status,
                working_time: o.working_time,
                fte: &o.fte,
                starts_on: o.starts_on,
                expires_on: o.expires_on,
                on_call_terms: &o.on_call_terms,
                salary_note: &o.salary_note,
                sent_at: o.sent_at,
                answered_at: o.answered_at,
                centres: o
                    .allocations
                    .iter()
                    .map(|a| HeldCentre {
                        centre: &a.centre,
                        commune: &a.commune,
                        fte: &a.fte,
                        days: &a.pattern,
                        starts_on: None,
                        ends_on: None,
                    })
                    .collect(),
            })
            .collect(),
        placements: placements
            .iter()
            .map(|p| HeldPlacement {
                id: p.id,
                application_id: p.application_id,
                started_on: p.started_on,
                started: p.started,
                ended_on: p.ended_on,
                fte: &p.fte,
                centres: p
                    .current
                    .iter()
                    .map(|a| HeldCentre {
                        centre: &a.allocation.centre,
                        commune: &a.allocation.commune,
                        fte: &a.allocation.fte,
                        days: &a.allocation.pattern,
                        starts_on: Some(a.starts_on),
                        ends_on: Some(a.ends_on),
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_value(held)
        .map(Some)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
}

/// What we hold, as the export gives it.
#[derive(Serialize)]
struct Held<'a> {
    candidate_id: i64,
    identity: Identity<'a>,
    contact: Contact<'a>,
    professional: Professional<'a>,
    consent: Consent,
    created_at: DateTime<Utc>,
    applications: Vec<HeldApplication<'a>>,
    submissions: &'a [Value],
    documents: Vec<HeldDocument<'a>>,
    notes: Vec<HeldNote<'a>>,
    meetings: Vec<HeldMeeting<'a>>,
    evaluations: Vec<HeldEvaluation<'a>>,
    emails: Vec<HeldEmail<'a>>,
    messages: Vec<HeldMessage<'a>>,
    offers: Vec<HeldOffer<'a>>,
    placements: Vec<HeldPlacement<'a>>,
}

#[derive(Serialize)]
struct Identity<'a> {
    civility: &'static str,
    first_name: &'a str,
    last_name: &'a str,
    rpps: Option<&'a str>,
}

#[derive(Serialize)]
struct Contact<'a> {
    email: &'a str,
    phone: &'a str,
}

#[derive(Serialize)]
struct Professional<'a> {
    specialty: &'a str,
    situation: &'static str,
    available_from: Option<NaiveDate>,
    working_time: &'a str,
    on_call: bool,
    intern_training: bool,
    centres: &'a [String],
}

#[derive(Serialize)]
struct Consent {
    pool: bool,
    pool_consent_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct HeldApplication<'a> {
    id: i64,
    position: Option<&'a str>,
    stage: &'static str,
    stage_code: &'static str,
    stage_entered_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    message: &'a str,
    heard_from: Option<&'static str>,
    /// Support asked for the spouse's job search (#Dites32 à 2): null when not answered.
    spouse_support: Option<bool>,
    spouse_field: Option<&'a str>,
    spouse_label: Option<&'a str>,
    open: bool,
    privacy_notice_version: Option<&'a str>,
    privacy_accepted_at: Option<DateTime<Utc>>,
    history: Vec<HeldMove<'a>>,
}

/// A stage move, without who made it; with the note written with it, word for word (the right
/// of access covers what staff wrote about the candidate, as for the notes of the record).
#[derive(Serialize)]
struct HeldMove<'a> {
    at: DateTime<Utc>,
    from: Option<&'static str>,
    to: &'static str,
    reason: Option<&'static str>,
    note: Option<&'a str>,
}

#[derive(Serialize)]
struct HeldDocument<'a> {
    name: &'a str,
    size_kb: i64,
    created_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct HeldNote<'a> {
    body: &'a str,
    created_at: DateTime<Utc>,
}

/// An interview or a visit, without who planned it or who took part; with its note.
#[derive(Serialize)]
struct HeldMeeting<'a> {
    kind: &'static str,
    starts_at: DateTime<Utc>,
    duration: &'a str,
    place: &'a str,
    note: &'a str,
    /// Called off (issue 20): shown as such, not as a meeting to come.
    cancelled: bool,
}

/// An interview grid, without who filled it (as the notes).
#[derive(Serialize)]
struct HeldEvaluation<'a> {
    meeting: &'static str,
    meeting_at: DateTime<Utc>,
    opinion: &'static str,
    comment: &'a str,
    updated_at: DateTime<Utc>,
    scores: Vec<HeldScore<'a>>,
}

#[derive(Serialize)]
struct HeldScore<'a> {
    criterion: &'a str,
    score: Option<i16>,
    score_label: &'static str,
    comment: &'a str,
}

#[derive(Serialize)]
struct HeldEmail<'a> {
    subject: &'a str,
    status: &'static str,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

/// A message of the conversation: received from the candidate or written to them.
#[derive(Serialize)]
struct HeldMessage<'a> {
    received: bool,
    automatic: bool,
    subject: &'a str,
    text: &'a str,
    attachments: Vec<&'a str>,
    created_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct HeldOffer<'a> {
    id: i64,
    application_id: i64,
    status: &'static str,
    working_time: &'static str,
    fte: &'a str,
    starts_on: NaiveDate,
    expires_on: NaiveDate,
    on_call_terms: &'a str,
    salary_note: &'a str,
    sent_at: Option<DateTime<Utc>>,
    answered_at: Option<DateTime<Utc>>,
    centres: Vec<HeldCentre<'a>>,
}

#[derive(Serialize)]
struct HeldPlacement<'a> {
    id: i64,
    application_id: i64,
    started_on: NaiveDate,
    /// False for a start to come (« prise de poste prévue le … »).
    started: bool,
    ended_on: Option<NaiveDate>,
    fte: &'a str,
    centres: Vec<HeldCentre<'a>>,
}

/// A centre of an offer (no dates) or of a placement (the dates of the allocation).
#[derive(Serialize)]
struct HeldCentre<'a> {
    centre: &'a str,
    commune: &'a str,
    fte: &'a str,
    days: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    starts_on: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_on: Option<Option<NaiveDate>>,
}
