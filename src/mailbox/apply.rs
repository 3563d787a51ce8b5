//! What a classified message does to the records: a permanent bounce suppresses the address
//! and marks the delivery; temporary ones are counted per address and suppress it past the
//! configured number within the window; a complaint suppresses the address; an unsubscribe
//! request unsubscribes as the one-click link does, and is written in the journal. Runs in the
//! transaction that marks the message processed, so it happens once.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::classify::{Reference, Verdict};
use crate::campaigns::suppression;
use crate::config::{InboundSettings, Settings};
use crate::conversations::{self, Incoming};
use crate::db::enums::SuppressionReason;
use crate::db::schema::{campaign_runs, deliveries, soft_bounces};
use crate::documents::StoredFile;

/// What was done with a message, as recorded in `inbound_messages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// rebond, rebond_temporaire, plainte, desinscription, non_reconnu.
    pub kind: &'static str,
    /// Whether it goes to the processed folder (else to « Non reconnu »).
    pub processed: bool,
    pub delivery: Option<i64>,
    /// The candidate a message was written by.
    pub candidate: Option<i64>,
    /// What happened, without personal data (status codes, numbers).
    pub detail: String,
}

fn unrecognised(detail: impl Into<String>) -> Applied {
    Applied {
        kind: "non_reconnu",
        processed: false,
        delivery: None,
        candidate: None,
        detail: detail.into(),
    }
}

fn done(kind: &'static str, delivery: Option<i64>, detail: String) -> Applied {
    Applied {
        kind,
        processed: true,
        delivery,
        candidate: None,
        detail,
    }
}

/// A delivery a message is about: id, address, campaign.
struct Target {
    id: i64,
    email: String,
    campaign: i64,
}

fn delivery(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Target>> {
    deliveries::table
        .inner_join(campaign_runs::table)
        .filter(deliveries::id.eq(id))
        .select((
            deliveries::id,
            deliveries::email,
            campaign_runs::campaign_id,
        ))
        .first::<(i64, Option<String>, i64)>(conn)
        .optional()
        .map(|found| {
            // A letter's delivery has no address: no report is about it.
            found
                .and_then(|(id, email, campaign)| email.map(|email| (id, email, campaign)))
                .map(|(id, email, campaign)| Target {
                    id,
                    email,
                    campaign,
                })
        })
}

/// The delivery a report is about: by its signed token, or by the Message-ID it quotes when
/// the address it names is the delivery's own (a Message-ID is not a secret).
fn resolve(conn: &mut PgConnection, reference: &Reference) -> QueryResult<Option<Target>> {
    if let Some(id) = reference.delivery {
        return delivery(conn, id);
    }
    let (Some(message_id), Some(recipient)) = (&reference.message_id, &reference.recipient) else {
        return Ok(None);
    };
    let found: Option<i64> = deliveries::table
        .filter(deliveries::message_id.eq(message_id))
        .select(deliveries::id)
        .first(conn)
        .optional()?;
    match found {
        Some(id) => Ok(delivery(conn, id)?.filter(|t| suppression::key(&t.email) == *recipient)),
        None => Ok(None),
    }
}

/// The message being applied: its record, its bytes (kept for « Non reconnu » when a person
/// wrote it and it matched nobody), and the files its attachments were written to (for the
/// caller to remove if the transaction fails).
pub struct Context<'a> {
    pub settings: &'a Settings,
    pub inbound_id: i64,
    pub raw: &'a [u8],
    pub now: DateTime<Utc>,
    pub written: &'a mut Vec<StoredFile>,
}

/// Applies a verdict. Temporary failures are counted once per message (its record).
pub fn apply(
    conn: &mut PgConnection,
    verdict: &Verdict,
    ctx: Context<'_>,
) -> anyhow::Result<Applied> {
    let (settings, inbound_id, now) = (&ctx.settings.inbound, ctx.inbound_id, ctx.now);
    Ok(match verdict {
        Verdict::Message(m) => return message(conn, m, ctx),
        Verdict::Unrecognised(why) => unrecognised(*why),
        Verdict::Bounce {
            reference,
            status,
            permanent,
        } => {
            let Some(target) = resolve(conn, reference)? else {
                return Ok(unrecognised(format!("rebond {status} sans envoi reconnu")));
            };
            if *permanent {
                suppression::suppress(
                    conn,
                    &target.email,
                    SuppressionReason::Bounce,
                    &format!("échec définitif {status}, campagne n° {}", target.campaign),
                )?;
                mark_bounced(conn, target.id, status, now)?;
                done(
                    "rebond",
                    Some(target.id),
                    format!("échec définitif {status}"),
                )
            } else {
                soft_bounce(conn, &target, status, settings, inbound_id, now)?
            }
        }
        Verdict::Complaint { reference } => {
            let Some(target) = resolve(conn, reference)? else {
                return Ok(unrecognised("plainte sans envoi reconnu"));
            };
            suppression::suppress(
                conn,
                &target.email,
                SuppressionReason::Complaint,
                &format!(
                    "plainte (courrier indésirable), campagne n° {}",
                    target.campaign
                ),
            )?;
            done(
                "plainte",
                Some(target.id),
                "plainte pour courrier indésirable".into(),
            )
        }
        Verdict::Unsubscribe { delivery: id } => {
            let Some(target) = delivery(conn, *id)? else {
                return Ok(unrecognised(
                    "demande de désinscription pour un envoi inconnu",
                ));
            };
            suppression::suppress(
                conn,
                &target.email,
                SuppressionReason::Unsubscribed,
                &format!(
                    "courriel de désinscription, campagne n° {}",
                    target.campaign
                ),
            )?;
            diesel::update(
                deliveries::table
                    .find(target.id)
                    .filter(deliveries::unsubscribed_at.is_null()),
            )
            .set(deliveries::unsubscribed_at.eq(now))
            .execute(conn)?;
            crate::staff::audit::audit(
                conn,
                None,
                "desinscription_courriel",
                "delivery",
                Some(target.id),
                &format!("campagne n° {}", target.campaign),
            )?;
            done(
                "desinscription",
                Some(target.id),
                format!("désinscription, campagne n° {}", target.campaign),
            )
        }
    })
}

/// A message written to us: a calendar answer moves its meeting; a candidate's answer goes on
/// their conversation (an automatic one quietly, a person's with a word to the recruiter in
/// charge); an automatic answer from anyone else is only counted; a person's mail that
/// matches no candidate waits on the « Non reconnu » page.
fn message(conn: &mut PgConnection, m: &Incoming, ctx: Context<'_>) -> anyhow::Result<Applied> {
    let Some(candidate) = conversations::resolve(conn, m)? else {
        if m.automatic {
            return Ok(done(
                "reponse_auto",
                None,
                "réponse automatique, sans candidat".into(),
            ));
        }
        // Kept for a person to attach only when it says who wrote it (junk without a sender
        // stays in the mailbox's folder, nothing of it in the base).
        if m.from.is_empty() {
            return Ok(unrecognised("courriel sans expéditeur lisible"));
        }
        super::unrecognised::keep(conn, ctx.inbound_id, m, ctx.raw)?;
        return Ok(unrecognised("courriel sans candidat reconnu"));
    };
    let found = |kind, detail| Applied {
        kind,
        processed: true,
        delivery: None,
        candidate: Some(candidate),
        detail,
    };
    if let Some(answer) = &m.calendar {
        let installation = crate::mail::installation_id(conn)?;
        let domain = ctx.settings.mail_domain();
        if let Some(meeting) =
            conversations::answered_meeting(conn, candidate, m, &installation, &domain)?
        {
            crate::pipeline::meetings::record_answer(conn, meeting, answer.answer, ctx.now)?;
            return Ok(found(
                "agenda",
                format!("rendez-vous n° {meeting} : {}", answer.answer),
            ));
        }
    }
    conversations::receive(
        conn,
        ctx.settings,
        candidate,
        m,
        Some(ctx.inbound_id),
        None,
        ctx.now,
        ctx.written,
    )?;
    if m.automatic {
        return Ok(found(
            "reponse_auto",
            format!("réponse automatique du candidat n° {candidate}"),
        ));
    }
    conversations::notify(
        conn,
        ctx.settings,
        candidate,
        &m.subject,
        m.attachments.len(),
    )?;
    Ok(found(
        "reponse",
        format!(
            "réponse du candidat n° {candidate}, {} pièce(s) jointe(s)",
            m.attachments.len()
        ),
    ))
}

fn mark_bounced(
    conn: &mut PgConnection,
    id: i64,
    status: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        deliveries::table
            .find(id)
            .filter(deliveries::bounced_at.is_null()),
    )
    .set((
        deliveries::bounced_at.eq(now),
        deliveries::bounce_status.eq(status),
    ))
    .execute(conn)
}

/// The first key of the advisory lock taken while counting an address's temporary failures.
const SOFT_BOUNCE_LOCK: i32 = 861_370_201;

/// A temporary failure: counted; the address is suppressed when it has failed so often within
/// the window. Counts older than the window are forgotten (they hold an address).
fn soft_bounce(
    conn: &mut PgConnection,
    target: &Target,
    status: &str,
    settings: &InboundSettings,
    inbound_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Applied> {
    let email = suppression::key(&target.email);
    // One count per address at a time: two instances reading two failures of the same address
    // at once would each count without the other's row (read committed) and neither reach the
    // limit. The lock lasts until the transaction that marks the message processed ends.
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind::<diesel::sql_types::Integer, _>(SOFT_BOUNCE_LOCK)
        .bind::<diesel::sql_types::Text, _>(&email)
        .execute(conn)?;
    let since = now - Duration::days(i64::from(settings.soft_bounce_window_days));
    // Counts older than the window are of no use and hold addresses: forgotten, for everyone.
    diesel::delete(soft_bounces::table.filter(soft_bounces::occurred_at.lt(since)))
        .execute(conn)?;
    diesel::insert_into(soft_bounces::table)
        .values((
            soft_bounces::inbound_id.eq(inbound_id),
            soft_bounces::email.eq(&email),
            soft_bounces::delivery_id.eq(target.id),
            soft_bounces::status.eq(status),
            soft_bounces::occurred_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    let count: i64 = soft_bounces::table
        .filter(soft_bounces::email.eq(&email))
        .filter(soft_bounces::occurred_at.ge(since))
        .count()
        .get_result(conn)?;
    let limit = i64::from(settings.soft_bounce_limit);
    let mut detail = format!("échec temporaire {status} ({count} sur {limit})");
    if count >= limit {
        suppression::suppress(
            conn,
            &email,
            SuppressionReason::Bounce,
            &format!(
                "{count} échecs temporaires en {} jours (dernier {status}), campagne n° {}",
                settings.soft_bounce_window_days, target.campaign
            ),
        )?;
        mark_bounced(conn, target.id, status, now)?;
        detail.push_str(" : adresse écartée");
    }
    Ok(done("rebond_temporaire", Some(target.id), detail))
}
