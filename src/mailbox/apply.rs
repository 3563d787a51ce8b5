//! What a classified message does to the records: a permanent bounce suppresses the address
//! and marks the delivery; temporary ones are counted per address and suppress it past the
//! configured number within the window; a complaint suppresses the address; an unsubscribe
//! request unsubscribes as the one-click link does, and is written in the journal. Runs in the
//! transaction that marks the message processed, so it happens once.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::classify::{Reference, Verdict};
use crate::campaigns::suppression;
use crate::config::InboundSettings;
use crate::db::enums::SuppressionReason;
use crate::db::schema::{campaign_runs, deliveries, soft_bounces};

/// What was done with a message, as recorded in `inbound_messages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// rebond, rebond_temporaire, plainte, desinscription, non_reconnu.
    pub kind: &'static str,
    /// Whether it goes to the processed folder (else to « Non reconnu »).
    pub processed: bool,
    pub delivery: Option<i64>,
    /// What happened, without personal data (status codes, numbers).
    pub detail: String,
}

fn unrecognised(detail: impl Into<String>) -> Applied {
    Applied {
        kind: "non_reconnu",
        processed: false,
        delivery: None,
        detail: detail.into(),
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

/// Applies a verdict. `inbound_id` is the message's record (temporary failures are counted
/// once per message).
pub fn apply(
    conn: &mut PgConnection,
    verdict: &Verdict,
    settings: &InboundSettings,
    inbound_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Applied> {
    match verdict {
        Verdict::Unrecognised(why) => Ok(unrecognised(*why)),
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
                Ok(Applied {
                    kind: "rebond",
                    processed: true,
                    delivery: Some(target.id),
                    detail: format!("échec définitif {status}"),
                })
            } else {
                soft_bounce(conn, &target, status, settings, inbound_id, now)
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
            Ok(Applied {
                kind: "plainte",
                processed: true,
                delivery: Some(target.id),
                detail: "plainte pour courrier indésirable".into(),
            })
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
            Ok(Applied {
                kind: "desinscription",
                processed: true,
                delivery: Some(target.id),
                detail: format!("désinscription, campagne n° {}", target.campaign),
            })
        }
    }
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
    Ok(Applied {
        kind: "rebond_temporaire",
        processed: true,
        delivery: Some(target.id),
        detail,
    })
}
