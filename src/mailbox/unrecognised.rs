//! Mail a person wrote that matched no candidate: kept (the raw message, the sender, the
//! subject and the start of the text) for the « Non reconnu » page, where staff attach it to
//! a candidate — it then goes on their conversation as if it had been recognised — or dismiss
//! it. What is kept goes when it is attached, dismissed, or past
//! `inbound.unrecognised_retention_days`; the message itself stays in the mailbox's folder.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::config::Settings;
use crate::conversations::{self, Incoming};
use crate::db::schema::{candidates, inbound_messages};
use crate::documents::StoredFile;

/// Characters of the text shown on the page.
const EXCERPT_CHARS: usize = 600;

/// Keeps what the page needs of a message (in the transaction that records it).
pub fn keep(conn: &mut PgConnection, id: i64, m: &Incoming, raw: &[u8]) -> QueryResult<usize> {
    let excerpt: String = m.text.chars().take(EXCERPT_CHARS).collect();
    diesel::update(inbound_messages::table.find(id))
        .set((
            inbound_messages::raw.eq(Some(raw)),
            inbound_messages::from_address.eq(&m.from),
            inbound_messages::subject.eq(&m.subject),
            inbound_messages::excerpt.eq(excerpt),
        ))
        .execute(conn)
}

/// A message waiting on the page.
#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub from_address: String,
    pub subject: String,
    pub excerpt: String,
    pub size_kb: i64,
    /// Candidates whose address is the sender's: one click to attach.
    pub suggestions: Vec<Suggestion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    pub id: i64,
    pub name: String,
}

type WaitingRow = (
    i64,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

fn waiting() -> inbound_messages::BoxedQuery<'static, diesel::pg::Pg> {
    inbound_messages::table
        .filter(inbound_messages::raw.is_not_null())
        .filter(inbound_messages::resolved_at.is_null())
        .into_boxed()
}

/// How many messages wait.
pub fn count(conn: &mut PgConnection) -> QueryResult<i64> {
    waiting().count().get_result(conn)
}

/// The messages waiting, oldest first, a page of `limit` from `offset`.
pub fn list(conn: &mut PgConnection, limit: i64, offset: i64) -> QueryResult<Vec<Waiting>> {
    let rows: Vec<WaitingRow> = waiting()
        .order((
            inbound_messages::processed_at.asc(),
            inbound_messages::id.asc(),
        ))
        .limit(limit)
        .offset(offset)
        .select((
            inbound_messages::id,
            inbound_messages::processed_at,
            inbound_messages::from_address,
            inbound_messages::subject,
            inbound_messages::excerpt,
            inbound_messages::size_bytes,
        ))
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, at, from, subject, excerpt, size) in rows {
        let from = from.unwrap_or_default();
        let suggestions = if from.is_empty() {
            Vec::new()
        } else {
            candidates::table
                .filter(candidates::email_normalized.eq(from.to_lowercase()))
                .filter(candidates::anonymised_at.is_null())
                .order(candidates::id)
                .limit(3)
                .select((
                    candidates::id,
                    candidates::first_name,
                    candidates::last_name,
                ))
                .load::<(i64, String, String)>(conn)?
                .into_iter()
                .map(|(id, first, last)| Suggestion {
                    id,
                    name: format!("{first} {last}"),
                })
                .collect()
        };
        out.push(Waiting {
            id,
            received_at: at.unwrap_or_else(Utc::now),
            from_address: from,
            subject: subject.unwrap_or_default(),
            excerpt: excerpt.unwrap_or_default(),
            size_kb: (size + 1023) / 1024,
            suggestions,
        });
    }
    Ok(out)
}

/// Why a message could not be attached.
#[derive(Debug, PartialEq, Eq)]
pub enum AttachError {
    /// No such message waiting (attached or dismissed meanwhile, or past its time).
    Gone,
    /// No such candidate, or an erased one.
    NoCandidate,
}

fn forget(
    conn: &mut PgConnection,
    id: i64,
    staff_id: Option<i64>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(inbound_messages::table.find(id))
        .set((
            inbound_messages::raw.eq(None::<Vec<u8>>),
            inbound_messages::from_address.eq(None::<String>),
            inbound_messages::subject.eq(None::<String>),
            inbound_messages::excerpt.eq(None::<String>),
            inbound_messages::resolved_at.eq(now),
            inbound_messages::resolved_by.eq(staff_id),
        ))
        .execute(conn)
}

/// Attaches waiting message `id` to candidate `candidate_id`: read again from its bytes and
/// put on the candidate's conversation with its attachments (no word to the recruiter: a
/// person did it). Returns the conversation message's id.
pub fn attach(
    conn: &mut PgConnection,
    settings: &Settings,
    id: i64,
    candidate_id: i64,
    staff_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<i64, AttachError>> {
    let mut written: Vec<StoredFile> = Vec::new();
    let result = conn.transaction(|conn| -> anyhow::Result<Result<i64, AttachError>> {
        let raw: Option<Option<Vec<u8>>> = inbound_messages::table
            .find(id)
            .filter(inbound_messages::resolved_at.is_null())
            .select(inbound_messages::raw)
            .for_update()
            .first(conn)
            .optional()?;
        let Some(Some(raw)) = raw else {
            return Ok(Err(AttachError::Gone));
        };
        let alive: bool = diesel::select(diesel::dsl::exists(
            candidates::table
                .find(candidate_id)
                .filter(candidates::anonymised_at.is_null()),
        ))
        .get_result(conn)?;
        if !alive {
            return Ok(Err(AttachError::NoCandidate));
        }
        let secret = settings.security.secret_key.expose_secret().as_bytes();
        let mut m = super::incoming::from_raw(&raw, secret, "")
            .map_err(|e| anyhow::anyhow!("message set aside no longer readable: {e}"))?;
        // A person said whose it is: it is theirs, and not an automatic answer to hide.
        m.conversation = Some(candidate_id);
        let message = conversations::receive(
            conn,
            settings,
            candidate_id,
            &m,
            Some(id),
            Some(staff_id),
            now,
            &mut written,
        )?;
        forget(conn, id, Some(staff_id), now)?;
        diesel::update(inbound_messages::table.find(id))
            .set((
                inbound_messages::candidate_id.eq(candidate_id),
                inbound_messages::kind.eq("reponse"),
            ))
            .execute(conn)?;
        crate::staff::audit::audit(
            conn,
            Some(staff_id),
            "courriel_rattache",
            "candidate",
            Some(candidate_id),
            &format!("courriel reçu n° {id}"),
        )?;
        Ok(Ok(message))
    });
    if !matches!(result, Ok(Ok(_))) {
        for file in &written {
            crate::documents::discard(&settings.storage.documents_dir, file);
        }
    }
    result
}

/// Dismisses waiting message `id`: what was kept of it goes. False when it was not waiting.
pub fn dismiss(
    conn: &mut PgConnection,
    id: i64,
    staff_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let open: Option<i64> = inbound_messages::table
            .find(id)
            .filter(inbound_messages::raw.is_not_null())
            .filter(inbound_messages::resolved_at.is_null())
            .select(inbound_messages::id)
            .for_update()
            .first(conn)
            .optional()?;
        if open.is_none() {
            return Ok(false);
        }
        forget(conn, id, Some(staff_id), now)?;
        crate::staff::audit::audit(
            conn,
            Some(staff_id),
            "courriel_ecarte",
            "inbound_message",
            Some(id),
            "",
        )?;
        Ok(true)
    })
}

/// Forgets what was kept of messages waiting for longer than `days` (the daily retention job).
pub fn purge(conn: &mut PgConnection, now: DateTime<Utc>, days: u32) -> QueryResult<usize> {
    let limit = now - Duration::days(i64::from(days));
    diesel::update(
        inbound_messages::table
            .filter(inbound_messages::raw.is_not_null())
            .filter(inbound_messages::resolved_at.is_null())
            .filter(inbound_messages::processed_at.lt(limit)),
    )
    .set((
        inbound_messages::raw.eq(None::<Vec<u8>>),
        inbound_messages::from_address.eq(None::<String>),
        inbound_messages::subject.eq(None::<String>),
        inbound_messages::excerpt.eq(None::<String>),
        inbound_messages::resolved_at.eq(now),
    ))
    .execute(conn)
}
