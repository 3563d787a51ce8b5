//! Signed links in campaign mail: the unsubscribe link and the tracked link to the application
//! form. A token is the delivery's id and a truncated HMAC of it under the service's secret,
//! with a different purpose for each kind of link, so one cannot be turned into the other and
//! no id can be guessed. Tokens do not expire: an unsubscribe link must work years later.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Unsubscribe,
    Click,
    /// A candidate's private link to their personal data (expiring).
    PersonalData,
    /// The browser's memory of the channel link it came by (expiring cookie).
    Channel,
    /// The browser's memory of the campaign mail's tracked link it came by (expiring cookie).
    ClickMemory,
    /// The envelope sender of a campaign message (VERP): bounces come back to it.
    Bounce,
    /// The Reply-To of a message to a candidate (`recrutement+TOKEN@…`): answers come back to
    /// the candidate's conversation.
    Conversation,
}

impl Purpose {
    fn tag(self) -> &'static [u8] {
        match self {
            Purpose::Unsubscribe => b"desinscription:",
            Purpose::Click => b"clic:",
            Purpose::PersonalData => b"mes-donnees:",
            Purpose::Channel => b"canal:",
            Purpose::ClickMemory => b"suivi-memoire:",
            Purpose::Bounce => b"rebond:",
            Purpose::Conversation => b"conversation:",
        }
    }
}

/// 128 bits of HMAC are plenty for a link and keep it short.
const SIGNATURE_BYTES: usize = 16;

fn mac(secret: &[u8], purpose: Purpose, delivery_id: i64) -> Hmac<Sha256> {
    mac_of(secret, purpose, &delivery_id.to_string())
}

fn mac_of(secret: &[u8], purpose: Purpose, message: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(purpose.tag());
    mac.update(message.as_bytes());
    mac
}

/// A decimal number as tokens carry it: digits only, at most 19 of them.
fn number(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

pub fn token(secret: &[u8], purpose: Purpose, delivery_id: i64) -> String {
    let sig = mac(secret, purpose, delivery_id).finalize().into_bytes();
    format!(
        "{delivery_id}.{}",
        URL_SAFE_NO_PAD.encode(&sig[..SIGNATURE_BYTES])
    )
}

/// The delivery id a token stands for, if its signature holds (checked in constant time).
pub fn verify(secret: &[u8], purpose: Purpose, token: &str) -> Option<i64> {
    let (id, sig) = token.split_once('.')?;
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: i64 = id.parse().ok()?;
    let given = URL_SAFE_NO_PAD.decode(sig).ok()?;
    if given.len() != SIGNATURE_BYTES {
        return None;
    }
    mac(secret, purpose, id)
        .verify_truncated_left(&given)
        .ok()
        .map(|_| id)
}

/// A token for `id` that is meant to hold until `expires` (Unix seconds): both are signed, so
/// neither can be changed; whether the time has passed is the caller's question.
pub fn expiring_token(secret: &[u8], purpose: Purpose, id: i64, expires: i64) -> String {
    let message = format!("{id}.{expires}");
    let sig = mac_of(secret, purpose, &message).finalize().into_bytes();
    format!(
        "{message}.{}",
        URL_SAFE_NO_PAD.encode(&sig[..SIGNATURE_BYTES])
    )
}

/// The id and expiry time an expiring token stands for, if its signature holds.
pub fn verify_expiring(secret: &[u8], purpose: Purpose, token: &str) -> Option<(i64, i64)> {
    let mut parts = token.splitn(3, '.');
    let (id, expires, sig) = (parts.next()?, parts.next()?, parts.next()?);
    let (id_value, expires_value) = (number(id)?, number(expires)?);
    let given = URL_SAFE_NO_PAD.decode(sig).ok()?;
    if given.len() != SIGNATURE_BYTES {
        return None;
    }
    mac_of(secret, purpose, &format!("{id}.{expires}"))
        .verify_truncated_left(&given)
        .ok()
        .map(|_| (id_value, expires_value))
}

/// A token for the local part of an address: `ID.HEX`, in lower case, because some relays
/// change the case of the local part of an address on the way back.
fn address_token(secret: &[u8], purpose: Purpose, id: i64) -> String {
    let sig = mac(secret, purpose, id).finalize().into_bytes();
    let hex: String = sig[..SIGNATURE_BYTES]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{id}.{hex}")
}

/// The id an address token stands for, if its signature holds (any case).
fn verify_address_token(secret: &[u8], purpose: Purpose, token: &str) -> Option<i64> {
    let (id, hex) = token.split_once('.')?;
    let id = number(id)?;
    if hex.len() != SIGNATURE_BYTES * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let given: Vec<u8> = (0..SIGNATURE_BYTES)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    mac(secret, purpose, id)
        .verify_truncated_left(&given)
        .ok()
        .map(|_| id)
}

/// The bounce token of a delivery (the local part's `+TOKEN` of its envelope sender).
pub fn bounce_token(secret: &[u8], delivery_id: i64) -> String {
    address_token(secret, Purpose::Bounce, delivery_id)
}

/// The delivery a bounce token stands for, if its signature holds (any case).
pub fn verify_bounce(secret: &[u8], token: &str) -> Option<i64> {
    verify_address_token(secret, Purpose::Bounce, token)
}

/// The conversation token of a candidate (the `+TOKEN` of the Reply-To of mail to them).
pub fn conversation_token(secret: &[u8], candidate_id: i64) -> String {
    address_token(secret, Purpose::Conversation, candidate_id)
}

/// The candidate a conversation token stands for, if its signature holds (any case).
pub fn verify_conversation(secret: &[u8], token: &str) -> Option<i64> {
    verify_address_token(secret, Purpose::Conversation, token)
}

/// The Reply-To of mail to a candidate: `LOCAL+TOKEN@DOMAIN`.
pub fn conversation_address(local: &str, domain: &str, secret: &[u8], candidate_id: i64) -> String {
    format!(
        "{local}+{}@{domain}",
        conversation_token(secret, candidate_id)
    )
}

/// The envelope sender of a delivery: `LOCAL+TOKEN@DOMAIN` (VERP).
pub fn bounce_address(local: &str, domain: &str, secret: &[u8], delivery_id: i64) -> String {
    format!("{local}+{}@{domain}", bounce_token(secret, delivery_id))
}

pub fn unsubscribe_url(public_url: &str, secret: &[u8], delivery_id: i64) -> String {
    format!(
        "{public_url}/desinscription/{}",
        token(secret, Purpose::Unsubscribe, delivery_id)
    )
}

pub fn click_url(public_url: &str, secret: &[u8], delivery_id: i64) -> String {
    format!(
        "{public_url}/c/{}",
        token(secret, Purpose::Click, delivery_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"test-key";

    #[test]
    fn tokens_round_trip_and_purposes_do_not_mix() {
        let t = token(KEY, Purpose::Unsubscribe, 42);
        assert_eq!(verify(KEY, Purpose::Unsubscribe, &t), Some(42));
        assert_eq!(verify(KEY, Purpose::Click, &t), None);
        assert_eq!(verify(b"other", Purpose::Unsubscribe, &t), None);
    }

    #[test]
    fn expiring_tokens_sign_their_id_and_time() {
        let t = expiring_token(KEY, Purpose::PersonalData, 42, 1_900_000_000);
        assert_eq!(
            verify_expiring(KEY, Purpose::PersonalData, &t),
            Some((42, 1_900_000_000))
        );
        let sig = t.rsplit('.').next().unwrap();
        assert_eq!(
            verify_expiring(KEY, Purpose::PersonalData, &format!("43.1900000000.{sig}")),
            None
        );
        assert_eq!(
            verify_expiring(KEY, Purpose::PersonalData, &format!("42.1999999999.{sig}")),
            None
        );
        assert_eq!(verify_expiring(KEY, Purpose::Click, &t), None);
        assert_eq!(verify(KEY, Purpose::PersonalData, &t), None);
    }

    #[test]
    fn bounce_tokens_survive_case_changes_and_refuse_forgeries() {
        let t = bounce_token(KEY, 42);
        assert_eq!(verify_bounce(KEY, &t), Some(42));
        assert_eq!(verify_bounce(KEY, &t.to_uppercase()), Some(42));
        assert_eq!(verify_bounce(b"other", &t), None);
        let (_, hex) = t.split_once('.').unwrap();
        assert_eq!(verify_bounce(KEY, &format!("43.{hex}")), None);
        assert_eq!(verify_bounce(KEY, &format!("42.{}", &hex[1..])), None);
        assert_eq!(verify_bounce(KEY, "42.zz"), None);
        // Not the same signature as the other purposes.
        let other = token(KEY, Purpose::Unsubscribe, 42);
        assert_eq!(verify_bounce(KEY, &other), None);
        assert_eq!(
            bounce_address("bounce", "vocation.test", KEY, 42),
            format!("bounce+{t}@vocation.test")
        );
        assert!(bounce_address("bounce", "vocation.test", KEY, 42)
            .parse::<lettre::Address>()
            .is_ok());
    }

    #[test]
    fn conversation_tokens_are_not_bounce_tokens() {
        let t = conversation_token(KEY, 42);
        assert_eq!(verify_conversation(KEY, &t), Some(42));
        assert_eq!(verify_conversation(KEY, &t.to_uppercase()), Some(42));
        // A bounce token for the same number does not open candidate 42's conversation.
        assert_eq!(verify_conversation(KEY, &bounce_token(KEY, 42)), None);
        assert_eq!(verify_bounce(KEY, &t), None);
        assert!(
            conversation_address("recrutement", "vocation.test", KEY, 42)
                .parse::<lettre::Address>()
                .is_ok()
        );
    }

    #[test]
    fn altered_tokens_are_refused() {
        let t = token(KEY, Purpose::Click, 7);
        let (_, sig) = t.split_once('.').unwrap();
        assert_eq!(verify(KEY, Purpose::Click, &format!("8.{sig}")), None);
        assert_eq!(verify(KEY, Purpose::Click, "7"), None);
        assert_eq!(verify(KEY, Purpose::Click, "7."), None);
        assert_eq!(verify(KEY, Purpose::Click, "-7.abc"), None);
        assert_eq!(verify(KEY, Purpose::Click, &format!("{t}x")), None);
    }
}
