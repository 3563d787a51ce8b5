//! A message written to us (not a report): a doctor's answer, an automatic answer (out of
//! office), or an answer to a meeting invitation. What is kept of it is read here, bounded:
//! the sender, the subject, the text (HTML turned into text by mail-parser, never kept as
//! HTML), the Message-IDs it answers, its attachments, and the answer of an iCalendar REPLY.
//!
//! The candidate it belongs to is known for certain only from the signed token of the address
//! it was sent to (`recrutement+TOKEN@…`, the Reply-To of our mail and the ORGANIZER of our
//! invitations); the Message-IDs it quotes are not secret, so the caller accepts them only
//! when the sender is the candidate's own address.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use crate::campaigns::links;
use crate::conversations::{Attachment, CalendarAnswer, Incoming};

/// Longest text kept of a message, in bytes (the rest is cut at a character boundary, and
/// the cut is said).
pub const MAX_TEXT_BYTES: usize = 100 * 1024;
/// Attachments kept of one message, and the largest one.
pub const MAX_ATTACHMENTS: usize = 10;
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// Message-IDs kept from In-Reply-To and References.
const MAX_REFERENCES: usize = 30;
/// Longest calendar object read, and most components it may open.
const MAX_CALENDAR_BYTES: usize = 64 * 1024;
const MAX_CALENDAR_BEGINS: usize = 20;

/// Reads a raw message (for a message set aside and attached later by hand).
pub fn from_raw(raw: &[u8], secret: &[u8], reply_local: &str) -> Result<Incoming, String> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| "aucun en-tête lisible".to_owned())?;
    Ok(read(&message, secret, reply_local))
}

/// What a parsed message holds.
pub fn read(message: &Message<'_>, secret: &[u8], reply_local: &str) -> Incoming {
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .filter(|a| a.len() <= 320 && a.contains('@') && !a.contains(char::is_whitespace))
        .unwrap_or_default();
    let subject = one_line(message.subject().unwrap_or_default(), 300);
    let mut references: Vec<String> = Vec::new();
    // References first (the thread, oldest first), then In-Reply-To when not among them: the
    // order an answer's own References continues.
    for header in [message.references(), message.in_reply_to()] {
        for id in header.as_text_list().unwrap_or_default() {
            let id = id.trim().trim_start_matches('<').trim_end_matches('>');
            if id.is_empty() || id.len() > 250 || id.contains(char::is_whitespace) {
                continue;
            }
            let id = format!("<{id}>");
            if !references.contains(&id) && references.len() < MAX_REFERENCES {
                references.push(id);
            }
        }
    }
    let mut incoming = Incoming {
        conversation: conversation(message, secret, reply_local),
        from,
        subject,
        text: text_of(message),
        message_id: message
            .message_id()
            .map(|id| id.trim())
            .filter(|id| !id.is_empty() && id.len() <= 250)
            .map(|id| format!("<{id}>")),
        references,
        automatic: is_automatic(message),
        calendar: calendar_answer(message),
        ..Incoming::default()
    };
    for part in message.attachments() {
        // A calendar answer is read, not kept as a file.
        if is_calendar(part) {
            continue;
        }
        let bytes = part.contents();
        if bytes.is_empty() {
            continue;
        }
        if incoming.attachments.len() >= MAX_ATTACHMENTS || bytes.len() > MAX_ATTACHMENT_BYTES {
            incoming.attachments_left_out += 1;
            continue;
        }
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_owned())
            .to_ascii_lowercase();
        let name = part
            .attachment_name()
            .map(crate::documents::display_name)
            .unwrap_or_else(|| "piece-jointe".to_owned());
        incoming.attachments.push(Attachment {
            name,
            content_type: one_line(&content_type, 100),
            bytes: bytes.to_vec(),
        });
    }
    incoming
}

/// Text on one line, without control characters, at most `max` characters.
fn one_line(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The candidate of a valid conversation token after `LOCAL+` in the headers saying where the
/// message was sent.
fn conversation(message: &Message<'_>, secret: &[u8], reply_local: &str) -> Option<i64> {
    if reply_local.is_empty() {
        return None;
    }
    let wanted = [
        "to",
        "cc",
        "delivered-to",
        "x-original-to",
        "envelope-to",
        "x-envelope-to",
    ];
    message
        .headers_raw()
        .filter(|(name, _)| wanted.iter().any(|w| name.eq_ignore_ascii_case(w)))
        .take(50)
        .find_map(|(_, value)| {
            token_after(value, reply_local, |t| {
                links::verify_conversation(secret, t)
            })
        })
}

/// The first token after `LOCAL+` in `text` (any case; at most 80 characters of letters,
/// digits and dots) that `verify` accepts: how our signed addresses (`bounce+…`,
/// `recrutement+…`) are found in the headers of what comes back.
pub(super) fn token_after(
    text: &str,
    local: &str,
    verify: impl Fn(&str) -> Option<i64>,
) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let needle = format!("{}+", local.to_ascii_lowercase());
    let mut from = 0;
    while let Some(at) = lower[from..].find(&needle) {
        let start = from + at + needle.len();
        let token: String = lower[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
            .take(80)
            .collect();
        if let Some(id) = verify(&token) {
            return Some(id);
        }
        from = start;
    }
    None
}

/// RFC 3834's Auto-Submitted (anything but « no »), and the signs the usual programs leave on
/// their out-of-office answers.
pub fn is_automatic(message: &Message<'_>) -> bool {
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    if header("Auto-Submitted").is_some_and(|v| !v.is_empty() && !v.starts_with("no")) {
        return true;
    }
    if header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || header("X-Autoreply-From").is_some()
        || header("X-Mail-Autoreply").is_some()
    {
        return true;
    }
    if header("Precedence").is_some_and(|v| matches!(v.as_str(), "auto_reply" | "bulk" | "junk")) {
        return true;
    }
    if header("X-Auto-Response-Suppress").is_some_and(|v| v.contains("all") || v.contains("oof"))
        && header("X-MS-Exchange-Inbox-Rules-Loop").is_some()
    {
        return true;
    }
    let subject = message.subject().unwrap_or_default().to_lowercase();
    [
        "réponse automatique",
        "reponse automatique",
        "automatic reply",
        "auto-reply",
        "autoreply",
        "out of office",
        "absence du bureau",
        "message d'absence",
        "je suis absent",
    ]
    .iter()
    .any(|sign| subject.contains(sign))
}

/// The text of the message: its first text part, or its HTML part turned into text; cut past
/// [`MAX_TEXT_BYTES`].
fn text_of(message: &Message<'_>) -> String {
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let text = text.replace("\r\n", "\n");
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.len() <= MAX_TEXT_BYTES {
        return trimmed.to_owned();
    }
    let end = (0..=MAX_TEXT_BYTES)
        .rev()
        .find(|i| trimmed.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}\n[…] (message coupé : trop long)", &trimmed[..end])
}

fn is_calendar(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        (ct.ctype().eq_ignore_ascii_case("text") || ct.ctype().eq_ignore_ascii_case("application"))
            && ct.subtype().is_some_and(|s| {
                s.eq_ignore_ascii_case("calendar") || s.eq_ignore_ascii_case("ics")
            })
    })
}

/// The answer of an iCalendar REPLY in any part of the message.
fn calendar_answer(message: &Message<'_>) -> Option<CalendarAnswer> {
    message
        .parts
        .iter()
        .filter(|p| is_calendar(p))
        .take(4)
        .find_map(|part| {
            let text = match &part.body {
                PartType::Text(t) => t.to_string(),
                PartType::Binary(b) | PartType::InlineBinary(b) => {
                    String::from_utf8_lossy(b).into_owned()
                }
                _ => return None,
            };
            reply_in(&text)
        })
}

/// Reads an iCalendar REPLY: its event's UID and the attendee's PARTSTAT. Bounded before the
/// parser sees it (size and number of components).
pub fn reply_in(text: &str) -> Option<CalendarAnswer> {
    if text.len() > MAX_CALENDAR_BYTES || text.matches("BEGIN:").count() > MAX_CALENDAR_BEGINS {
        return None;
    }
    let unfolded = icalendar::parser::unfold(text);
    let calendar = icalendar::parser::read_calendar(&unfolded).ok()?;
    let method = calendar
        .properties
        .iter()
        .find(|p| p.name.as_str().eq_ignore_ascii_case("METHOD"))?;
    if !method.val.as_str().trim().eq_ignore_ascii_case("REPLY") {
        return None;
    }
    let event = calendar
        .components
        .iter()
        .find(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT"))?;
    let uid = event
        .find_prop("UID")
        .map(|p| p.val.as_str().trim().to_owned())
        .filter(|u| !u.is_empty() && u.len() <= 250)?;
    let attendee = event.find_prop("ATTENDEE")?;
    let partstat = attendee
        .params
        .iter()
        .find(|p| p.key.as_str().eq_ignore_ascii_case("PARTSTAT"))
        .and_then(|p| p.val.as_ref())
        .map(|v| v.as_str().trim().to_ascii_uppercase())?;
    let answer = match partstat.as_str() {
        "ACCEPTED" => "accepte",
        "DECLINED" => "refuse",
        "TENTATIVE" => "provisoire",
        _ => return None,
    };
    let address = attendee.val.as_str().trim();
    let address = address
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("mailto:"))
        .map_or(address, |_| &address[7..])
        .trim()
        .to_lowercase();
    Some(CalendarAnswer {
        uid,
        attendee: (address.contains('@') && address.len() <= 320).then_some(address),
        answer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret";

    fn parse(raw: &str) -> Incoming {
        from_raw(raw.as_bytes(), SECRET, "recrutement").unwrap()
    }

    #[test]
    fn a_reply_is_read_with_its_conversation_and_references() {
        let token = links::conversation_token(SECRET, 12);
        let raw = format!(
            "From: Claire Martin <Claire.Martin@Example.org>\r\n\
             To: CDS 32 <recrutement+{token}@cds32.test>\r\n\
             Subject: Re: Votre candidature\r\n\
             Message-ID: <abc@example.org>\r\n\
             In-Reply-To: <ours.1@cds32.test>\r\n\
             References: <first@cds32.test> <ours.1@cds32.test>\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n\
             Bonjour,\r\nje suis disponible mardi.\r\n"
        );
        let m = parse(&raw);
        assert_eq!(m.conversation, Some(12));
        assert_eq!(m.from, "claire.martin@example.org");
        assert_eq!(m.subject, "Re: Votre candidature");
        assert_eq!(m.text, "Bonjour,\nje suis disponible mardi.");
        assert_eq!(m.message_id.as_deref(), Some("<abc@example.org>"));
        assert_eq!(
            m.references,
            vec![
                "<first@cds32.test>".to_owned(),
                "<ours.1@cds32.test>".to_owned()
            ]
        );
        assert!(!m.automatic);
    }

    #[test]
    fn a_forged_or_other_purpose_token_names_no_candidate() {
        let bounce = links::bounce_token(SECRET, 12);
        let forged = links::conversation_token(b"another-secret", 12);
        for token in [bounce, forged, "12.0000".to_owned()] {
            let raw = format!(
                "From: x@example.org\r\nTo: recrutement+{token}@cds32.test\r\nSubject: a\r\n\r\nb\r\n"
            );
            assert_eq!(parse(&raw).conversation, None, "{token}");
        }
    }

    #[test]
    fn automatic_answers_are_recognised() {
        for headers in [
            "Auto-Submitted: auto-replied",
            "Auto-Submitted: auto-generated",
            "X-Autoreply: yes",
            "Precedence: auto_reply",
            "Subject: Réponse automatique : Votre candidature",
            "Subject: Automatic reply: Poste de médecin",
        ] {
            let raw = format!("From: x@example.org\r\n{headers}\r\n\r\nAbsent.\r\n");
            assert!(parse(&raw).automatic, "{headers}");
        }
        let raw = "From: x@example.org\r\nAuto-Submitted: no\r\nSubject: Re: poste\r\n\r\nOui\r\n";
        assert!(!parse(raw).automatic);
    }

    #[test]
    fn html_only_mail_becomes_text_and_long_text_is_cut() {
        let raw = "From: x@example.org\r\nContent-Type: text/html\r\n\r\n\
                   <p>Bonjour <script>alert(1)</script><b>docteur</b></p>\r\n";
        let m = parse(raw);
        assert!(!m.text.contains('<'), "{}", m.text);
        assert!(m.text.contains("docteur"));
        let long = format!("From: x@example.org\r\n\r\n{}\r\n", "é".repeat(80_000));
        let m = parse(&long);
        assert!(m.text.len() <= MAX_TEXT_BYTES + 100);
        assert!(m.text.ends_with("(message coupé : trop long)"));
    }

    #[test]
    fn attachments_are_kept_with_a_harmless_name_and_bounded_in_number() {
        let mut raw = String::from(
            "From: x@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nMon CV\r\n",
        );
        for i in 0..12 {
            raw.push_str(&format!(
                "--b\r\nContent-Type: application/pdf\r\n\
                 Content-Disposition: attachment; filename=\"../../etc/cv{i}.pdf\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
            ));
        }
        raw.push_str("--b--\r\n");
        let m = parse(&raw);
        assert_eq!(m.attachments.len(), MAX_ATTACHMENTS);
        assert_eq!(m.attachments_left_out, 2);
        assert_eq!(m.attachments[0].name, "cv0.pdf");
        assert_eq!(m.attachments[0].content_type, "application/pdf");
        assert_eq!(m.attachments[0].bytes, b"%PDF-1.4\n");
    }

    fn reply_ics(partstat: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Outlook//FR\r\nMETHOD:REPLY\r\n\
             BEGIN:VEVENT\r\nUID:rendez-vous-7.0123abcd@cds32.test\r\nSEQUENCE:0\r\n\
             DTSTAMP:20260101T100000Z\r\n\
             ATTENDEE;CN=Claire Martin;PARTSTAT={partstat}:mailto:Claire.Martin@example.org\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    #[test]
    fn calendar_replies_give_the_answer() {
        for (partstat, answer) in [
            ("ACCEPTED", "accepte"),
            ("DECLINED", "refuse"),
            ("TENTATIVE", "provisoire"),
        ] {
            let a = reply_in(&reply_ics(partstat)).unwrap();
            assert_eq!(a.uid, "rendez-vous-7.0123abcd@cds32.test");
            assert_eq!(a.attendee.as_deref(), Some("claire.martin@example.org"));
            assert_eq!(a.answer, answer);
        }
        assert_eq!(reply_in(&reply_ics("NEEDS-ACTION")), None);
        assert_eq!(
            reply_in(&reply_ics("ACCEPTED").replace("REPLY", "REQUEST")),
            None
        );
        // In a message, as Outlook sends it.
        let raw = format!(
            "From: Claire.Martin@example.org\r\nSubject: Accepté : Entretien\r\n\
             Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n{}",
            reply_ics("ACCEPTED")
        );
        assert_eq!(parse(&raw).calendar.unwrap().answer, "accepte");
    }

    #[test]
    fn hostile_calendars_are_bounded() {
        let deep = format!(
            "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n{}{}END:VCALENDAR\r\n",
            "BEGIN:VEVENT\r\n".repeat(10_000),
            "END:VEVENT\r\n".repeat(10_000)
        );
        assert_eq!(reply_in(&deep), None);
        assert_eq!(reply_in(&"X".repeat(200_000)), None);
        assert_eq!(reply_in("BEGIN:"), None);
        assert_eq!(reply_in("garbage\u{0}\u{1}"), None);
    }
}
