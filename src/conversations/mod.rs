//! Mail exchanged with a candidate (read by [`crate::mailbox`], shown on the candidate's page): a doctor's answers read from the mailbox (with their
//! attachments, stored as the candidate's documents), and a recruiter's answers written on the
//! candidate's page and sent through the outbox, threaded with the message they answer.
//!
//! Whose an answer is: certain from the signed conversation token of the address it was sent
//! to; otherwise from a Message-ID of ours that it quotes, but only when it comes from the
//! candidate's own address (a Message-ID is not a secret).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::config::Settings;
use crate::db::enums::EmailStatus;
use crate::db::schema::{
    applications, candidate_messages, candidates, documents, meetings, outbound_emails,
    staff_users, stage_history,
};
use crate::documents::StoredFile;
use crate::mail::outbox::{encode_headers, NewOutboundEmail};

/// One attachment, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The name the sender's program gave (for display only; reduced to a harmless name).
    pub name: String,
    /// The declared type, lower-cased (never trusted to serve the file).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The candidate's answer to an invitation (iMIP REPLY, RFC 6047).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarAnswer {
    pub uid: String,
    /// The attendee's address (`mailto:` removed), lower-cased.
    pub attendee: Option<String>,
    /// accepte, refuse or provisoire.
    pub answer: &'static str,
}

/// A message written to us.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Incoming {
    /// The candidate named by a valid conversation token among the addresses it was sent to.
    pub conversation: Option<i64>,
    /// The sender's address, lower-cased (empty when none can be read).
    pub from: String,
    pub subject: String,
    pub text: String,
    pub message_id: Option<String>,
    /// References then In-Reply-To, each `<id>`, without repeats (the thread in order).
    pub references: Vec<String>,
    /// An automatic answer (RFC 3834 and the usual signs of an out-of-office).
    pub automatic: bool,
    pub attachments: Vec<Attachment>,
    /// Attachments left out (too many or too large).
    pub attachments_left_out: usize,
    pub calendar: Option<CalendarAnswer>,
}

/// The outbox kinds of a recruiter's answer and of the word to the recruiter in charge.
pub use crate::mail::outbox::{NOTICE_KIND, REPLY_KIND};

/// One message of the conversation, for the candidate's page.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: i64,
    /// recu or envoye.
    pub direction: String,
    pub automatic: bool,
    pub from_address: String,
    pub subject: String,
    pub body_text: String,
    pub message_id: Option<String>,
    pub refs: String,
    /// Who wrote it (sent), or who attached it by hand (received).
    pub staff: Option<String>,
    /// Where the outbox stands with a sent answer.
    pub status: Option<&'static str>,
    pub read: bool,
    pub created_at: DateTime<Utc>,
    pub attachments: Vec<AttachmentView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentView {
    pub id: i64,
    pub name: String,
    pub size_kb: i64,
}

type MessageRow = (
    i64,
    String,
    bool,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<EmailStatus>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
);

/// The conversation of a candidate, oldest first.
pub fn for_candidate(conn: &mut PgConnection, candidate_id: i64) -> QueryResult<Vec<MessageView>> {
    let rows: Vec<MessageRow> = candidate_messages::table
        .left_join(
            staff_users::table.on(staff_users::id.nullable().eq(candidate_messages::staff_id)),
        )
        .left_join(
            outbound_emails::table.on(outbound_emails::id
                .nullable()
                .eq(candidate_messages::outbound_email_id)),
        )
        .filter(candidate_messages::candidate_id.eq(candidate_id))
        .order((candidate_messages::created_at, candidate_messages::id))
        .select((
            candidate_messages::id,
            candidate_messages::direction,
            candidate_messages::automatic,
            candidate_messages::from_address,
            candidate_messages::subject,
            candidate_messages::body_text,
            candidate_messages::message_id,
            candidate_messages::refs,
            staff_users::display_name.nullable(),
            outbound_emails::status.nullable(),
            candidate_messages::read_at,
            candidate_messages::created_at,
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let files: Vec<(i64, Option<i64>, String, i64)> = documents::table
        .filter(documents::candidate_message_id.eq_any(&ids))
        .order(documents::id)
        .select((
            documents::id,
            documents::candidate_message_id,
            documents::original_name,
            documents::size_bytes,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| MessageView {
            id: r.0,
            direction: r.1,
            automatic: r.2,
            from_address: r.3,
            subject: r.4,
            body_text: r.5,
            message_id: r.6,
            refs: r.7,
            staff: r.8,
            status: r.9.map(|s| s.label()),
            read: r.10.is_some(),
            created_at: r.11,
            attachments: files
                .iter()
                .filter(|f| f.1 == Some(r.0))
                .map(|f| AttachmentView {
                    id: f.0,
                    name: f.2.clone(),
                    size_kb: (f.3 + 1023) / 1024,
                })
                .collect(),
        })
        .collect())
}

/// Marks the candidate's received messages read (the page was opened by a recruiter).
pub fn mark_read(
    conn: &mut PgConnection,
    candidate_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        candidate_messages::table
            .filter(candidate_messages::candidate_id.eq(candidate_id))
            .filter(candidate_messages::read_at.is_null()),
    )
    .set(candidate_messages::read_at.eq(now))
    .execute(conn)
}

/// A candidate's address, for matching a sender (None when erased).
fn candidate_address(conn: &mut PgConnection, id: i64) -> QueryResult<Option<String>> {
    candidates::table
        .find(id)
        .filter(candidates::anonymised_at.is_null())
        .select(candidates::email)
        .first::<String>(conn)
        .optional()
        .map(|e| e.map(|e| e.trim().to_lowercase()))
}

/// Whose a message is: the candidate of its conversation token, or the candidate of a
/// Message-ID of ours it quotes when the sender is that candidate's address.
pub fn resolve(conn: &mut PgConnection, m: &Incoming) -> QueryResult<Option<i64>> {
    if let Some(id) = m.conversation {
        return Ok(candidate_address(conn, id)?.map(|_| id));
    }
    if m.from.is_empty() || m.references.is_empty() {
        return Ok(None);
    }
    let ours: Vec<Option<i64>> = outbound_emails::table
        .filter(outbound_emails::message_id.eq_any(&m.references))
        .filter(outbound_emails::candidate_id.is_not_null())
        .select(outbound_emails::candidate_id)
        .limit(5)
        .load(conn)?;
    for id in ours.into_iter().flatten() {
        if candidate_address(conn, id)?.as_deref() == Some(m.from.as_str()) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// The meeting of the candidate a calendar answer is about (a UID of ours, of one of the
/// candidate's meetings), when the answer comes from the candidate's address or through
/// their conversation address.
pub fn answered_meeting(
    conn: &mut PgConnection,
    candidate_id: i64,
    m: &Incoming,
    installation: &str,
    domain: &str,
) -> QueryResult<Option<i64>> {
    let Some(answer) = &m.calendar else {
        return Ok(None);
    };
    let Some(meeting) = crate::pipeline::meetings::id_from_uid(&answer.uid, installation, domain)
    else {
        return Ok(None);
    };
    let owner: Option<i64> = meetings::table
        .inner_join(applications::table)
        .filter(meetings::id.eq(meeting))
        .select(applications::candidate_id)
        .first(conn)
        .optional()?;
    if owner != Some(candidate_id) {
        return Ok(None);
    }
    if m.conversation != Some(candidate_id) {
        let address = candidate_address(conn, candidate_id)?;
        if address.is_none() || answer.attendee != address {
            return Ok(None);
        }
    }
    Ok(Some(meeting))
}

/// Stores a received message on the candidate's conversation: its text, and its attachments
/// written to the document store (their files are pushed on `written`, for the caller to
/// remove if the transaction fails). An automatic answer is recorded read and without its
/// attachments; a person's answer counts as the candidate's activity.
#[allow(clippy::too_many_arguments)]
pub fn receive(
    conn: &mut PgConnection,
    settings: &Settings,
    candidate_id: i64,
    m: &Incoming,
    inbound_id: Option<i64>,
    attached_by: Option<i64>,
    now: DateTime<Utc>,
    written: &mut Vec<StoredFile>,
) -> anyhow::Result<i64> {
    let id: i64 = diesel::insert_into(candidate_messages::table)
        .values((
            candidate_messages::candidate_id.eq(candidate_id),
            candidate_messages::direction.eq("recu"),
            candidate_messages::automatic.eq(m.automatic),
            candidate_messages::from_address.eq(&m.from),
            candidate_messages::subject.eq(&m.subject),
            candidate_messages::body_text.eq(&m.text),
            candidate_messages::message_id.eq(&m.message_id),
            candidate_messages::refs.eq(m.references.join(" ")),
            candidate_messages::inbound_id.eq(inbound_id),
            candidate_messages::staff_id.eq(attached_by),
            candidate_messages::read_at.eq(m.automatic.then_some(now)),
            candidate_messages::created_at.eq(now),
        ))
        .returning(candidate_messages::id)
        .get_result(conn)?;
    if m.automatic {
        return Ok(id);
    }
    for a in &m.attachments {
        let stored =
            crate::documents::store_attachment(&settings.storage.documents_dir, &a.bytes, &a.name)?;
        written.push(stored.clone());
        diesel::insert_into(documents::table)
            .values((
                documents::candidate_id.eq(candidate_id),
                documents::kind.eq("piece_jointe"),
                documents::original_name.eq(&stored.original_name),
                documents::storage_key.eq(&stored.storage_key),
                documents::content_type.eq(&a.content_type),
                documents::size_bytes.eq(stored.size_bytes),
                documents::sha256.eq(&stored.sha256),
                documents::created_at.eq(now),
                documents::candidate_message_id.eq(id),
            ))
            .execute(conn)?;
    }
    diesel::update(candidates::table.find(candidate_id))
        .set(candidates::last_activity_at.eq(now))
        .execute(conn)?;
    Ok(id)
}

/// Who is told of a doctor's answer: the recruiter who last moved one of the candidate's
/// applications (still active), else the one who last planned a meeting with them, else the
/// addresses of `recruiters.notify`.
pub fn in_charge(
    conn: &mut PgConnection,
    settings: &Settings,
    candidate_id: i64,
) -> QueryResult<Vec<String>> {
    let mover: Option<String> = stage_history::table
        .inner_join(applications::table)
        .inner_join(staff_users::table.on(stage_history::actor_id.eq(staff_users::id.nullable())))
        .filter(applications::candidate_id.eq(candidate_id))
        .filter(staff_users::active.eq(true))
        .order((stage_history::created_at.desc(), stage_history::id.desc()))
        .select(staff_users::email)
        .first(conn)
        .optional()?;
    let planner = || -> QueryResult<Option<String>> {
        meetings::table
            .inner_join(applications::table)
            .inner_join(staff_users::table.on(meetings::created_by.eq(staff_users::id.nullable())))
            .filter(applications::candidate_id.eq(candidate_id))
            .filter(staff_users::active.eq(true))
            .order(meetings::created_at.desc())
            .select(staff_users::email)
            .first(conn)
            .optional()
    };
    Ok(match mover.map_or_else(planner, |m| Ok(Some(m)))? {
        Some(address) => vec![address],
        None => settings
            .recruiters
            .notify
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect(),
    })
}

/// Queues the e-mail telling the recruiter in charge that the candidate answered (their name,
/// the subject and a link to the page: the text stays in Vocation).
pub fn notify(
    conn: &mut PgConnection,
    settings: &Settings,
    candidate_id: i64,
    subject: &str,
    attachments: usize,
) -> anyhow::Result<usize> {
    let to = in_charge(conn, settings, candidate_id)?;
    if to.is_empty() {
        return Ok(0);
    }
    let (first, last): (String, String) = candidates::table
        .find(candidate_id)
        .select((candidates::first_name, candidates::last_name))
        .first(conn)?;
    let data = serde_json::json!({
        "org": settings.organisation,
        "public_url": settings.public_base(),
        "candidate_id": candidate_id,
        "first_name": first,
        "last_name": last,
        "subject": subject,
        "attachments": attachments,
    });
    let email = crate::templates::global()
        .render_email(NOTICE_KIND, &data)
        .map_err(|e| anyhow::anyhow!("rendering e-mail {NOTICE_KIND}: {e}"))?;
    let domain = settings.mail_domain();
    let emails: Vec<NewOutboundEmail> = to
        .iter()
        .map(|address| {
            let mut e = NewOutboundEmail::new(
                NOTICE_KIND,
                address,
                email.clone(),
                crate::mail::new_message_id(&domain),
            );
            e.candidate_id = Some(candidate_id);
            e
        })
        .collect();
    Ok(crate::mail::outbox::enqueue(conn, &emails)?)
}

/// The last message received from the candidate that a person wrote (what an answer answers).
fn last_received(
    conn: &mut PgConnection,
    candidate_id: i64,
) -> QueryResult<Option<(Option<String>, String)>> {
    candidate_messages::table
        .filter(candidate_messages::candidate_id.eq(candidate_id))
        .filter(candidate_messages::direction.eq("recu"))
        .filter(candidate_messages::automatic.eq(false))
        .order((
            candidate_messages::created_at.desc(),
            candidate_messages::id.desc(),
        ))
        .select((candidate_messages::message_id, candidate_messages::refs))
        .first(conn)
        .optional()
}

/// What a recruiter's answer needs that the page does not give.
pub enum AnswerError {
    NoCandidate,
    /// The candidate has no address (erased, or never had one).
    NoAddress,
}

/// Queues a recruiter's answer to the candidate, threaded with the last message received
/// (In-Reply-To, References), and records it on the conversation. Returns the message's id.
pub fn answer(
    conn: &mut PgConnection,
    settings: &Settings,
    candidate_id: i64,
    staff_id: i64,
    subject: &str,
    body: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<i64, AnswerError>> {
    conn.transaction(|conn| {
        let found: Option<(String, Option<DateTime<Utc>>)> = candidates::table
            .find(candidate_id)
            .select((candidates::email, candidates::anonymised_at))
            .first(conn)
            .optional()?;
        let Some((email, anonymised)) = found else {
            return Ok(Err(AnswerError::NoCandidate));
        };
        if anonymised.is_some() || !email.contains('@') {
            return Ok(Err(AnswerError::NoAddress));
        }
        let mut headers = Vec::new();
        let mut refs = String::new();
        if let Some((Some(their_id), their_refs)) = last_received(conn, candidate_id)? {
            // References: theirs, then the message answered (RFC 5322 §3.6.4), bounded.
            let mut chain: Vec<&str> = their_refs.split_whitespace().collect();
            chain.retain(|r| *r != their_id);
            let keep = chain.len().saturating_sub(10);
            let mut chain: Vec<&str> = chain.split_off(keep);
            chain.push(&their_id);
            refs = chain.join(" ");
            headers.push(("In-Reply-To".to_owned(), their_id.clone()));
            headers.push(("References".to_owned(), refs.clone()));
        }
        let text = format!("{body}\n\n-- \n{}\n", settings.organisation.service);
        let html = format!(
            "<div style=\"white-space:pre-line;font-family:sans-serif;font-size:15px;\">{}</div>\
             <p style=\"color:#555;font-family:sans-serif;font-size:13px;\">-- <br>{}</p>",
            handlebars::html_escape(body),
            handlebars::html_escape(&settings.organisation.service)
        );
        let message_id = crate::mail::new_message_id(&settings.mail_domain());
        let mut email = NewOutboundEmail::new(
            REPLY_KIND,
            email.trim(),
            crate::templates::RenderedEmail {
                subject: subject.to_owned(),
                text,
                html,
            },
            message_id.clone(),
        );
        email.candidate_id = Some(candidate_id);
        if !headers.is_empty() {
            email.extra_headers = Some(encode_headers(&headers));
        }
        let outbound: i64 = diesel::insert_into(outbound_emails::table)
            .values((
                &email,
                outbound_emails::next_attempt_at.eq(now),
                outbound_emails::created_at.eq(now),
            ))
            .returning(outbound_emails::id)
            .get_result(conn)?;
        let id: i64 = diesel::insert_into(candidate_messages::table)
            .values((
                candidate_messages::candidate_id.eq(candidate_id),
                candidate_messages::direction.eq("envoye"),
                candidate_messages::from_address.eq(settings.mail.from.as_str()),
                candidate_messages::subject.eq(subject),
                candidate_messages::body_text.eq(body),
                candidate_messages::message_id.eq(&message_id),
                candidate_messages::refs.eq(&refs),
                candidate_messages::outbound_email_id.eq(outbound),
                candidate_messages::staff_id.eq(staff_id),
                candidate_messages::read_at.eq(now),
                candidate_messages::created_at.eq(now),
            ))
            .returning(candidate_messages::id)
            .get_result(conn)?;
        crate::staff::audit::audit(
            conn,
            Some(staff_id),
            "reponse_candidat",
            "candidate",
            Some(candidate_id),
            "",
        )?;
        Ok(Ok(id))
    })
}

/// The subject an answer proposes: « Re: » and the last subject received (or sent).
pub fn answer_subject(messages: &[MessageView], fallback: &str) -> String {
    match messages.iter().rev().find(|m| !m.automatic) {
        Some(m) => {
            let s = m.subject.trim();
            let lower = s.to_lowercase();
            if lower.starts_with("re:") || lower.starts_with("re :") {
                s.to_owned()
            } else if s.is_empty() {
                fallback.to_owned()
            } else {
                format!("Re: {s}")
            }
        }
        None => fallback.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(subject: &str, automatic: bool) -> MessageView {
        MessageView {
            id: 1,
            direction: "recu".into(),
            automatic,
            from_address: String::new(),
            subject: subject.into(),
            body_text: String::new(),
            message_id: None,
            refs: String::new(),
            staff: None,
            status: None,
            read: true,
            created_at: Utc::now(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn an_answer_proposes_re_and_the_last_subject() {
        assert_eq!(
            answer_subject(&[], "Votre candidature"),
            "Votre candidature"
        );
        assert_eq!(
            answer_subject(&[message("Disponibilités", false)], "x"),
            "Re: Disponibilités"
        );
        assert_eq!(
            answer_subject(&[message("RE: Poste", false), message("Absent", true)], "x"),
            "RE: Poste"
        );
    }
}
