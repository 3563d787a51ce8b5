//! The transactional outbox for single e-mails (confirmations, notifications). A message is
//! inserted in the same transaction as the change that causes it; the worker claims due messages
//! with `FOR UPDATE SKIP LOCKED` and a lease, sends them without holding a database connection,
//! and records the outcome. 4xx replies and network errors are retried with doubling backoff up
//! to `max_attempts` (see [`super::retry`]); 5xx replies fail the message at once.
//!
//! Each message is built, then sealed (DKIM-signed when a key is set) by [`super::seal`], the
//! step campaign mail goes through too. Automatic kinds ([`is_automatic`]) carry
//! `Auto-Submitted: auto-generated`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use lettre::message::Mailbox;
use tokio::sync::{watch, Notify};

use crate::config::Settings;
use crate::db::enums::EmailStatus;
use crate::db::schema::outbound_emails;
use crate::db::PgPool;
use crate::mail::dkim::DkimSigner;
use crate::mail::retry::RetryPolicy;
use crate::mail::{build_message, load_dkim, seal, Extras, Mailer};
use crate::templates::RenderedEmail;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbound_emails)]
pub struct NewOutboundEmail {
    pub kind: String,
    pub candidate_id: Option<i64>,
    pub application_id: Option<i64>,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub message_id: String,
    /// A calendar object with a METHOD (iMIP), sent as a `text/calendar` alternative and as an
    /// attachment.
    pub ics: Option<String>,
    /// Headers of its own, as a JSON list of `[name, value]` pairs (see [`encode_headers`]).
    pub extra_headers: Option<String>,
}

/// The kind of a recruiter's answer written on a candidate's page.
pub const REPLY_KIND: &str = "recruiter_reply";
/// The kind of the e-mail telling the recruiter in charge that a doctor answered.
pub const NOTICE_KIND: &str = "reply_notification";

/// The kinds the service sends on its own, not written or asked for by a person at that
/// moment: they carry `Auto-Submitted: auto-generated` (RFC 3834), and automatic answers to
/// them are not sent back.
pub fn is_automatic(kind: &str) -> bool {
    matches!(
        kind,
        "application_confirmation"
            | "recruiter_notification"
            | "approval_request"
            | "daily_digest"
            | "consent_renewal"
            | "personal_data_link"
            | NOTICE_KIND
    )
}

/// The kinds written to a candidate: when answers are read, they go with the candidate's
/// conversation address as Reply-To, so that an answer lands on the candidate's page.
pub fn is_to_candidate(kind: &str) -> bool {
    matches!(
        kind,
        "application_confirmation"
            | "stage_message"
            | "meeting_invitation"
            | "offer"
            | "consent_renewal"
            | "personal_data_link"
            | REPLY_KIND
    )
}

/// Headers for [`NewOutboundEmail::extra_headers`].
pub fn encode_headers(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "[]".to_owned())
}

impl NewOutboundEmail {
    pub fn new(kind: &str, recipient: &str, email: RenderedEmail, message_id: String) -> Self {
        NewOutboundEmail {
            kind: kind.to_owned(),
            candidate_id: None,
            application_id: None,
            recipient: recipient.to_owned(),
            subject: email.subject,
            body_text: email.text,
            body_html: email.html,
            message_id,
            ics: None,
            extra_headers: None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbound_emails, check_for_backend(diesel::pg::Pg))]
pub struct OutboundEmail {
    pub id: i64,
    pub kind: String,
    pub candidate_id: Option<i64>,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub message_id: String,
    pub attempts: i32,
    pub ics: Option<String>,
    pub extra_headers: Option<String>,
}

pub fn enqueue(conn: &mut PgConnection, emails: &[NewOutboundEmail]) -> QueryResult<usize> {
    // Due from the process's clock, the one `claim_due` is given (not PostgreSQL's default).
    let now = Utc::now();
    let rows: Vec<_> = emails
        .iter()
        .map(|e| {
            (
                e,
                outbound_emails::next_attempt_at.eq(now),
                outbound_emails::created_at.eq(now),
            )
        })
        .collect();
    diesel::insert_into(outbound_emails::table)
        .values(rows)
        .execute(conn)
}

/// Claims up to `limit` due messages for `lease` seconds and counts the attempt.
pub fn claim_due(
    conn: &mut PgConnection,
    limit: i64,
    lease_seconds: i64,
    now: DateTime<Utc>,
) -> QueryResult<Vec<OutboundEmail>> {
    let lease_until = now + chrono::Duration::seconds(lease_seconds);
    conn.transaction(|conn| {
        let ids: Vec<i64> = outbound_emails::table
            .filter(outbound_emails::status.eq(EmailStatus::Pending))
            .filter(outbound_emails::next_attempt_at.le(now))
            .filter(
                outbound_emails::locked_until
                    .is_null()
                    .or(outbound_emails::locked_until.lt(now)),
            )
            .order(outbound_emails::id.asc())
            .limit(limit)
            .select(outbound_emails::id)
            .for_update()
            .skip_locked()
            .load(conn)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(outbound_emails::table.filter(outbound_emails::id.eq_any(&ids)))
            .set((
                outbound_emails::locked_until.eq(lease_until),
                outbound_emails::attempts.eq(outbound_emails::attempts + 1),
            ))
            .returning(OutboundEmail::as_returning())
            .get_results(conn)
    })
}

enum Outcome {
    Sent,
    Retry(String),
    Failed(String),
}

fn record(
    conn: &mut PgConnection,
    id: i64,
    outcome: &Outcome,
    attempts: i32,
    retry: &RetryPolicy,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let row = outbound_emails::table.filter(outbound_emails::id.eq(id));
    match outcome {
        Outcome::Sent => diesel::update(row)
            .set((
                outbound_emails::status.eq(EmailStatus::Sent),
                outbound_emails::sent_at.eq(now),
                outbound_emails::locked_until.eq(None::<DateTime<Utc>>),
                outbound_emails::last_error.eq(None::<String>),
            ))
            .execute(conn),
        Outcome::Retry(detail) if !retry.gives_up(attempts) => diesel::update(row)
            .set((
                outbound_emails::next_attempt_at.eq(now + retry.delay(attempts)),
                outbound_emails::locked_until.eq(None::<DateTime<Utc>>),
                outbound_emails::last_error.eq(detail),
            ))
            .execute(conn),
        Outcome::Retry(detail) | Outcome::Failed(detail) => diesel::update(row)
            .set((
                outbound_emails::status.eq(EmailStatus::Failed),
                outbound_emails::locked_until.eq(None::<DateTime<Utc>>),
                outbound_emails::last_error.eq(detail),
            ))
            .execute(conn),
    }
    .map(|_| ())
}

/// Gives claimed messages back untouched: no lease, and the attempt counted at claim time
/// undone (nothing was tried).
fn release(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(outbound_emails::table.filter(outbound_emails::id.eq_any(ids)))
        .set((
            outbound_emails::locked_until.eq(None::<DateTime<Utc>>),
            outbound_emails::attempts.eq(outbound_emails::attempts - 1),
        ))
        .execute(conn)
        .map(|_| ())
}

/// What the worker needs to send: the transport and the sender identity.
#[derive(Clone)]
pub struct Dispatcher {
    pub pool: PgPool,
    pub mailer: Mailer,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    /// The settings the Reply-To of mail to a candidate comes from (their conversation address
    /// when answers are read: [`Settings::conversation_address`]).
    pub settings: Arc<Settings>,
    /// Signs every message when `mail.dkim` has a key.
    pub dkim: Option<Arc<DkimSigner>>,
    pub lease_seconds: i64,
    /// When a message refused for a passing reason is tried again, and when it fails.
    pub retry: RetryPolicy,
}

impl Dispatcher {
    pub fn new(settings: &Settings, pool: PgPool) -> anyhow::Result<Dispatcher> {
        Ok(Dispatcher {
            pool,
            mailer: Mailer::from_settings(settings)?,
            dkim: load_dkim(settings)?.map(Arc::new),
            from: settings.mail.from.parse().context("mail.from")?,
            reply_to: if settings.mail.reply_to.is_empty() {
                None
            } else {
                Some(settings.mail.reply_to.parse().context("mail.reply_to")?)
            },
            settings: Arc::new(settings.clone()),
            lease_seconds: settings.mail.worker.lease_seconds,
            retry: RetryPolicy::outbox(&settings.mail.worker),
        })
    }

    /// Sends one batch of due messages; returns how many were claimed.
    pub async fn dispatch_batch(&self) -> anyhow::Result<usize> {
        self.dispatch_batch_until(None).await
    }

    /// Sends one batch, but once `stop` turns true sends no further message: the claimed ones
    /// not yet sent are released at once (lease and attempt given back) for the next worker.
    async fn dispatch_batch_until(
        &self,
        stop: Option<&watch::Receiver<bool>>,
    ) -> anyhow::Result<usize> {
        let pool = self.pool.clone();
        let lease = self.lease_seconds;
        let claimed = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut conn = pool.get()?;
            Ok(claim_due(&mut conn, 20, lease, Utc::now())?)
        })
        .await??;
        let count = claimed.len();
        let mut outcomes = Vec::with_capacity(count);
        let mut unsent = Vec::new();
        for email in claimed {
            if stop.is_some_and(|s| *s.borrow()) {
                unsent.push(email.id);
                continue;
            }
            let rendered = RenderedEmail {
                subject: email.subject.clone(),
                text: email.body_text.clone(),
                html: email.body_html.clone(),
            };
            // A message whose building panics fails like an invalid one: a poison message
            // ends, it is not claimed again and again.
            let built = crate::supervise::catch("mail_message", || {
                let headers: Vec<(String, String)> = match &email.extra_headers {
                    Some(json) => serde_json::from_str(json).context("extra headers")?,
                    None => Vec::new(),
                };
                let conversation = match email.candidate_id {
                    Some(candidate) if is_to_candidate(&email.kind) => {
                        match self.settings.conversation_address(candidate) {
                            Some(address) => {
                                let name = self
                                    .reply_to
                                    .as_ref()
                                    .and_then(|r| r.name.clone())
                                    .or_else(|| self.from.name.clone());
                                Some(Mailbox::new(
                                    name,
                                    address.parse().context("conversation address")?,
                                ))
                            }
                            None => None,
                        }
                    }
                    _ => None,
                };
                let message = build_message(
                    &self.from,
                    conversation.as_ref().or(self.reply_to.as_ref()),
                    &email.recipient,
                    &email.message_id,
                    &rendered,
                    Extras {
                        calendar: email.ics.as_deref(),
                        headers: &headers,
                        automatic: is_automatic(&email.kind),
                    },
                )?;
                Ok(seal(&message, self.dkim.as_deref(), Utc::now())?)
            })
            .unwrap_or_else(|| Err(anyhow::anyhow!("erreur interne")));
            let outcome = match built {
                // Claimed more times than it may be tried, each claim ending without an
                // outcome (a crash, a panic): a poison message fails instead of looping.
                _ if self.retry.abandons(email.attempts) => Outcome::Failed(format!(
                    "abandonné : {} tentatives interrompues sans résultat",
                    email.attempts - 1
                )),
                Err(e) => Outcome::Failed(format!("message invalide : {e:#}")),
                Ok(message) => match self.mailer.send(&message).await {
                    Ok(()) => Outcome::Sent,
                    Err(f) if f.permanent => Outcome::Failed(f.detail),
                    Err(f) => Outcome::Retry(f.detail),
                },
            };
            match &outcome {
                Outcome::Sent => {
                    tracing::info!(email_id = email.id, kind = %email.kind, "e-mail sent")
                }
                Outcome::Retry(_) => tracing::warn!(
                    email_id = email.id,
                    attempt = email.attempts,
                    "e-mail deferred, will retry"
                ),
                Outcome::Failed(_) => tracing::warn!(
                    email_id = email.id,
                    attempt = email.attempts,
                    "e-mail failed permanently"
                ),
            }
            outcomes.push((email.id, email.attempts, outcome));
        }
        if !outcomes.is_empty() || !unsent.is_empty() {
            if !unsent.is_empty() {
                tracing::info!(
                    released = unsent.len(),
                    "mail worker stopping: claims released"
                );
            }
            let pool = self.pool.clone();
            let retry = self.retry;
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut conn = pool.get()?;
                let now = Utc::now();
                conn.transaction(|conn| {
                    for (id, attempts, outcome) in &outcomes {
                        record(conn, *id, outcome, *attempts, &retry, now)?;
                    }
                    release(conn, &unsent)
                })?;
                Ok(())
            })
            .await??;
        }
        Ok(count)
    }

    /// Sends until nothing is due (tests call this instead of waiting for the worker).
    pub async fn dispatch_all(&self) -> anyhow::Result<usize> {
        self.dispatch_all_until(None).await
    }

    async fn dispatch_all_until(
        &self,
        stop: Option<&watch::Receiver<bool>>,
    ) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            if stop.is_some_and(|s| *s.borrow()) {
                return Ok(total);
            }
            let n = self.dispatch_batch_until(stop).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// The worker: wakes when told a message was queued, or every `poll` otherwise. When
    /// `stop` turns true it finishes the message it is sending, records it, releases the rest
    /// of its claim and returns.
    pub async fn run(self, wake: Arc<Notify>, poll: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            match self.dispatch_all_until(Some(&stop)).await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail worker could not reach the database"),
            }
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                // A dropped sender also means stop.
                _ = stop.changed() => {}
            }
            if *stop.borrow() || stop.has_changed().is_err() {
                break;
            }
        }
        tracing::info!("mail worker stopped");
    }
}
