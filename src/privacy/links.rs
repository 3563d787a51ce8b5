//! The candidate's private link to their data: signing and checking it, and sending a new one
//! to whoever asks with the address.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::campaigns::links::{self, Purpose};
use crate::config::Settings;
use crate::db::schema::candidates;
use crate::mail::new_message_id;
use crate::mail::outbox::{self, NewOutboundEmail};
use crate::templates;

/// What a token from a private link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Signed and still valid: the candidate's id.
    Valid(i64),
    /// Signed by us but past its time: a new one must be asked for.
    Expired,
    /// Not a token of ours (forged, altered, cut): nothing to show.
    Invalid,
}

pub fn check_link(secret: &[u8], token: &str, now: DateTime<Utc>) -> Link {
    match links::verify_expiring(secret, Purpose::PersonalData, token) {
        Some((id, expires)) if now.timestamp() <= expires => Link::Valid(id),
        Some(_) => Link::Expired,
        None => Link::Invalid,
    }
}

/// The private link of a candidate, valid for `privacy.link_days` from `now`.
pub fn link_url(settings: &Settings, candidate_id: i64, now: DateTime<Utc>) -> String {
    let expires = now + chrono::Duration::days(i64::from(settings.privacy.link_days));
    link_url_until(settings, candidate_id, expires)
}

pub fn link_url_until(settings: &Settings, candidate_id: i64, expires: DateTime<Utc>) -> String {
    use secrecy::ExposeSecret;
    let token = links::expiring_token(
        settings.security.secret_key.expose_secret().as_bytes(),
        Purpose::PersonalData,
        candidate_id,
        expires.timestamp(),
    );
    format!("{}/mes-donnees/{token}", settings.public_base())
}

/// The e-mail `name` rendered with `data`, to a candidate's address.
pub(super) fn candidate_email(
    settings: &Settings,
    name: &str,
    to: &str,
    candidate_id: i64,
    data: &Value,
) -> anyhow::Result<NewOutboundEmail> {
    let rendered = templates::global()
        .render_email(name, data)
        .map_err(|e| anyhow::anyhow!("rendering e-mail {name}: {e}"))?;
    let mut message =
        NewOutboundEmail::new(name, to, rendered, new_message_id(&settings.mail_domain()));
    message.candidate_id = Some(candidate_id);
    Ok(message)
}

/// Queues a new private link to every (not anonymised) candidate with this e-mail address.
/// Returns how many were queued; the caller answers the same whatever the number.
pub fn send_new_links(
    conn: &mut PgConnection,
    settings: &Settings,
    email_normalized: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    type Found = (i64, String, String, String, String, Option<String>);
    let found: Vec<Found> = candidates::table
        .filter(candidates::email_normalized.eq(email_normalized))
        .filter(candidates::anonymised_at.is_null())
        .select((
            candidates::id,
            candidates::first_name,
            candidates::last_name,
            candidates::email,
            candidates::situation,
            candidates::rpps,
        ))
        .load(conn)?;
    let mut queued = Vec::new();
    for (id, first_name, last_name, email, situation, rpps) in found {
        let salutation =
            crate::domain::salutation(&first_name, &last_name, &situation, rpps.as_deref());
        let data = json!({
            "org": settings.organisation,
            "privacy": settings.privacy,
            "public_url": settings.public_base(),
            "first_name": first_name,
            "last_name": last_name,
            "salutation": salutation,
            "data_url": link_url(settings, id, now),
            "link_days": settings.privacy.link_days,
        });
        queued.push(candidate_email(
            settings,
            "personal_data_link",
            &email,
            id,
            &data,
        )?);
    }
    outbox::enqueue(conn, &queued)?;
    Ok(queued.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_expire_and_forged_ones_are_invalid() {
        let key = b"k";
        let now = Utc::now();
        let t = links::expiring_token(key, Purpose::PersonalData, 5, now.timestamp() + 60);
        assert_eq!(check_link(key, &t, now), Link::Valid(5));
        assert_eq!(
            check_link(key, &t, now + chrono::Duration::seconds(61)),
            Link::Expired
        );
        assert_eq!(check_link(b"other", &t, now), Link::Invalid);
        assert_eq!(check_link(key, "5.1.abc", now), Link::Invalid);
    }
}
