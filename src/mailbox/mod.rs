//! Reading the mailbox: mail that comes back (bounces, complaints, unsubscribe requests) is read
//! over IMAP, each message claimed in PostgreSQL so that it is processed once whatever the
//! number of instances, acted on, then moved to « Traité » or « Non reconnu », never deleted.
//! One task per configured mailbox waits with IDLE where the server offers it and polls
//! otherwise, and reconnects with a growing pause when the server goes away.
//!
//! A message is claimed (by mailbox, UIDVALIDITY and UID) for a lease; its effects and the mark
//! « processed » are written in one transaction, which checks the claim is still unprocessed;
//! only then is it moved. A message processed but not yet moved (the server went away) is
//! moved at the next pass without being processed again. A message that cannot be read, or
//! whose claims keep failing, is recorded with its error and put in « Non reconnu ».

pub mod apply;
pub mod classify;
pub mod imap;
pub mod incoming;
pub mod unrecognised;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz};
use futures_util::TryStreamExt;
use secrecy::ExposeSecret;
use tokio::sync::watch;

use crate::config::{InboundSettings, MailboxSettings, Settings};
use crate::db::schema::inbound_messages;
use crate::db::PgPool;

/// Messages fetched (sizes) per round trip.
const CHUNK: usize = 100;

/// Starts one reader per configured mailbox; each stops when `stop` turns true.
pub fn start(
    settings: Arc<Settings>,
    pool: PgPool,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    settings
        .mailboxes
        .iter()
        .cloned()
        .map(|mailbox| {
            let reader = Arc::new(Reader {
                settings: settings.clone(),
                pool: pool.clone(),
                key: mailbox.key(),
                mailbox,
            });
            let stop_for_task = stop.clone();
            tokio::spawn(crate::supervise::supervised(
                "mailbox_reader",
                stop.clone(),
                move || reader.clone().run(stop_for_task.clone()),
            ))
        })
        .collect()
}

/// What reads one mailbox.
pub struct Reader {
    settings: Arc<Settings>,
    pool: PgPool,
    mailbox: MailboxSettings,
    /// The mailbox's name in the records.
    key: String,
}

/// How one message was dealt with in a pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassCounts {
    /// Processed by this reader.
    pub processed: usize,
    /// Processed earlier (by anyone) and only moved now.
    pub moved_only: usize,
    /// Claimed by another reader: left for it.
    pub left: usize,
}

impl Reader {
    pub fn new(settings: Arc<Settings>, pool: PgPool, mailbox: MailboxSettings) -> Reader {
        Reader {
            settings,
            pool,
            key: mailbox.key(),
            mailbox,
        }
    }

    fn inbound(&self) -> &InboundSettings {
        &self.settings.inbound
    }

    /// Reads until `stop`: connects, processes what waits, waits for more; after an error,
    /// reconnects after a pause doubled at each failure (capped).
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let max = Duration::from_secs(self.inbound().max_backoff_seconds.max(1));
        let mut pause = Duration::from_secs(1).min(max);
        loop {
            if *stop.borrow() {
                return;
            }
            let mut connected = false;
            match self.session(&mut stop, &mut connected).await {
                Ok(()) => return,
                Err(e) => {
                    if connected {
                        pause = Duration::from_secs(1).min(max);
                    }
                    // The server's words, never a message's content.
                    tracing::warn!(mailbox = %self.key, error = %format!("{e:#}"), "mailbox reader: connection lost, retrying");
                }
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(max);
        }
    }

    /// One connection: processes what waits, then waits (IDLE or polling) and again, until
    /// `stop` (Ok) or an error.
    async fn session(
        &self,
        stop: &mut watch::Receiver<bool>,
        connected: &mut bool,
    ) -> anyhow::Result<()> {
        let mut session = imap::connect(&self.mailbox).await?;
        *connected = true;
        let caps = session.capabilities().await?;
        let idle = caps.has_str("IDLE");
        let can_move = caps.has_str("MOVE");
        for folder in [
            &self.mailbox.processed_folder,
            &self.mailbox.unrecognised_folder,
        ] {
            imap::ensure_folder(&mut session, folder).await?;
        }
        let selected = session.select(imap::mutf7(&self.mailbox.folder)).await?;
        let uid_validity = i64::from(selected.uid_validity.unwrap_or(0));
        let poll = Duration::from_secs(self.inbound().poll_interval_seconds.max(1));
        loop {
            self.pass(&mut session, uid_validity, can_move).await?;
            while session.unsolicited_responses.try_recv().is_ok() {}
            if *stop.borrow() {
                let _ = session.logout().await;
                return Ok(());
            }
            if idle {
                let mut handle = session.idle();
                handle.init().await?;
                let stopped = {
                    let (wait, _interrupt) = handle.wait_with_timeout(poll);
                    tokio::select! {
                        r = wait => { r?; false }
                        _ = stop.wait_for(|s| *s) => true,
                    }
                };
                session = handle.done().await?;
                if stopped {
                    let _ = session.logout().await;
                    return Ok(());
                }
            } else {
                let stopped = tokio::select! {
                    _ = stop.wait_for(|s| *s) => true,
                    _ = tokio::time::sleep(poll) => false,
                };
                if stopped {
                    let _ = session.logout().await;
                    return Ok(());
                }
                session.noop().await?;
            }
        }
    }

    /// Goes once through the messages of the selected folder.
    pub async fn pass(
        &self,
        session: &mut imap::Session,
        uid_validity: i64,
        can_move: bool,
    ) -> anyhow::Result<PassCounts> {
        let mut uids: Vec<u32> = session.uid_search("UNDELETED").await?.into_iter().collect();
        uids.sort_unstable();
        let mut counts = PassCounts::default();
        for chunk in uids.chunks(CHUNK) {
            let set = chunk
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let sizes: Vec<(u32, u32)> = session
                .uid_fetch(&set, "(UID RFC822.SIZE)")
                .await?
                .try_filter_map(|f| async move { Ok(f.uid.map(|u| (u, f.size.unwrap_or(0)))) })
                .try_collect()
                .await?;
            // Each message is processed and committed on its own; the chunk's messages are
            // then moved with one command per folder (on a Maildir, each move makes the server
            // rescan the folder: one by one, a pass would grow with the square of its size).
            let mut to_move: Vec<(u32, i64, bool)> = Vec::new();
            let mut failure = None;
            for (uid, size) in sizes {
                match self
                    .one(session, uid_validity, uid, size, &mut counts)
                    .await
                {
                    Ok(Some(done)) => to_move.push(done),
                    Ok(None) => {}
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            // What was processed before a failure is moved now if the server still answers
            // (else at the next pass, without being processed again).
            let moved = self.move_all(session, &to_move, can_move).await;
            if let Some(e) = failure {
                return Err(e);
            }
            moved?;
        }
        Ok(counts)
    }

    /// Moves processed messages to their folders, one command per folder, then records them
    /// moved.
    async fn move_all(
        &self,
        session: &mut imap::Session,
        messages: &[(u32, i64, bool)],
        can_move: bool,
    ) -> anyhow::Result<()> {
        for (processed, folder) in [
            (true, &self.mailbox.processed_folder),
            (false, &self.mailbox.unrecognised_folder),
        ] {
            let (uids, ids): (Vec<u32>, Vec<i64>) = messages
                .iter()
                .filter(|m| m.2 == processed)
                .map(|m| (m.0, m.1))
                .unzip();
            if uids.is_empty() {
                continue;
            }
            imap::move_messages(session, &uids, folder, can_move).await?;
            self.moved(ids).await?;
        }
        Ok(())
    }

    /// Claims and processes one message; returns it when it is to be moved (processed now, or
    /// earlier by an instance that did not move it), with whether it goes to the processed
    /// folder.
    async fn one(
        &self,
        session: &mut imap::Session,
        uid_validity: i64,
        uid: u32,
        size: u32,
        counts: &mut PassCounts,
    ) -> anyhow::Result<Option<(u32, i64, bool)>> {
        let now = Utc::now();
        let claim = {
            let (pool, key, lease) = (
                self.pool.clone(),
                self.key.clone(),
                self.inbound().claim_lease_seconds,
            );
            tokio::task::spawn_blocking(move || -> anyhow::Result<Claim> {
                Ok(claim(
                    &mut *pool.get()?,
                    &key,
                    uid_validity,
                    uid,
                    size,
                    lease,
                    now,
                )?)
            })
            .await??
        };
        let (id, attempts) = match claim {
            Claim::Ours { id, attempts } => (id, attempts),
            Claim::Done { id, folder } => {
                // Processed earlier, its claim run out, never moved: only moved.
                counts.moved_only += 1;
                return Ok(Some((uid, id, folder == FOLDER_DONE)));
            }
            Claim::Taken => {
                counts.left += 1;
                return Ok(None);
            }
        };
        let inbound = self.inbound().clone();
        let raw = if attempts > inbound.max_attempts || size > inbound.max_message_bytes {
            None
        } else {
            match imap::fetch_body(session, uid).await {
                Ok(raw) => raw,
                Err(e) => {
                    self.release(id).await;
                    return Err(e);
                }
            }
        };
        let outcome = {
            let pool = self.pool.clone();
            let settings = self.settings.clone();
            let secret = self
                .settings
                .security
                .secret_key
                .expose_secret()
                .as_bytes()
                .to_vec();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Option<bool>> {
                let (verdict, error) = match raw {
                    _ if attempts > inbound.max_attempts => (
                        None,
                        Some(format!("abandonné après {} tentatives", attempts - 1)),
                    ),
                    _ if size > inbound.max_message_bytes => (None, None),
                    None => (None, Some("message disparu du serveur".to_owned())),
                    Some(raw) => {
                        let keys = classify::Keys {
                            secret: &secret,
                            bounce_local: inbound.bounce_local_part.trim(),
                            reply_local: if settings.conversations() {
                                inbound.reply_local_part.trim()
                            } else {
                                ""
                            },
                        };
                        let verdict = match crate::supervise::catch("mailbox_classify", || {
                            classify::classify(&raw, &keys)
                        }) {
                            Some(Ok(v)) => (Some(v), None),
                            Some(Err(e)) => (None, Some(e)),
                            None => (None, Some("erreur interne à la lecture".to_owned())),
                        };
                        return finish(
                            &mut *pool.get()?,
                            id,
                            verdict.0.as_ref(),
                            verdict.1,
                            false,
                            &settings,
                            &raw,
                            Utc::now(),
                        );
                    }
                };
                finish(
                    &mut *pool.get()?,
                    id,
                    verdict.as_ref(),
                    error,
                    size > inbound.max_message_bytes,
                    &settings,
                    &[],
                    Utc::now(),
                )
            })
            .await?
        };
        let folder_kind = match outcome {
            Ok(Some(processed)) => processed,
            Ok(None) => {
                // Processed meanwhile by another instance whose lease had not run out.
                counts.left += 1;
                return Ok(None);
            }
            Err(e) => {
                self.release(id).await;
                return Err(e);
            }
        };
        counts.processed += 1;
        Ok(Some((uid, id, folder_kind)))
    }

    async fn moved(&self, ids: Vec<i64>) -> anyhow::Result<()> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            diesel::update(inbound_messages::table.filter(inbound_messages::id.eq_any(ids)))
                .set(inbound_messages::moved_at.eq(Utc::now()))
                .execute(&mut *pool.get()?)?;
            Ok(())
        })
        .await?
    }

    /// Gives a claim back at once (the message could not be read this time).
    async fn release(&self, id: i64) {
        let pool = self.pool.clone();
        let _ = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            diesel::update(
                inbound_messages::table
                    .find(id)
                    .filter(inbound_messages::processed_at.is_null()),
            )
            .set(inbound_messages::claimed_until.eq(Utc::now()))
            .execute(&mut *pool.get()?)?;
            Ok(())
        })
        .await;
    }
}

/// The password of a mailbox, for the IMAP login.
pub(crate) fn password(m: &MailboxSettings) -> &str {
    m.password.expose_secret()
}

/// The outcome of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This reader has the message until the lease ends; `attempts` counts claims.
    Ours { id: i64, attempts: i32 },
    /// Processed, not moved, its claim run out: only to be moved to `folder`.
    Done { id: i64, folder: String },
    /// Another reader has it (or moved it already).
    Taken,
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Int4)]
    attempts: i32,
}

#[derive(QueryableByName)]
struct Existing {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    folder: Option<String>,
}

/// Claims a message for `lease_seconds`: a new message, or one whose earlier claim ran out
/// unprocessed. Otherwise says whether it is processed (to be moved) or taken.
pub fn claim(
    conn: &mut PgConnection,
    mailbox: &str,
    uid_validity: i64,
    uid: u32,
    size: u32,
    lease_seconds: i64,
    now: DateTime<Utc>,
) -> QueryResult<Claim> {
    let until = now + chrono::Duration::seconds(lease_seconds);
    let claimed: Option<Claimed> = diesel::sql_query(
        "INSERT INTO inbound_messages (mailbox, uid_validity, uid, size_bytes, claimed_until, \
                                       created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (mailbox, uid_validity, uid) DO UPDATE \
           SET claimed_until = EXCLUDED.claimed_until, \
               attempts = inbound_messages.attempts + 1 \
           WHERE inbound_messages.processed_at IS NULL \
             AND inbound_messages.claimed_until <= $6 \
         RETURNING id, attempts",
    )
    .bind::<Text, _>(mailbox)
    .bind::<BigInt, _>(uid_validity)
    .bind::<BigInt, _>(i64::from(uid))
    .bind::<BigInt, _>(i64::from(size))
    .bind::<Timestamptz, _>(until)
    .bind::<Timestamptz, _>(now)
    .get_result(conn)
    .optional()?;
    if let Some(c) = claimed {
        return Ok(Claim::Ours {
            id: c.id,
            attempts: c.attempts,
        });
    }
    // Processed but not moved: moved by whoever sees it once the claim has run out (the
    // instance that processed it moves it within its claim). Already moved (this view of the
    // folder is older than another instance's move): left alone, or it would be copied twice.
    let existing: Option<Existing> = diesel::sql_query(
        "SELECT id, folder FROM inbound_messages \
         WHERE mailbox = $1 AND uid_validity = $2 AND uid = $3 AND processed_at IS NOT NULL \
           AND moved_at IS NULL AND claimed_until <= $4",
    )
    .bind::<Text, _>(mailbox)
    .bind::<BigInt, _>(uid_validity)
    .bind::<BigInt, _>(i64::from(uid))
    .bind::<Timestamptz, _>(now)
    .get_result(conn)
    .optional()?;
    Ok(match existing {
        Some(Existing {
            id,
            folder: Some(folder),
        }) => Claim::Done { id, folder },
        _ => Claim::Taken,
    })
}

/// Records what a claimed message was and applies it, in one transaction, unless it was
/// processed meanwhile (None). Some(true): to the processed folder; Some(false): to
/// « Non reconnu ». The folder recorded is the kind of folder (`traite` / `non_reconnu`).
/// Attachments written to the document store for a transaction that fails are removed.
#[allow(clippy::too_many_arguments)]
pub fn finish(
    conn: &mut PgConnection,
    id: i64,
    verdict: Option<&classify::Verdict>,
    error: Option<String>,
    too_big: bool,
    settings: &Settings,
    raw: &[u8],
    now: DateTime<Utc>,
) -> anyhow::Result<Option<bool>> {
    let mut written = Vec::new();
    let result = conn.transaction(|conn| -> anyhow::Result<Option<bool>> {
        let open: Option<i64> = inbound_messages::table
            .find(id)
            .filter(inbound_messages::processed_at.is_null())
            .select(inbound_messages::id)
            .for_update()
            .first(conn)
            .optional()?;
        if open.is_none() {
            return Ok(None);
        }
        let (kind, processed, delivery, candidate, detail) = match verdict {
            Some(v) => {
                let a = apply::apply(
                    conn,
                    v,
                    apply::Context {
                        settings,
                        inbound_id: id,
                        raw,
                        now,
                        written: &mut written,
                    },
                )?;
                (a.kind, a.processed, a.delivery, a.candidate, a.detail)
            }
            None if too_big => (
                "trop_grand",
                false,
                None,
                None,
                "trop grand pour être lu".into(),
            ),
            None => ("illisible", false, None, None, String::new()),
        };
        diesel::update(inbound_messages::table.find(id))
            .set((
                inbound_messages::kind.eq(kind),
                inbound_messages::folder.eq(if processed {
                    FOLDER_DONE
                } else {
                    FOLDER_UNKNOWN
                }),
                inbound_messages::delivery_id.eq(delivery),
                inbound_messages::candidate_id.eq(candidate),
                inbound_messages::detail.eq(detail),
                inbound_messages::error.eq(error),
                inbound_messages::processed_at.eq(now),
            ))
            .execute(conn)?;
        Ok(Some(processed))
    });
    if result.is_err() || matches!(result, Ok(None)) {
        for file in &written {
            crate::documents::discard(&settings.storage.documents_dir, file);
        }
    }
    result
}

/// The folder kinds recorded (the folder names are the mailbox's configuration).
pub const FOLDER_DONE: &str = "traite";
pub const FOLDER_UNKNOWN: &str = "non_reconnu";
