//! The SMTP session of a connection task, written by hand over lettre's connection: MAIL, RCPT
//! and DATA pipelined in one write when the relay announces PIPELINING (RFC 2920), the content
//! of a message sent in one write with the next message's envelope behind it, and the relay's
//! replies turned into [`Refusal`]s. Or, instead of a relay, `.eml` files ([`Transport`]).
//!
//! The SMTP socket is opened here with `TCP_NODELAY` (lettre does not set it; without it every
//! message waits for a delayed ACK).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::{AsyncFileTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use super::ledger::{Outcome, OutcomeKind};
use crate::config::{SmtpSettings, SmtpTls};

/// Where campaign mail goes: an SMTP relay reached with our own sockets, or `.eml` files.
#[derive(Clone)]
pub(super) enum Transport {
    Smtp(Arc<Relay>),
    File(AsyncFileTransport<Tokio1Executor>),
}

pub(super) struct Relay {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) tls: SmtpTls,
    pub(super) credentials: Option<Credentials>,
    pub(super) timeout: StdDuration,
    pub(super) hello: ClientId,
}

impl Relay {
    /// The relay of `mail.smtp`, greeted with the service's host name.
    pub(super) fn new(smtp: &SmtpSettings, domain: &str) -> Relay {
        Relay {
            host: smtp.host.clone(),
            port: smtp.port,
            tls: smtp.tls,
            credentials: (!smtp.username.is_empty()).then(|| {
                Credentials::new(
                    smtp.username.clone(),
                    smtp.password.expose_secret().to_owned(),
                )
            }),
            timeout: StdDuration::from_secs(smtp.timeout_seconds.max(1)),
            hello: ClientId::Domain(domain.to_owned()),
        }
    }

    async fn connect(&self) -> Result<Session, String> {
        let connect = async {
            if self.tls == SmtpTls::Tls {
                // Implicit TLS: lettre opens the socket (without TCP_NODELAY; TLS relays are
                // remote, where a delayed ACK matters less than on loopback).
                let params = TlsParameters::new(self.host.clone()).map_err(|e| e.to_string())?;
                return AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    Some(params),
                    None,
                )
                .await
                .map_err(|e| e.to_string());
            }
            let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| format!("connexion au relais impossible : {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let mut conn =
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                    .await
                    .map_err(|e| e.to_string())?;
            if self.tls == SmtpTls::Starttls {
                let params = TlsParameters::new(self.host.clone()).map_err(|e| e.to_string())?;
                conn.starttls(params, &self.hello)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(conn)
        };
        let mut conn = tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| "le relais SMTP ne répond pas".to_owned())??;
        // lettre keeps only the extensions it uses from the EHLO reply; PIPELINING is not
        // among them, so ask once more (EHLO may be repeated; it only resets the transaction).
        let ehlo = tokio::time::timeout(self.timeout, conn.command(Ehlo::new(self.hello.clone())))
            .await
            .map_err(|_| "le relais SMTP ne répond pas".to_owned())?
            .map_err(|e| e.to_string())?;
        let pipelining = ehlo.message().any(|line| {
            line.split_ascii_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING"))
        });
        let eight_bit = conn.server_info().supports_feature(Extension::EightBitMime);
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(Session {
            conn,
            pipelining,
            eight_bit,
        })
    }
}

/// The SMTP session of one connection task.
pub(super) struct Session {
    pub(super) conn: AsyncSmtpConnection,
    /// The relay announced PIPELINING (RFC 2920): MAIL, RCPT and DATA go out in one write.
    pub(super) pipelining: bool,
    /// The relay announced 8BITMIME (RFC 6152): unsigned messages keep their text as is.
    pub(super) eight_bit: bool,
}

/// A message ready to go: its envelope and its bytes as sent.
pub(super) struct Ready {
    pub(super) envelope: Envelope,
    pub(super) bytes: Vec<u8>,
}

/// MAIL FROM, RCPT TO and DATA written together, for a relay that supports pipelining.
struct EnvelopeGroup<'a>(&'a Mail, &'a [Rcpt]);

impl std::fmt::Display for EnvelopeGroup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Each command's Display ends with CRLF.
        write!(f, "{}", self.0)?;
        for rcpt in self.1 {
            write!(f, "{rcpt}")?;
        }
        write!(f, "{Data}")
    }
}

/// A message's content as the DATA phase carries it (RFC 5321 §4.5.2): a period that starts a
/// line is doubled, and a line holding a single period ends the content. It goes out in one
/// write, where lettre's `message` writes the content and the terminator separately and
/// encodes byte by byte.
struct DataBlock<'a>(&'a str);

impl std::fmt::Display for DataBlock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0;
        let mut from = 0;
        if text.starts_with('.') {
            f.write_str(".")?;
        }
        // Each "\r\n." found ends a piece; the next piece starts at its period, which is so
        // written twice. The pattern is ASCII: the pieces end on character boundaries.
        for at in memchr::memmem::find_iter(text.as_bytes(), b"\r\n.") {
            f.write_str(&text[from..at + 3])?;
            from = at + 2;
        }
        f.write_str(&text[from..])?;
        if !text.is_empty() && !text.ends_with("\r\n") {
            f.write_str("\r\n")?;
        }
        f.write_str(".\r\n")
    }
}

/// A message's content, and possibly the next message's envelope behind it (see [`finish`]).
struct Content<'a> {
    data: DataBlock<'a>,
    then: Option<EnvelopeGroup<'a>>,
}

impl std::fmt::Display for Content<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.data)?;
        match &self.then {
            Some(group) => write!(f, "{group}"),
            None => Ok(()),
        }
    }
}

pub(super) struct Refusal {
    kind: OutcomeKind,
    code: Option<i32>,
    detail: String,
}

impl Refusal {
    pub(super) fn retry(detail: String) -> Refusal {
        Refusal {
            kind: OutcomeKind::Retry,
            code: None,
            detail,
        }
    }

    fn from_smtp(e: &lettre::transport::smtp::Error) -> Refusal {
        let kind = if e.is_permanent() || e.is_client() {
            OutcomeKind::Failed
        } else {
            OutcomeKind::Retry
        };
        Refusal {
            kind,
            code: e.status().map(|c| i32::from(u16::from(c))),
            detail: e.to_string(),
        }
    }
}

/// Writes a refusal into an outcome; an unknown mailbox (5.1.1) suppresses the address.
pub(super) fn refused(outcome: &mut Outcome, r: Refusal, email: &str) {
    if r.kind == OutcomeKind::Failed && r.detail.contains("5.1.1") {
        outcome.suppress = Some(email.to_owned());
    }
    outcome.kind = r.kind;
    outcome.smtp_code = r.code;
    outcome.detail = Some(r.detail.chars().take(500).collect());
}

/// The outcome of a message the relay did not accept: no Message-ID, the refusal recorded.
pub(super) fn refused_before_content(mut outcome: Outcome, r: Refusal, email: &str) -> Outcome {
    outcome.message_id = None;
    refused(&mut outcome, r, email);
    outcome
}

fn no_reply(relay: &Relay) -> Refusal {
    Refusal::retry(format!(
        "pas de réponse du relais en {} s",
        relay.timeout.as_secs()
    ))
}

/// The task's connection to the relay, opened (again) if it has none or it broke.
pub(super) async fn connected<'s>(
    relay: &Relay,
    smtp: &'s mut Option<Session>,
) -> Result<&'s mut Session, Refusal> {
    if smtp.as_ref().is_some_and(|s| s.conn.has_broken()) {
        *smtp = None;
    }
    match smtp {
        Some(session) => Ok(session),
        None => Ok(smtp.insert(relay.connect().await.map_err(Refusal::retry)?)),
    }
}

/// Opens a mail transaction on the task's connection (opening the connection if needed):
/// MAIL FROM, RCPT TO, then DATA, whose 354 means the relay waits for the content. With
/// PIPELINING the three commands go in one write and their replies are read in order. Any
/// error drops the connection (a refused transaction leaves it in no known state, and lettre
/// treats it the same way); the next message opens a new one.
pub(super) async fn begin(
    relay: &Relay,
    smtp: &mut Option<Session>,
    ready: &Ready,
) -> Result<(), Refusal> {
    let session = connected(relay, smtp).await?;
    let (mail, rcpts) = match envelope_commands(session, ready) {
        Ok(commands) => commands,
        Err(r) => {
            *smtp = None;
            return Err(r);
        }
    };
    let pipelining = session.pipelining;
    let conn = &mut session.conn;
    let exchange = async {
        if pipelining {
            conn.command(EnvelopeGroup(&mail, &rcpts)).await?;
            for _ in 0..=rcpts.len() {
                conn.read_response().await?;
            }
        } else {
            conn.command(&mail).await?;
            for rcpt in &rcpts {
                conn.command(rcpt).await?;
            }
            conn.command(Data).await?;
        }
        Ok::<_, lettre::transport::smtp::Error>(())
    };
    let result = tokio::time::timeout(relay.timeout, exchange).await;
    settle(relay, smtp, result)
}

/// The end of an exchange with the relay under its timeout: any failure drops the connection
/// (a refused envelope leaves it in no known state, and lettre treats it the same way).
fn settle(
    relay: &Relay,
    smtp: &mut Option<Session>,
    result: Result<Result<(), lettre::transport::smtp::Error>, tokio::time::error::Elapsed>,
) -> Result<(), Refusal> {
    let refusal = match result {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => Refusal::from_smtp(&e),
        Err(_) => no_reply(relay),
    };
    *smtp = None;
    Err(refusal)
}

/// MAIL FROM (with the parameters the message needs) and RCPT TO for a message, if the
/// relay can take it: non-ASCII addresses need SMTPUTF8, and 8bit content 8BITMIME.
fn envelope_commands(session: &Session, ready: &Ready) -> Result<(Mail, Vec<Rcpt>), Refusal> {
    let info = session.conn.server_info();
    let mut parameters = Vec::new();
    let envelope = &ready.envelope;
    if envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii())
    {
        if !info.supports_feature(Extension::SmtpUtfEight) {
            return Err(Refusal {
                kind: OutcomeKind::Failed,
                code: None,
                detail: "adresse non ASCII et le relais ne prend pas SMTPUTF8".to_owned(),
            });
        }
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !ready.bytes.is_ascii() {
        if !info.supports_feature(Extension::EightBitMime) {
            // Built for a connection that announced 8BITMIME; the next attempt is built for
            // the connection it goes over.
            return Err(Refusal::retry(
                "message 8 bits et le relais ne prend plus 8BITMIME".to_owned(),
            ));
        }
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let mail = Mail::new(envelope.from().cloned(), parameters);
    let rcpts = envelope
        .to()
        .iter()
        .map(|a| Rcpt::new(a.clone(), Vec::new()))
        .collect();
    Ok((mail, rcpts))
}

/// Sends the content of an open transaction and reads the relay's verdict. With `ahead`, on a
/// pipelining relay, the next message's MAIL, RCPT and DATA follow the content in the same
/// write (RFC 2920 lets the content lead a group): one write and one read per message
/// instead of two each, for both sides. The flag returned says whether they went and the
/// connection still stands, so that their replies, which follow the verdict, are to be read
/// by [`envelope_replies`]. A refusal of the content (a reply other than 421) ends the
/// transaction but not the session (RFC 5321 §4.1.1.4), which goes on.
pub(super) async fn finish(
    relay: &Relay,
    smtp: &mut Option<Session>,
    bytes: &[u8],
    ahead: Option<&Ready>,
) -> (Result<i32, Refusal>, bool) {
    let Some(session) = smtp.as_mut() else {
        let lost = Refusal::retry("connexion au relais perdue".to_owned());
        return (Err(lost), false);
    };
    // Built from text (and signed as is): always UTF-8.
    let Ok(text) = std::str::from_utf8(bytes) else {
        *smtp = None;
        let malformed = Refusal {
            kind: OutcomeKind::Failed,
            code: None,
            detail: "message mal formé (UTF-8 invalide)".to_owned(),
        };
        return (Err(malformed), false);
    };
    // A next message the relay cannot take opens its own transaction, which refuses it.
    let then = ahead
        .filter(|_| session.pipelining)
        .and_then(|ready| envelope_commands(session, ready).ok());
    let content = Content {
        data: DataBlock(text),
        then: then
            .as_ref()
            .map(|(mail, rcpts)| EnvelopeGroup(mail, rcpts)),
    };
    let result = tokio::time::timeout(relay.timeout, session.conn.command(content)).await;
    let chained = then.is_some();
    match result {
        Ok(Ok(response)) => (Ok(i32::from(u16::from(response.code()))), chained),
        Ok(Err(e)) => {
            let answered = e.status().is_some_and(|c| u16::from(c) != 421);
            if !answered {
                *smtp = None;
            }
            (Err(Refusal::from_smtp(&e)), chained && answered)
        }
        Err(_) => {
            *smtp = None;
            (Err(no_reply(relay)), false)
        }
    }
}

/// Reads the `n` replies to an envelope sent after a message's content (see [`finish`]).
pub(super) async fn envelope_replies(
    relay: &Relay,
    smtp: &mut Option<Session>,
    n: usize,
) -> Result<(), Refusal> {
    let Some(session) = smtp.as_mut() else {
        return Err(Refusal::retry("connexion au relais perdue".to_owned()));
    };
    let conn = &mut session.conn;
    let replies = async {
        for _ in 0..n {
            conn.read_response().await?;
        }
        Ok::<_, lettre::transport::smtp::Error>(())
    };
    let result = tokio::time::timeout(relay.timeout, replies).await;
    settle(relay, smtp, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_doubles_leading_periods_and_ends_with_a_lone_period() {
        let block = |s: &str| DataBlock(s).to_string();
        assert_eq!(block("a\r\nb\r\n"), "a\r\nb\r\n.\r\n");
        assert_eq!(block("a\r\nb"), "a\r\nb\r\n.\r\n");
        assert_eq!(
            block(".a\r\n.\r\n..b\r\nc.d"),
            "..a\r\n..\r\n...b\r\nc.d\r\n.\r\n"
        );
        assert_eq!(block("é\r\n.é"), "é\r\n..é\r\n.\r\n");
        assert_eq!(block(""), ".\r\n");
    }
}
