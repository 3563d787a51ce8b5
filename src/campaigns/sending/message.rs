//! Campaign messages: one recipient's message rendered from the run's compiled template
//! (personalisation, footer, the list headers of [`list_headers`], a stable Message-ID), its
//! parts as 8bit or quoted-printable, and its DKIM signature (the signing step of all mail,
//! [`crate::mail::sign`]). The test send of a template carries the same list headers.

use std::sync::Arc;

use chrono::Utc;
use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use secrecy::ExposeSecret;

use super::ledger::{ClaimedDelivery, RunContext};
use crate::campaigns::links;
use crate::campaigns::template::{self, Compiled, Footer, Personalisation};
use crate::config::Settings;
use crate::mail::dkim::DkimSigner;

/// What every campaign message of this instance is built with.
pub struct Composer {
    settings: Arc<Settings>,
    dkim: Option<DkimSigner>,
    /// Host part of Message-IDs and List-Id.
    domain: String,
    secret: Vec<u8>,
    mailto: String,
}

impl Composer {
    /// The DKIM key is read here, when one is set.
    pub fn new(settings: Arc<Settings>, domain: String) -> anyhow::Result<Composer> {
        let mailto = unsubscribe_mailto(&settings);
        Ok(Composer {
            dkim: crate::mail::load_dkim(&settings)?,
            secret: settings
                .security
                .secret_key
                .expose_secret()
                .as_bytes()
                .to_vec(),
            settings,
            domain,
            mailto,
        })
    }

    /// Whether messages are DKIM-signed (they then never go as 8bit).
    pub fn signs(&self) -> bool {
        self.dkim.is_some()
    }

    /// The stable Message-ID of a delivery: the same at every attempt, and never the same on
    /// another installation (its random part, see [`crate::mail::installation_id`]).
    pub fn message_id(&self, run: &RunContext, delivery_id: i64) -> String {
        format!(
            "<campagne.{}.{delivery_id}.{}@{}>",
            run.run_id, run.installation, self.domain
        )
    }

    /// Builds one recipient's message: its envelope and the bytes to send, DKIM-signed when a
    /// key is set (the signature covers exactly these bytes). With `eight_bit` (the relay
    /// announced 8BITMIME) and no DKIM key, the text and HTML parts go as `8bit`, as written;
    /// otherwise they are quoted-printable, as RFC 6376 §5.3 advises for signed mail (a relay
    /// that converts 8bit to 7bit on the way would break the signature).
    pub fn build(
        &self,
        run: &RunContext,
        compiled: &Compiled,
        item: &ClaimedDelivery,
        eight_bit: bool,
    ) -> Result<(Envelope, Vec<u8>), String> {
        let i = self;
        let public_url = i.settings.http.public_url.trim_end_matches('/');
        let unsubscribe = links::unsubscribe_url(public_url, &i.secret, item.id);
        let values = Personalisation::new(
            &item.first_name,
            &item.last_name,
            &item.organisation,
            &item.city,
            links::click_url(public_url, &i.secret, item.id),
            unsubscribe.clone(),
        );
        let kind = template::as_recipient(&item.kind);
        let footer = Footer {
            org: &i.settings.organisation,
            sender: &run.sender_name,
            kind: &kind,
            unsubscribe_url: &unsubscribe,
        };
        let email = compiled.render(&values, &footer)?;
        let from = Mailbox::new(
            Some(run.sender_name.clone()),
            run.sender_email
                .parse()
                .map_err(|e| format!("adresse d'expédition invalide : {e}"))?,
        );
        let to_name = values.nom_complet.clone();
        let to = Mailbox::new(
            (!to_name.is_empty()).then_some(to_name),
            item.email
                .parse()
                .map_err(|e| format!("adresse du destinataire invalide : {e}"))?,
        );
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(email.subject)
            .message_id(Some(self.message_id(run, item.id)));
        let token = links::token(&i.secret, links::Purpose::Unsubscribe, item.id);
        for (name, value) in list_headers(&i.settings, &i.mailto, &unsubscribe, &token) {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value,
            ));
        }
        let message = builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(part(ContentType::TEXT_PLAIN, email.text, eight_bit))
                    .singlepart(part(ContentType::TEXT_HTML, email.html, eight_bit)),
            )
            .map_err(|e| format!("message impossible à construire : {e}"))?;
        let bytes = crate::mail::sign(message.formatted(), i.dkim.as_ref(), Utc::now())
            .map_err(|e| e.to_string())?;
        Ok((self.envelope(run, item, message.envelope())?, bytes))
    }

    /// The envelope: the message's recipient, and as sender a bounce address carrying the
    /// delivery's signed token (VERP), so that a bounce names the delivery it is about.
    fn envelope(
        &self,
        run: &RunContext,
        item: &ClaimedDelivery,
        built: &Envelope,
    ) -> Result<Envelope, String> {
        let inbound = &self.settings.inbound;
        let domain = if inbound.bounce_domain.is_empty() {
            run.sender_email
                .rsplit_once('@')
                .map_or(self.domain.as_str(), |(_, d)| d)
        } else {
            inbound.bounce_domain.as_str()
        };
        let sender = links::bounce_address(
            inbound.bounce_local_part.trim(),
            domain,
            &self.secret,
            item.id,
        )
        .parse()
        .map_err(|e| format!("adresse de retour invalide : {e}"))?;
        Envelope::new(Some(sender), built.to().to_vec())
            .map_err(|e| format!("enveloppe impossible à construire : {e}"))
    }
}

/// The address that takes unsubscribe requests by mail (List-Unsubscribe's `mailto:`).
pub fn unsubscribe_mailto(settings: &Settings) -> String {
    if settings.campaigns.unsubscribe_mailto.is_empty() {
        settings.organisation.contact_email.clone()
    } else {
        settings.campaigns.unsubscribe_mailto.clone()
    }
}

/// The headers of a campaign message besides From, To, Subject and Message-ID: one-click
/// unsubscribe (RFC 8058) with its `mailto:` (the subject carries `token`), a List-Id stable
/// for the organisation (RFC 2919: the same for every campaign, so that filters and
/// reputation follow the sender, not an internal campaign name), and what keeps automatic
/// answers away from a bulk mailing (`Precedence: bulk`, and Exchange's
/// `X-Auto-Response-Suppress: OOF, AutoReply`).
pub fn list_headers(
    settings: &Settings,
    mailto: &str,
    unsubscribe_url: &str,
    token: &str,
) -> Vec<(&'static str, String)> {
    vec![
        (
            "List-Unsubscribe",
            format!("<{unsubscribe_url}>, <mailto:{mailto}?subject=desinscription-{token}>"),
        ),
        (
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_owned(),
        ),
        ("List-Id", list_id(settings)),
        ("Precedence", "bulk".to_owned()),
        ("X-Auto-Response-Suppress", "OOF, AutoReply".to_owned()),
    ]
}

/// `Phrase <campagnes.HOST>`: the organisation's name and the service's public host.
pub fn list_id(settings: &Settings) -> String {
    let phrase = list_id_phrase(&settings.organisation.name);
    let host = public_host(&settings.http.public_url);
    if phrase.is_empty() {
        format!("<campagnes.{host}>")
    } else {
        format!("{phrase} <campagnes.{host}>")
    }
}

/// The host of the public address (for Message-IDs), « localhost » if it has none.
pub fn public_host(public_url: &str) -> String {
    url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// One part of a campaign message: with `eight_bit`, the text as written (`8bit`) when it can
/// go so; otherwise in the encoding lettre finds best (7bit, or quoted-printable for French
/// text). lettre's own 8bit check refuses lines over 76 characters, so nearly every paragraph;
/// [`eight_bit_text`] applies the limits of RFC 2045 §2.8 instead.
fn part(content_type: ContentType, text: String, eight_bit: bool) -> SinglePart {
    let body = match eight_bit.then(|| eight_bit_text(&text)).flatten() {
        // The bytes were checked by eight_bit_text: what lettre leaves to the caller here.
        Some(bytes) => Body::dangerous_pre_encoded(bytes, ContentTransferEncoding::EightBit),
        None => Body::new(text),
    };
    SinglePart::builder().header(content_type).body(body)
}

/// The text with CRLF line ends, if it is valid `8bit` data (RFC 2045 §2.8): no NUL, CR only
/// before LF, and no line over 998 octets. None otherwise.
fn eight_bit_text(text: &str) -> Option<Vec<u8>> {
    if text.contains('\0') {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() + text.len() / 40);
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.len() > 998 || line.contains('\r') {
            return None;
        }
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line.as_bytes());
    }
    Some(out)
}

/// Keeps a List-Id phrase to letters, digits, spaces and a few signs.
fn list_id_phrase(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '\'' | '.'))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_goes_as_8bit_only_within_the_mime_limits() {
        assert_eq!(
            eight_bit_text("Médecin\nsalarié\r\n\nfin").as_deref(),
            Some("Médecin\r\nsalarié\r\n\r\nfin".as_bytes())
        );
        assert_eq!(eight_bit_text("a\n").as_deref(), Some(&b"a\r\n"[..]));
        let long = "é".repeat(499); // 998 octets
        assert!(eight_bit_text(&long).is_some());
        assert!(eight_bit_text(&format!("{long}x")).is_none());
        assert!(eight_bit_text("a\0b").is_none());
        assert!(eight_bit_text("a\rb").is_none());
        // Refused texts still go, quoted-printable.
        let raw = |p: SinglePart| String::from_utf8(p.formatted()).unwrap();
        let long_ascii = format!("{} é", "a".repeat(1000));
        assert!(raw(part(ContentType::TEXT_PLAIN, long_ascii, true))
            .contains("Content-Transfer-Encoding: quoted-printable"));
        assert!(raw(part(
            ContentType::TEXT_PLAIN,
            "Le médecin salarié".into(),
            true
        ))
        .contains("Content-Transfer-Encoding: 8bit"));
        assert!(raw(part(
            ContentType::TEXT_PLAIN,
            "Le médecin salarié".into(),
            false
        ))
        .contains("Content-Transfer-Encoding: quoted-printable"));
    }

    #[test]
    fn phrases_for_footers_and_list_ids() {
        assert_eq!(
            list_id_phrase("Internes <2027>, promo « été »"),
            "Internes 2027 promo été"
        );
        assert_eq!(
            public_host("https://vocation.gers.fr/x"),
            "vocation.gers.fr"
        );
    }
}
