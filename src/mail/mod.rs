//! Outgoing mail: the transports (SMTP relay or a local outbox of `.eml` files) and message
//! building. Single e-mails go through the transactional outbox in [`outbox`].
//!
//! Every outgoing message, single or campaign, leaves through [`seal`]: its wire bytes, signed
//! with DKIM when a key is configured ([`load_dkim`], [`dkim::SIGNED_HEADERS`]). Every
//! transport greets the relay with [`Settings::hello_name`] (the public host by default).

pub mod dkim;
pub mod outbox;
pub mod retry;

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use lettre::address::Envelope;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{MailTransportKind, Settings, SmtpTls};
use crate::mail::dkim::{DkimSigner, SIGNED_HEADERS};
use crate::templates::RenderedEmail;

#[derive(Clone)]
pub enum Mailer {
    /// An SMTP relay, and the longest one message may take (a server that stops answering
    /// must not hold the worker).
    Smtp(AsyncSmtpTransport<Tokio1Executor>, Duration),
    File(AsyncFileTransport<Tokio1Executor>),
}

/// Why a message was not sent, and whether trying again may help.
#[derive(Debug)]
pub struct SendFailure {
    pub permanent: bool,
    /// The SMTP reply code, when the server gave one.
    pub code: Option<u16>,
    pub detail: String,
}

impl Mailer {
    /// The transport of `mail`; an SMTP relay is greeted (EHLO) with
    /// [`Settings::hello_name`], not the machine's host name.
    pub fn from_settings(all: &Settings) -> anyhow::Result<Mailer> {
        let settings = &all.mail;
        match settings.transport {
            MailTransportKind::File => {
                std::fs::create_dir_all(&settings.outbox_dir).with_context(|| {
                    format!("creating mail outbox {}", settings.outbox_dir.display())
                })?;
                Ok(Mailer::File(AsyncFileTransport::<Tokio1Executor>::new(
                    &settings.outbox_dir,
                )))
            }
            MailTransportKind::Smtp => {
                let smtp = &settings.smtp;
                let tls = match smtp.tls {
                    SmtpTls::None => Tls::None,
                    SmtpTls::Starttls => Tls::Required(
                        TlsParameters::new(smtp.host.clone()).context("TLS parameters")?,
                    ),
                    SmtpTls::Tls => Tls::Wrapper(
                        TlsParameters::new(smtp.host.clone()).context("TLS parameters")?,
                    ),
                };
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
                        .port(smtp.port)
                        .tls(tls)
                        .hello_name(ClientId::Domain(all.hello_name()))
                        .timeout(Some(Duration::from_secs(smtp.timeout_seconds)));
                if !smtp.username.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        smtp.username.clone(),
                        smtp.password.expose_secret().to_owned(),
                    ));
                }
                Ok(Mailer::Smtp(
                    builder.build(),
                    Duration::from_secs(smtp.timeout_seconds.saturating_mul(2).max(1)),
                ))
            }
        }
    }

    /// Sends a message's wire bytes (see [`seal`]) to the envelope's recipients.
    pub async fn send(&self, message: &Sealed) -> Result<(), SendFailure> {
        let (envelope, bytes) = (&message.envelope, message.bytes.as_slice());
        match self {
            Mailer::Smtp(t, limit) => {
                match tokio::time::timeout(*limit, t.send_raw(envelope, bytes)).await {
                    Ok(result) => result.map(|_| ()).map_err(|e| SendFailure {
                        permanent: e.is_permanent(),
                        code: e.status().map(u16::from),
                        detail: e.to_string(),
                    }),
                    Err(_) => Err(SendFailure {
                        permanent: false,
                        code: None,
                        detail: format!(
                            "no answer from the SMTP server within {} s",
                            limit.as_secs()
                        ),
                    }),
                }
            }
            Mailer::File(t) => {
                t.send_raw(envelope, bytes)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendFailure {
                        permanent: false,
                        code: None,
                        detail: e.to_string(),
                    })
            }
        }
    }
}

/// What a single message carries besides its sender, recipient and text.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extras<'a> {
    /// An iCalendar object with a METHOD (iMIP, RFC 6047): sent as a `text/calendar;
    /// method=…` alternative beside the text and HTML, and attached as `invitation.ics`.
    pub calendar: Option<&'a str>,
    /// Headers of its own, in order.
    pub headers: &'a [(String, String)],
    /// Sent by the service on its own (confirmations, notifications, digests, reminders):
    /// `Auto-Submitted: auto-generated` (RFC 3834), so that automatic answers stay quiet.
    pub automatic: bool,
}

/// Builds a text + HTML message with a stable Message-ID, and what `extras` adds.
pub fn build_message(
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
    to: &str,
    message_id: &str,
    email: &RenderedEmail,
    extras: Extras<'_>,
) -> anyhow::Result<Message> {
    let to: Mailbox = to.parse().context("recipient address")?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(message_id.to_owned()));
    if let Some(reply_to) = reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    if extras.automatic {
        builder = builder.raw_header(raw_header("Auto-Submitted", "auto-generated")?);
    }
    for (name, value) in extras.headers {
        builder = builder.raw_header(raw_header(name, value)?);
    }
    let alternative = MultiPart::alternative_plain_html(email.text.clone(), email.html.clone());
    let body = match extras.calendar {
        None => alternative,
        Some(ics) => {
            let method = calendar_method(ics).context("calendar without METHOD")?;
            let calendar =
                ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                    .context("calendar content type")?;
            MultiPart::mixed()
                .multipart(
                    alternative
                        .singlepart(SinglePart::builder().header(calendar).body(ics.to_owned())),
                )
                .singlepart(Attachment::new("invitation.ics".to_owned()).body(
                    ics.to_owned(),
                    ContentType::parse("application/ics").context("attachment content type")?,
                ))
        }
    };
    builder.multipart(body).context("building message")
}

/// A header written as given (lettre encodes a non-ASCII value); names are checked.
fn raw_header(name: &str, value: &str) -> anyhow::Result<HeaderValue> {
    let name = HeaderName::new_from_ascii(name.to_owned())
        .map_err(|_| anyhow::anyhow!("invalid header name {name:?}"))?;
    if value.contains(['\r', '\n']) {
        anyhow::bail!("line break in header {name}");
    }
    Ok(HeaderValue::new(name, value.to_owned()))
}

/// The METHOD of an iCalendar object (REQUEST, CANCEL…), when it has a valid one.
pub fn calendar_method(ics: &str) -> Option<&str> {
    ics.lines()
        .take_while(|l| !l.starts_with("BEGIN:VEVENT"))
        .find_map(|l| l.trim_end().strip_prefix("METHOD:"))
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase() || b == b'-'))
}

/// A message ready for the relay: its envelope and its wire bytes, signed when a DKIM key is
/// configured.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
}

/// The one signing step of outgoing mail: the message's wire bytes with a DKIM signature in
/// front when `dkim` is given (signed at `now`).
pub fn seal(
    message: &Message,
    dkim: Option<&DkimSigner>,
    now: DateTime<Utc>,
) -> Result<Sealed, dkim::DkimError> {
    Ok(Sealed {
        envelope: message.envelope().clone(),
        bytes: sign(message.formatted(), dkim, now)?,
    })
}

/// Wire bytes signed with `dkim` at `now`, or as they are without a key.
pub fn sign(
    bytes: Vec<u8>,
    dkim: Option<&DkimSigner>,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, dkim::DkimError> {
    match dkim {
        Some(signer) => signer.sign(&bytes, now.timestamp().max(0).unsigned_abs()),
        None => Ok(bytes),
    }
}

/// The DKIM signer of `mail.dkim` (every outgoing message is signed with it), None when no
/// selector is set. The key is read here, once per sender.
pub fn load_dkim(settings: &Settings) -> anyhow::Result<Option<DkimSigner>> {
    let d = &settings.mail.dkim;
    if d.selector.is_empty() {
        return Ok(None);
    }
    let pem = std::fs::read(&d.private_key_file).with_context(|| {
        format!(
            "mail.dkim.private_key_file {}",
            d.private_key_file.display()
        )
    })?;
    let signer = DkimSigner::from_pem(&pem, &d.selector, &d.domain, SIGNED_HEADERS)
        .map_err(|e| anyhow::anyhow!("mail.dkim : {e}"))?;
    Ok(Some(signer))
}

/// Whether an address's domain aligns with the DKIM signing domain (DMARC relaxed alignment,
/// kept simple: the same domain, or one a subdomain of the other). Case does not matter.
pub fn aligned(address: &str, signing_domain: &str) -> bool {
    let Some((_, domain)) = address.trim().rsplit_once('@') else {
        return false;
    };
    let a = domain.trim_end_matches('>').trim().to_ascii_lowercase();
    let d = signing_domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let a = a.trim_end_matches('.');
    if a.is_empty() || d.is_empty() {
        return false;
    }
    let under = |sub: &str, parent: &str| {
        parent.contains('.')
            && sub
                .strip_suffix(parent)
                .is_some_and(|head| head.ends_with('.') && head.len() > 1)
    };
    a == d || under(a, &d) || under(&d, a)
}

diesel::define_sql_function! {
    /// SQL `installation_part()` (migration 000032).
    fn installation_part() -> diesel::sql_types::Text;
}

/// This installation's random part (32 hexadecimal digits): the random id the migration
/// created once, mixed with the database's OID (a copy of the database gets a part of its
/// own). Message-IDs and calendar UIDs carry it so that they never repeat on another database.
pub fn installation_id(conn: &mut PgConnection) -> QueryResult<String> {
    diesel::select(installation_part()).get_result(conn)
}

/// A new Message-ID in the service's domain.
pub fn new_message_id(domain: &str) -> String {
    format!("<{}@{}>", uuid::Uuid::new_v4(), domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_domains_align_with_the_signing_domain() {
        assert!(aligned("contact@gers.fr", "gers.fr"));
        assert!(aligned("contact@GERS.fr", "gers.fr."));
        assert!(aligned("contact@vocation.gers.fr", "gers.fr"));
        assert!(aligned("contact@gers.fr", "vocation.gers.fr"));
        assert!(!aligned("contact@autre-domaine.fr", "gers.fr"));
        // A suffix that is not a label boundary is another domain.
        assert!(!aligned("contact@legers.fr", "gers.fr"));
        assert!(!aligned("contact@gers.fr.evil.com", "gers.fr"));
        assert!(!aligned("contact", "gers.fr"));
        assert!(!aligned("contact@", "gers.fr"));
        // A top-level domain is nobody's organisation.
        assert!(!aligned("contact@gers.fr", "fr"));
    }

    #[test]
    fn calendar_methods_are_read_before_the_event() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:CANCEL\r\nBEGIN:VEVENT\r\n";
        assert_eq!(calendar_method(ics), Some("CANCEL"));
        assert_eq!(
            calendar_method("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nMETHOD:X\r\n"),
            None
        );
        assert_eq!(calendar_method("METHOD:REQUEST; evil=1\r\n"), None);
    }
}
