//! Outgoing mail: the transports (SMTP relay or a local outbox of `.eml` files) and message
//! building. Single e-mails go through the transactional outbox in [`outbox`].

pub mod dkim;
pub mod outbox;
pub mod retry;

use std::time::Duration;

use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{MailSettings, MailTransportKind, SmtpTls};
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
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Mailer> {
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

    pub async fn send(&self, message: Message) -> Result<(), SendFailure> {
        match self {
            Mailer::Smtp(t, limit) => match tokio::time::timeout(*limit, t.send(message)).await {
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
            },
            Mailer::File(t) => t.send(message).await.map(|_| ()).map_err(|e| SendFailure {
                permanent: false,
                code: None,
                detail: e.to_string(),
            }),
        }
    }
}

/// Builds a text + HTML message with a stable Message-ID, and a calendar invitation attached
/// when `ics` is given.
pub fn build_message(
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
    to: &str,
    message_id: &str,
    email: &RenderedEmail,
    ics: Option<&str>,
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
    let body = MultiPart::alternative_plain_html(email.text.clone(), email.html.clone());
    let body = match ics {
        None => body,
        Some(ics) => MultiPart::mixed().multipart(body).singlepart(
            Attachment::new("invitation.ics".to_owned()).body(
                ics.to_owned(),
                ContentType::parse("text/calendar; charset=utf-8; method=REQUEST")
                    .context("calendar content type")?,
            ),
        ),
    };
    builder.multipart(body).context("building message")
}

/// A new Message-ID in the service's domain.
pub fn new_message_id(domain: &str) -> String {
    format!("<{}@{}>", uuid::Uuid::new_v4(), domain)
}
