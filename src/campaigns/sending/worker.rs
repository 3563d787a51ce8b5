//! The campaign senders' tasks. Each instance runs `campaigns.connections` connection tasks,
//! one recorder and one coordinator.
//!
//! A connection task claims a batch (see [`super::ledger`]), renders and sends it over its own
//! SMTP connection ([`super::smtp`]) and hands each outcome to the recorder (a thread of its
//! own), which writes every outcome that arrived meanwhile in one UPDATE and acknowledges
//! them. While an outcome is being committed, the connection renders the next message and
//! opens its transaction (MAIL, RCPT, DATA); over a relay that pipelines, that envelope goes
//! in the same write as the content before it. A content goes only once the previous outcome
//! is committed, so a crash can repeat at most the message each connection had in flight. A
//! connection starts no message of its batch after half the lease: past the lease, another
//! connection may claim and send it too, so the rest goes back to the queue at once. No
//! database connection is held while talking SMTP.
//!
//! The coordinator starts due runs and closes finished ones (see `runs::lifecycle`).
//!
//! [`SenderHandle::shutdown`] stops the tasks cleanly: messages being transmitted finish and
//! are recorded, claimed but unsent deliveries go back to the queue (lease cleared, the claim's
//! attempt taken back).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use lettre::{AsyncFileTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;

use super::ledger::{
    abandoned_outcome, claim, record, recorder_connection, release, Claim, ClaimedDelivery,
    Outcome, OutcomeKind, RelayCap, RunContext,
};
use super::message::{public_host, Composer};
use super::smtp::{
    begin, connected, envelope_replies, finish, refused, refused_before_content, Ready, Refusal,
    Relay, Session, Transport,
};
use crate::campaigns::runs::lifecycle;
use crate::campaigns::template::{Compiled, TemplateSource};
use crate::config::{MailTransportKind, Settings};
use crate::db::PgPool;
use crate::mail::retry::RetryPolicy;

/// Compiled templates by id, with the version (updated_at) they were compiled from.
type TemplateCache = HashMap<i64, (DateTime<Utc>, Arc<Compiled>)>;

struct Inner {
    pool: PgPool,
    settings: Arc<Settings>,
    transport: Transport,
    relay_cap: Option<RelayCap>,
    composer: Composer,
    templates: Mutex<TemplateCache>,
    /// Notified when a run starts or resumes (by a page of this instance).
    wake: Arc<Notify>,
}

/// The campaign sender of one instance.
#[derive(Clone)]
pub struct CampaignSender {
    inner: Arc<Inner>,
}

struct Record {
    outcome: Outcome,
    ack: oneshot::Sender<bool>,
}

/// The running tasks of a [`CampaignSender`]. Dropping it aborts them (their leased
/// deliveries then wait for the lease); [`SenderHandle::shutdown`] stops them cleanly.
pub struct SenderHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    grace: StdDuration,
}

impl SenderHandle {
    /// Stops claiming, lets each message being transmitted finish and records its outcome,
    /// gives the claimed but unsent deliveries back to the queue, and waits for the tasks.
    /// Tasks still running after the relay's timeout (plus a margin) are aborted.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut self.tasks);
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let joined = tokio::time::timeout(self.grace, futures_util::future::join_all(tasks)).await;
        if joined.is_err() {
            tracing::warn!("campaign sender: tasks still running at shutdown were aborted");
            for a in aborts {
                a.abort();
            }
        }
    }
}

impl Drop for SenderHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl CampaignSender {
    pub fn new(
        settings: Arc<Settings>,
        pool: PgPool,
        wake: Arc<Notify>,
    ) -> anyhow::Result<CampaignSender> {
        let smtp = &settings.mail.smtp;
        let domain = public_host(&settings.http.public_url);
        let transport = match settings.mail.transport {
            MailTransportKind::File => {
                std::fs::create_dir_all(&settings.mail.outbox_dir)?;
                Transport::File(AsyncFileTransport::<Tokio1Executor>::new(
                    &settings.mail.outbox_dir,
                ))
            }
            MailTransportKind::Smtp => {
                Transport::Smtp(Arc::new(Relay::new(smtp, &settings.hello_name())))
            }
        };
        let relay_cap = (settings.campaigns.relay_max_per_minute > 0).then(|| RelayCap {
            key: format!("{}:{}", smtp.host, smtp.port),
            per_minute: settings.campaigns.relay_max_per_minute,
        });
        Ok(CampaignSender {
            inner: Arc::new(Inner {
                pool,
                composer: Composer::new(settings.clone(), domain)?,
                settings,
                transport,
                relay_cap,
                templates: Mutex::new(HashMap::new()),
                wake,
            }),
        })
    }

    /// Tells idle connections that work may be waiting (a campaign was started or resumed).
    pub fn wake(&self) {
        self.inner.wake.notify_waiters();
    }

    /// Starts the coordinator, the recorder and the connection tasks.
    pub fn start(&self) -> SenderHandle {
        let c = &self.inner.settings.campaigns;
        let (tx, rx) = mpsc::channel::<Record>(c.connections * 2);
        let (stop, stopped) = watch::channel(false);
        // A panic ends neither the process nor the sending: the task is started again (see
        // crate::supervise); the recorder catches it around each batch instead.
        let mut tasks = vec![
            tokio::spawn(crate::supervise::supervised(
                "campaign_coordinator",
                stopped.clone(),
                {
                    let (this, stopped) = (self.clone(), stopped.clone());
                    move || this.clone().coordinate(stopped.clone())
                },
            )),
            tokio::task::spawn_blocking({
                let this = self.clone();
                move || this.record_loop(rx)
            }),
        ];
        for _ in 0..c.connections {
            let (this, tx, stopped) = (self.clone(), tx.clone(), stopped.clone());
            tasks.push(tokio::spawn(crate::supervise::supervised(
                "campaign_connection",
                stopped.clone(),
                move || this.clone().connection_loop(tx.clone(), stopped.clone()),
            )));
        }
        // A message in flight ends within the relay's timeout; its outcome is then recorded.
        let grace = StdDuration::from_secs(self.inner.settings.mail.smtp.timeout_seconds.max(1))
            + StdDuration::from_secs(5);
        SenderHandle { stop, tasks, grace }
    }

    fn poll(&self) -> StdDuration {
        StdDuration::from_millis(self.inner.settings.campaigns.poll_interval_ms)
    }

    /// Starts due runs and closes finished ones, every poll interval.
    async fn coordinate(self, mut stopped: watch::Receiver<bool>) {
        let late = Duration::minutes(self.inner.settings.campaigns.late_after_minutes);
        while !*stopped.borrow() {
            let pool = self.inner.pool.clone();
            let result = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
                let mut conn = pool.get()?;
                let now = Utc::now();
                let started = lifecycle::activate_due_runs(&mut conn, now, late)?;
                lifecycle::finish_completed_runs(&mut conn, now)?;
                Ok(started)
            })
            .await;
            match result {
                Ok(Ok(0)) => {}
                Ok(Ok(started)) => {
                    tracing::info!(started, "campaign runs started");
                    self.wake();
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "campaign coordinator: database error"),
                Err(e) => tracing::warn!(error = %e, "campaign coordinator task failed"),
            }
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => {}
                _ = tokio::time::sleep(self.poll()) => {}
            }
        }
    }

    /// Writes outcomes as they come, everything that arrived meanwhile in one statement. It
    /// runs on a thread of its own (a blocking task), since every connection waits for its
    /// commits: as an async task handing each batch to the blocking pool, it spent as long
    /// between batches as in PostgreSQL (mailing benchmark: 6.6 s busy of 7.4, 3.8 in
    /// PostgreSQL). It ends when every connection task has dropped its sender.
    fn record_loop(self, mut rx: mpsc::Receiver<Record>) {
        let retry = RetryPolicy::campaigns(&self.inner.settings.campaigns);
        let url = self.inner.settings.database_url().to_owned();
        // The recorder's own connection: outcomes come in many small batches, and this saves
        // a pool checkout and a `SET LOCAL` transaction for each.
        let mut own: Option<PgConnection> = None;
        let mut outcomes: Vec<Outcome> = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < 1024 {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            outcomes.clear();
            outcomes.extend(batch.iter().map(|r| r.outcome.clone()));
            let written = match own.take() {
                Some(conn) => Ok(conn),
                None => recorder_connection(&url),
            }
            .and_then(|mut conn| {
                let recorded = crate::supervise::catch("campaign_recorder", || {
                    record(&mut conn, &outcomes, Utc::now(), &retry)
                });
                match recorded {
                    Some(r) => r?,
                    None => anyhow::bail!("campaign recorder: panic while recording"),
                }
                Ok(conn)
            });
            // After an error the connection is dropped and the next batch opens a new one.
            let ok = written.map(|conn| own = Some(conn));
            if let Err(e) = &ok {
                tracing::warn!(error = %e, "campaign outcomes not recorded; leases will expire");
            }
            for r in batch {
                let _ = r.ack.send(ok.is_ok());
            }
        }
    }

    async fn connection_loop(
        self,
        recorder: mpsc::Sender<Record>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let c = &self.inner.settings.campaigns;
        let (batch, lease) = (c.batch_size, c.lease_seconds);
        let mut smtp: Option<Session> = None;
        // The receipt of the last outcome handed to the recorder, until it is committed.
        let mut unacked: Option<oneshot::Receiver<bool>> = None;
        while !*stopped.borrow() {
            let pool = self.inner.pool.clone();
            let relay = self.inner.relay_cap.clone();
            // No later than the lease's start in the database.
            let claimed_at = Instant::now();
            let now = Utc::now();
            let lease_until = now + Duration::seconds(lease);
            let claimed = tokio::task::spawn_blocking(move || -> anyhow::Result<Claim> {
                let mut conn = pool.get()?;
                Ok(claim(&mut conn, now, batch, lease, relay.as_ref())?)
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
            match claimed {
                Err(e) => {
                    tracing::warn!(error = %e, "campaign sender: cannot claim");
                    self.pause(&mut stopped, self.poll()).await;
                }
                Ok(Claim::Idle) => {
                    if let Some(mut session) = smtp.take() {
                        let _ = session.conn.quit().await;
                    }
                    tokio::select! {
                        _ = self.inner.wake.notified() => {}
                        _ = stopped.wait_for(|s| *s) => {}
                        _ = tokio::time::sleep(self.poll()) => {}
                    }
                }
                Ok(Claim::Wait(d)) => self.pause(&mut stopped, d.min(self.poll())).await,
                Ok(Claim::Work(run, items)) => {
                    // Claimed more times than it may be tried without any outcome recorded:
                    // each claim ended with the sender (a crash, a panic). A poison delivery
                    // fails here, with the reason, instead of being claimed again forever.
                    let retry = RetryPolicy::campaigns(&self.inner.settings.campaigns);
                    let (abandoned, items): (Vec<_>, Vec<_>) =
                        items.into_iter().partition(|i| retry.abandons(i.attempts));
                    for item in abandoned {
                        let (ack, _) = oneshot::channel();
                        let outcome = abandoned_outcome(item.id, item.attempts);
                        if recorder.send(Record { outcome, ack }).await.is_err() {
                            return;
                        }
                    }
                    let compiled = self.compiled(&run);
                    // The batch is ours only until its lease ends: then any connection may
                    // claim what is left of it and send it too. So no message is started after
                    // half the lease, which leaves the other half for the one in flight; the
                    // rest goes back to the queue, as it does when the sender stops.
                    let stop_at =
                        claimed_at + StdDuration::from_secs(u64::try_from(lease).unwrap_or(0)) / 2;
                    let out_of_time = |stopped: &watch::Receiver<bool>| {
                        *stopped.borrow() || Instant::now() >= stop_at
                    };
                    let mut items = items.into_iter();
                    // The next message, built (and its transaction opened) while the one
                    // before it was on its way.
                    let mut next: Option<(ClaimedDelivery, Attempt)> = None;
                    let mut first = true;
                    loop {
                        let (item, attempt) = match next.take() {
                            Some(next) => next,
                            None => {
                                let Some(item) = items.next() else { break };
                                if *stopped.borrow() || (!first && out_of_time(&stopped)) {
                                    let mut unsent = vec![item.id];
                                    unsent.extend(items.map(|i| i.id));
                                    self.give_back(unsent, lease_until).await;
                                    break;
                                }
                                let attempt = self.prepare(&mut smtp, &run, &compiled, &item).await;
                                (item, attempt)
                            }
                        };
                        first = false;
                        // Over a pipelining relay the next message is built now: its envelope
                        // goes with this content.
                        let eight_bit = smtp
                            .as_ref()
                            .filter(|s| s.pipelining && matches!(attempt, Attempt::Open(..)))
                            .map(|s| self.eight_bit(s));
                        let ahead = match eight_bit {
                            Some(eight_bit) if !out_of_time(&stopped) => items.next().map(|n| {
                                let built = self.ready(&run, &compiled, &n, eight_bit);
                                (n, built)
                            }),
                            _ => None,
                        };
                        // The content goes only once the previous outcome is committed: a
                        // crash then repeats at most one message per connection.
                        if let Some(acked) = unacked.take() {
                            if acked.await != Ok(true) {
                                // The database is unreachable: drop the open transaction
                                // (nothing of it is delivered) and stop; the rest of the batch
                                // is sent by whoever claims it when its lease ends.
                                smtp = None;
                                self.pause(&mut stopped, self.poll()).await;
                                break;
                            }
                        }
                        let ahead_ready = match &ahead {
                            Some((_, Ok((_, ready)))) => Some(ready),
                            _ => None,
                        };
                        let (outcome, chained) = self
                            .complete(&mut smtp, attempt, &item.email, ahead_ready)
                            .await;
                        let (ack, acked) = oneshot::channel();
                        if recorder.send(Record { outcome, ack }).await.is_err() {
                            return;
                        }
                        unacked = Some(acked);
                        next = match ahead {
                            None => None,
                            Some((n, Err(outcome))) => Some((n, Attempt::Done(outcome))),
                            Some((n, Ok((outcome, ready)))) => {
                                let attempt = self
                                    .open(&mut smtp, outcome, ready, &n.email, chained)
                                    .await;
                                Some((n, attempt))
                            }
                        };
                    }
                }
            }
        }
        if let Some(acked) = unacked.take() {
            let _ = acked.await;
        }
        if let Some(mut session) = smtp.take() {
            let _ = session.conn.quit().await;
        }
    }

    /// Sleeps for `d`, or less if the sender is stopped meanwhile.
    async fn pause(&self, stopped: &mut watch::Receiver<bool>, d: StdDuration) {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => {}
            _ = tokio::time::sleep(d) => {}
        }
    }

    /// Puts claimed deliveries that were not sent back in the queue (see [`release`]).
    async fn give_back(&self, ids: Vec<i64>, lease_until: DateTime<Utc>) {
        let pool = self.inner.pool.clone();
        let released = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
            let mut conn = pool.get()?;
            Ok(release(&mut conn, &ids, lease_until)?)
        })
        .await
        .map_err(anyhow::Error::from)
        .and_then(|r| r);
        if let Err(e) = released {
            tracing::warn!(error = %e, "campaign sender: unsent deliveries wait for their lease");
        }
    }

    /// The run's template, compiled once per version.
    fn compiled(&self, run: &RunContext) -> Result<Arc<Compiled>, String> {
        // A cache poisoned by a panic elsewhere is still a valid cache.
        let mut cache = self
            .inner
            .templates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((version, compiled)) = cache.get(&run.template_id) {
            if *version == run.template_updated_at {
                return Ok(compiled.clone());
            }
        }
        let source = TemplateSource {
            subject: run.subject.clone(),
            body_text: run.body_text.clone(),
            body_html: run.body_html.clone(),
            preheader: run.preheader.clone(),
        };
        let compiled = crate::supervise::catch("campaign_template", || Compiled::compile(&source))
            .ok_or_else(|| "erreur interne pendant la lecture du modèle".to_owned())?
            .map_err(|e| {
                e.0.iter()
                    .map(|(f, m)| format!("{f} : {m}"))
                    .collect::<Vec<_>>()
                    .join(" ; ")
            })?;
        let compiled = Arc::new(compiled);
        cache.insert(run.template_id, (run.template_updated_at, compiled.clone()));
        Ok(compiled)
    }

    /// Whether this connection's messages may go as 8bit (see [`Composer::build`]).
    fn eight_bit(&self, session: &Session) -> bool {
        session.eight_bit && !self.inner.composer.signs()
    }

    /// Builds a delivery's message: its outcome so far (with its Message-ID) and the message
    /// ready to go, or the outcome that ends it (the template or an address is refused).
    fn ready(
        &self,
        run: &RunContext,
        compiled: &Result<Arc<Compiled>, String>,
        item: &ClaimedDelivery,
        eight_bit: bool,
    ) -> Result<(Outcome, Ready), Outcome> {
        let mut outcome = Outcome {
            delivery_id: item.id,
            attempts: item.attempts,
            kind: OutcomeKind::Failed,
            smtp_code: None,
            message_id: None,
            detail: None,
            suppress: None,
        };
        // A message that cannot be built fails with its reason, and so does one whose building
        // panics: a poison delivery ends, it is not claimed again and again.
        let built = compiled
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|compiled| {
                crate::supervise::catch("campaign_message", || {
                    self.inner.composer.build(run, compiled, item, eight_bit)
                })
                .unwrap_or_else(|| {
                    Err("erreur interne pendant la préparation du message".to_owned())
                })
            });
        match built {
            Ok((envelope, bytes)) => {
                outcome.message_id = Some(self.inner.composer.message_id(run, item.id));
                Ok((outcome, Ready { envelope, bytes }))
            }
            Err(e) => {
                outcome.detail = Some(e);
                Err(outcome)
            }
        }
    }

    /// Builds the message and, over SMTP, opens its mail transaction (MAIL, RCPT, DATA):
    /// everything short of sending the content, which [`CampaignSender::complete`] does once
    /// the previous outcome is committed. This overlaps the commit's wait with the rendering
    /// and the relay's round trips, while at most one accepted message per connection is ever
    /// unrecorded.
    async fn prepare(
        &self,
        smtp: &mut Option<Session>,
        run: &RunContext,
        compiled: &Result<Arc<Compiled>, String>,
        item: &ClaimedDelivery,
    ) -> Attempt {
        // Over SMTP, the connection comes first: what it announced decides the encoding.
        let eight_bit = match &self.inner.transport {
            Transport::Smtp(relay) => match connected(relay, smtp).await {
                Ok(session) => self.eight_bit(session),
                Err(r) => {
                    let mut outcome = match self.ready(run, compiled, item, false) {
                        Ok((outcome, _)) | Err(outcome) => outcome,
                    };
                    outcome.message_id = None;
                    refused(&mut outcome, r, &item.email);
                    return Attempt::Done(outcome);
                }
            },
            Transport::File(_) => false,
        };
        match self.ready(run, compiled, item, eight_bit) {
            Ok((outcome, ready)) => self.open(smtp, outcome, ready, &item.email, false).await,
            Err(outcome) => Attempt::Done(outcome),
        }
    }

    /// Opens the mail transaction of a built message (over SMTP; a file needs none). When its
    /// envelope already went with the previous message's content (`sent_ahead`, see
    /// [`finish`]), only the replies to MAIL, each RCPT and DATA remain to be read.
    async fn open(
        &self,
        smtp: &mut Option<Session>,
        outcome: Outcome,
        ready: Ready,
        email: &str,
        sent_ahead: bool,
    ) -> Attempt {
        if let Transport::Smtp(relay) = &self.inner.transport {
            let opened = if sent_ahead {
                envelope_replies(relay, smtp, ready.envelope.to().len() + 2).await
            } else {
                begin(relay, smtp, &ready).await
            };
            if let Err(r) = opened {
                return Attempt::Done(refused_before_content(outcome, r, email));
            }
        }
        Attempt::Open(outcome, ready)
    }

    /// Sends the content of a prepared message and returns its outcome. Over a pipelining
    /// relay, the envelope of the next message (`ahead`) goes in the same write; the flag
    /// says whether it went (its replies are then read by [`CampaignSender::open`]).
    async fn complete(
        &self,
        smtp: &mut Option<Session>,
        attempt: Attempt,
        email: &str,
        ahead: Option<&Ready>,
    ) -> (Outcome, bool) {
        let (mut outcome, ready) = match attempt {
            Attempt::Done(outcome) => return (outcome, false),
            Attempt::Open(outcome, ready) => (outcome, ready),
        };
        let (result, chained) = match &self.inner.transport {
            Transport::File(t) => {
                let written = t.send_raw(&ready.envelope, &ready.bytes).await;
                let result = written
                    .map(|_| 250)
                    .map_err(|e| Refusal::retry(e.to_string()));
                (result, false)
            }
            Transport::Smtp(relay) => finish(relay, smtp, &ready.bytes, ahead).await,
        };
        match result {
            Ok(code) => {
                outcome.kind = OutcomeKind::Sent;
                outcome.smtp_code = Some(code);
                (outcome, chained)
            }
            Err(r) => (refused_before_content(outcome, r, email), chained),
        }
    }
}

/// A message on its way: its transaction is open (or, for files, it is built), or it already
/// ended without being sent.
enum Attempt {
    Open(Outcome, Ready),
    Done(Outcome),
}
