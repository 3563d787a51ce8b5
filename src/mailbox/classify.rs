//! What a message that came back is: a bounce (RFC 3464 delivery status notification, or a
//! non-standard one sent to our bounce address), a complaint (RFC 5965 feedback report), an
//! unsubscribe request sent to the `mailto:` of List-Unsubscribe, or something we do not act on.
//! MIME is parsed by mail-parser; only the small `Name: value` blocks inside reports
//! (message/delivery-status, message/feedback-report, text/rfc822-headers) are read here.
//!
//! Nothing here trusts the message: the delivery concerned is taken from a signed token (the
//! VERP bounce address, the unsubscribe token of List-Unsubscribe quoted in a returned message,
//! the token in an unsubscribe subject); a Message-ID alone is not signed, so the caller only
//! accepts it when the address reported is the delivery's own.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::incoming;
use crate::campaigns::links;
use crate::conversations::Incoming;

/// How much of a text part is searched for status codes (non-standard bounces).
const TEXT_SCAN_BYTES: usize = 64 * 1024;
/// Parts looked at in one message.
const MAX_PARTS: usize = 200;

/// Which delivery a report is about, and how we know.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reference {
    /// From a signed token: certain.
    pub delivery: Option<i64>,
    /// The original Message-ID quoted by the report (not signed).
    pub message_id: Option<String>,
    /// The address the report names (Final-Recipient, Original-Rcpt-To), lower-cased.
    pub recipient: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A failed or delayed delivery. `status` is the enhanced status code (or SMTP reply code)
    /// found; `permanent` for 5.x.x.
    Bounce {
        reference: Reference,
        status: String,
        permanent: bool,
    },
    /// A spam complaint (`Feedback-Type: abuse`).
    Complaint { reference: Reference },
    /// An unsubscribe request carrying a valid token for this delivery.
    Unsubscribe { delivery: i64 },
    /// A message written to us: a doctor's answer, an automatic answer, a calendar answer.
    Message(Box<Incoming>),
    /// Nothing we act on; the reason, in French, for the record.
    Unrecognised(&'static str),
}

/// What tells our messages apart.
pub struct Keys<'a> {
    pub secret: &'a [u8],
    /// The local part of the bounce address (`bounce` in `bounce+TOKEN@…`).
    pub bounce_local: &'a str,
    /// The local part of the conversation address (`recrutement` in `recrutement+TOKEN@…`);
    /// empty when conversations are not read.
    pub reply_local: &'a str,
}

/// Classifies one raw message. `Err` when it cannot be parsed at all.
pub fn classify(raw: &[u8], keys: &Keys<'_>) -> Result<Verdict, String> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| "aucun en-tête lisible".to_owned())?;
    if message.parts.len() > MAX_PARTS {
        return Ok(Verdict::Unrecognised("trop de parties"));
    }
    let verp = verp_delivery(&message, keys);
    let report_type = message
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    match report_type.as_deref() {
        Some("delivery-status") | Some("global-delivery-status") => {
            return Ok(delivery_status(&message, keys, verp));
        }
        Some("feedback-report") => return Ok(feedback_report(&message, keys, verp)),
        _ => {}
    }
    if let Some(delivery) = unsubscribe_subject(&message, keys) {
        return Ok(Verdict::Unsubscribe { delivery });
    }
    if let Some(delivery) = verp {
        if let bounce @ Verdict::Bounce { .. } = non_standard_bounce(&message, delivery) {
            return Ok(bounce);
        }
    }
    // Written to us: a person's answer, or an automatic one (out of office), or a calendar
    // answer. Whose it is, the caller decides from what it holds.
    Ok(Verdict::Message(Box::new(incoming::read(
        &message,
        keys.secret,
        keys.reply_local,
    ))))
}

/// The delivery named by our bounce address among the headers saying where the message was
/// sent (To, Delivered-To, X-Original-To, Envelope-To, Received … for).
fn verp_delivery(message: &Message<'_>, keys: &Keys<'_>) -> Option<i64> {
    let wanted = [
        "to",
        "delivered-to",
        "x-original-to",
        "envelope-to",
        "x-envelope-to",
        "original-recipient",
        "received",
    ];
    message
        .headers_raw()
        .filter(|(name, _)| wanted.iter().any(|w| name.eq_ignore_ascii_case(w)))
        .find_map(|(_, value)| bounce_token_in(value, keys))
}

/// A valid bounce token after `LOCAL+` in `text`.
fn bounce_token_in(text: &str, keys: &Keys<'_>) -> Option<i64> {
    incoming::token_after(text, keys.bounce_local, |t| {
        links::verify_bounce(keys.secret, t)
    })
}

/// A valid unsubscribe token after `/desinscription/` (a List-Unsubscribe URL) in `text`.
fn unsubscribe_token_in(text: &str, keys: &Keys<'_>, marker: &str) -> Option<i64> {
    let mut from = 0;
    while let Some(at) = text[from..].find(marker) {
        let start = from + at + marker.len();
        let token: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .take(80)
            .collect();
        if let Some(id) = links::verify(keys.secret, links::Purpose::Unsubscribe, &token) {
            return Some(id);
        }
        from = start;
    }
    None
}

/// The token of an unsubscribe request: the subject is `desinscription-TOKEN` (possibly
/// after « Re: » or similar).
fn unsubscribe_subject(message: &Message<'_>, keys: &Keys<'_>) -> Option<i64> {
    let subject = message.subject()?;
    unsubscribe_token_in(subject, keys, "desinscription-")
}

/// `Name: value` fields of a header-like block (continuation lines folded), names
/// lower-cased. Stops at the first empty line.
fn fields(block: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                if last.1.len() < 4096 {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            if out.len() >= 200 {
                break;
            }
            out.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    out
}

/// The blocks of a report body, separated by empty lines.
fn blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let normalised = text.replace("\r\n", "\n");
    normalised
        .split("\n\n")
        .map(fields)
        .filter(|b| !b.is_empty())
        .take(100)
        .collect()
}

fn field<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// « rfc822; Claire@Example.org » → « claire@example.org ».
fn address_field(value: &str) -> Option<String> {
    let address = value
        .split_once(';')
        .map_or(value, |(_, a)| a)
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (address.contains('@') && address.len() <= 320 && !address.contains(char::is_whitespace))
        .then(|| address.to_lowercase())
}

/// An enhanced status code (RFC 3463) at the start of `text`: « 5.1.1 » → ("5.1.1", true).
fn status_code(text: &str) -> Option<(String, bool)> {
    let code: String = text
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let parts: Vec<&str> = code.split('.').collect();
    if parts.len() != 3
        || !matches!(parts[0], "2" | "4" | "5")
        || !(1..=3).contains(&parts[1].len())
        || !(1..=3).contains(&parts[2].len())
    {
        return None;
    }
    Some((code.clone(), parts[0] == "5"))
}

/// The body of a part as text (report parts are ASCII; anything else is read leniently).
fn part_text<'a>(part: &'a mail_parser::MessagePart<'a>) -> std::borrow::Cow<'a, str> {
    match &part.body {
        PartType::Text(t) | PartType::Html(t) => std::borrow::Cow::Borrowed(t.as_ref()),
        PartType::Binary(b) | PartType::InlineBinary(b) => String::from_utf8_lossy(b),
        _ => std::borrow::Cow::Borrowed(""),
    }
}

fn is_type(part: &mail_parser::MessagePart<'_>, ctype: &str, subtypes: &[&str]) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case(ctype)
            && ct
                .subtype()
                .is_some_and(|s| subtypes.iter().any(|w| s.eq_ignore_ascii_case(w)))
    })
}

/// What the returned original message (message/rfc822, or only its headers) tells: its
/// Message-ID and the delivery its List-Unsubscribe or Return-Path token names.
fn returned_original(message: &Message<'_>, keys: &Keys<'_>) -> (Option<String>, Option<i64>) {
    for part in message.parts.iter().skip(1) {
        if let PartType::Message(inner) = &part.body {
            let delivery = inner.headers_raw().find_map(|(name, value)| {
                match name.to_ascii_lowercase().as_str() {
                    "list-unsubscribe" => unsubscribe_token_in(value, keys, "/desinscription/"),
                    "return-path" => bounce_token_in(value, keys),
                    _ => None,
                }
            });
            return (inner.message_id().map(bracketed), delivery);
        }
        if is_type(part, "text", &["rfc822-headers"])
            || is_type(part, "message", &["rfc822-headers", "global-headers"])
        {
            let text = part_text(part);
            let fields = fields(&text);
            let delivery = fields.iter().find_map(|(name, value)| match name.as_str() {
                "list-unsubscribe" => unsubscribe_token_in(value, keys, "/desinscription/"),
                "return-path" => bounce_token_in(value, keys),
                _ => None,
            });
            let id = field(&fields, "message-id")
                .map(|v| v.trim_start_matches('<').trim_end_matches('>').trim())
                .filter(|v| !v.is_empty() && v.len() <= 250)
                .map(bracketed);
            return (id, delivery);
        }
    }
    (None, None)
}

/// « x@y » or « <x@y> » → « <x@y> », the form deliveries.message_id keeps.
fn bracketed(id: &str) -> String {
    format!(
        "<{}>",
        id.trim().trim_start_matches('<').trim_end_matches('>')
    )
}

fn delivery_status(message: &Message<'_>, keys: &Keys<'_>, verp: Option<i64>) -> Verdict {
    let Some(report) = message
        .parts
        .iter()
        .skip(1)
        .find(|p| is_type(p, "message", &["delivery-status", "global-delivery-status"]))
    else {
        return Verdict::Unrecognised("rapport de remise sans partie delivery-status");
    };
    let text = part_text(report);
    // The first block is about the message (Reporting-MTA); the others, one per recipient.
    let recipients = blocks(&text);
    let failing = recipients.iter().skip(1).find_map(|block| {
        let action = field(block, "action")?.to_ascii_lowercase();
        let (code, permanent) = field(block, "status").and_then(status_code)?;
        match action.as_str() {
            "failed" if code.starts_with('5') || code.starts_with('4') => {
                Some((block, code, permanent))
            }
            "delayed" if code.starts_with('4') => Some((block, code, false)),
            _ => None,
        }
    });
    let Some((block, status, permanent)) = failing else {
        return Verdict::Unrecognised("avis de remise sans échec");
    };
    let recipient = field(block, "final-recipient")
        .or_else(|| field(block, "original-recipient"))
        .and_then(address_field);
    let (message_id, token) = returned_original(message, keys);
    Verdict::Bounce {
        reference: Reference {
            delivery: verp.or(token),
            message_id,
            recipient,
        },
        status,
        permanent,
    }
}

fn feedback_report(message: &Message<'_>, keys: &Keys<'_>, verp: Option<i64>) -> Verdict {
    let Some(report) = message
        .parts
        .iter()
        .skip(1)
        .find(|p| is_type(p, "message", &["feedback-report"]))
    else {
        return Verdict::Unrecognised("rapport de plainte sans partie feedback-report");
    };
    let text = part_text(report);
    let fields = fields(&text);
    let kind = field(&fields, "feedback-type").map(str::to_ascii_lowercase);
    if kind.as_deref() != Some("abuse") {
        return Verdict::Unrecognised("rapport de plainte d'un autre type qu'« abuse »");
    }
    let recipient = field(&fields, "original-rcpt-to").and_then(address_field);
    let (message_id, token) = returned_original(message, keys);
    Verdict::Complaint {
        reference: Reference {
            delivery: verp.or(token),
            message_id,
            recipient,
        },
    }
}

/// A message sent to our bounce address without a delivery-status report: some servers
/// (older Exchange, some hosted mail) say what happened only in words. We act only on an
/// enhanced status code (5.x.x / 4.x.x) or an SMTP reply (5xx / 4xx followed by text) in the
/// text, and never on an automatic answer (out of office) which also comes to this address.
fn non_standard_bounce(message: &Message<'_>, delivery: i64) -> Verdict {
    if incoming::is_automatic(message)
        && !message
            .header_raw("Auto-Submitted")
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("auto-generated"))
    {
        return Verdict::Unrecognised("réponse automatique");
    }
    let mut text = String::new();
    for part in message.text_bodies().take(4) {
        let t = part_text(part);
        let end = t.len().min(TEXT_SCAN_BYTES);
        let end = (0..=end)
            .rev()
            .find(|i| t.is_char_boundary(*i))
            .unwrap_or(0);
        text.push_str(&t[..end]);
        text.push('\n');
    }
    match codes_in_text(&text) {
        Some((status, permanent)) => Verdict::Bounce {
            reference: Reference {
                delivery: Some(delivery),
                ..Reference::default()
            },
            status,
            permanent,
        },
        None => Verdict::Unrecognised("message à l'adresse de rebond sans code d'erreur"),
    }
}

/// The first failure code in a bounce's text: an enhanced status code « 5.1.1 » standing
/// alone, else an SMTP reply « 550 » / « 550-5.1.1 » / « 452 » at a line start or after
/// « said: » / « : ». 5xx wins over 4xx only by coming first.
pub fn codes_in_text(text: &str) -> Option<(String, bool)> {
    let bytes = text.as_bytes();
    // Enhanced codes first: the most precise.
    for (i, _) in text.match_indices(['4', '5']) {
        let before_ok = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.');
        if !before_ok {
            continue;
        }
        if let Some((code, permanent)) = status_code(&text[i..]) {
            let after = bytes.get(i + code.len());
            let after_ok = after.is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'.'));
            if after_ok && !code.starts_with('2') {
                return Some((code, permanent));
            }
        }
    }
    for line in text.lines() {
        let line = line.trim_start();
        let candidates = std::iter::once(line).chain(
            ["said:", "said :", "a répondu :", "réponse :"]
                .iter()
                .filter_map(|m| line.find(m).map(|at| line[at + m.len()..].trim_start())),
        );
        for c in candidates {
            let b = c.as_bytes();
            if b.len() >= 5
                && matches!(b[0], b'4' | b'5')
                && b[1].is_ascii_digit()
                && b[2].is_ascii_digit()
                && matches!(b[3], b' ' | b'-')
                && b[4].is_ascii_alphanumeric()
            {
                return Some((c[..3].to_owned(), b[0] == b'5'));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a secret for the classification tests";

    fn keys() -> Keys<'static> {
        Keys {
            secret: SECRET,
            bounce_local: "bounce",
            reply_local: "recrutement",
        }
    }

    #[test]
    fn codes_are_found_conservatively() {
        assert_eq!(
            codes_in_text("Remote server said: 550 5.1.1 User unknown"),
            Some(("5.1.1".into(), true))
        );
        assert_eq!(
            codes_in_text("host mx said: 452 mailbox full"),
            Some(("452".into(), false))
        );
        assert_eq!(
            codes_in_text("Status 4.2.2 (quota)"),
            Some(("4.2.2".into(), false))
        );
        // Versions, dates, amounts and phone numbers are not codes.
        assert_eq!(codes_in_text("Version 5.1.12.3 du logiciel"), None);
        assert_eq!(codes_in_text("Je suis absent jusqu'au 5.12"), None);
        assert_eq!(codes_in_text("Appelez le 05 62 67 40 40"), None);
        assert_eq!(codes_in_text("Tarif : 550 euros"), None);
        assert_eq!(codes_in_text(""), None);
    }

    #[test]
    fn report_fields_fold_and_stop_at_the_blank_line() {
        let b = blocks(
            "Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822;\r\n  Claire@Example.ORG\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        );
        assert_eq!(b.len(), 2);
        assert_eq!(
            field(&b[1], "final-recipient").and_then(address_field),
            Some("claire@example.org".into())
        );
        assert_eq!(
            field(&b[1], "status").and_then(status_code),
            Some(("5.1.1".into(), true))
        );
        assert_eq!(address_field("rfc822; not an address"), None);
    }

    #[test]
    fn a_message_with_our_token_in_its_subject_is_an_unsubscribe_request() {
        let token = links::token(SECRET, links::Purpose::Unsubscribe, 77);
        let raw = format!(
            "From: a@example.org\r\nTo: desinscription@vocation.test\r\nSubject: desinscription-{token}\r\n\r\n\r\n"
        );
        assert_eq!(
            classify(raw.as_bytes(), &keys()),
            Ok(Verdict::Unsubscribe { delivery: 77 })
        );
        // A forged or altered token does nothing.
        let forged = links::token(b"another key", links::Purpose::Unsubscribe, 77);
        let raw = format!("From: a@example.org\r\nSubject: desinscription-{forged}\r\n\r\nx");
        assert!(matches!(
            classify(raw.as_bytes(), &keys()),
            Ok(Verdict::Message(m)) if m.conversation.is_none()
        ));
    }

    #[test]
    fn an_out_of_office_to_the_bounce_address_is_not_a_bounce() {
        let address = links::bounce_address("bounce", "vocation.test", SECRET, 5);
        let raw = format!(
            "From: a@example.org\r\nTo: {address}\r\nAuto-Submitted: auto-replied\r\nSubject: Absent\r\n\r\nJe suis absent. Erreur 550 5.1.1 dans mon texte.\r\n"
        );
        assert!(matches!(
            classify(raw.as_bytes(), &keys()),
            Ok(Verdict::Message(m)) if m.automatic
        ));
        let raw = format!(
            "From: MAILER-DAEMON@example.org\r\nTo: {address}\r\nSubject: Undeliverable\r\n\r\nThe server said: 550 5.1.1 no such user\r\n"
        );
        assert!(matches!(
            classify(raw.as_bytes(), &keys()),
            Ok(Verdict::Bounce {
                permanent: true,
                reference: Reference {
                    delivery: Some(5),
                    ..
                },
                ..
            })
        ));
    }

    #[test]
    fn garbage_is_never_a_panic() {
        let mut seed = 12345u64;
        for len in [0usize, 1, 7, 100, 5000] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 33) as u8
                })
                .collect();
            let _ = classify(&bytes, &keys());
        }
        let deep = "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n".repeat(5000);
        let _ = classify(deep.as_bytes(), &keys());
    }
}
