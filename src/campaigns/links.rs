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
}

impl Purpose {
    fn tag(self) -> &'static [u8] {
        match self {
            Purpose::Unsubscribe => b"desinscription:",
            Purpose::Click => b"clic:",
        }
    }
}

/// 128 bits of HMAC are plenty for a link and keep it short.
const SIGNATURE_BYTES: usize = 16;

fn mac(secret: &[u8], purpose: Purpose, delivery_id: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(purpose.tag());
    mac.update(delivery_id.to_string().as_bytes());
    mac
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
