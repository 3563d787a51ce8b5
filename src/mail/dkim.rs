//! DKIM signatures (RFC 6376) over a message's final wire bytes: RSA-SHA256, relaxed/relaxed
//! canonicalisation, through OpenSSL (about twice as fast per signature as the pure-Rust RSA of
//! lettre's own DKIM). [`verify`] checks a signature with the public key.
//!
//! Signing the bytes that are sent (what `Message::formatted()` returns) means the signature
//! covers exactly what the relay receives. The `DKIM-Signature` header is written with the
//! tags in the order lettre writes them (`v a d s c q t h bh b`), so the two produce the same
//! signature for the same message and time (the unit tests check it).

use openssl::base64;
use openssl::hash::MessageDigest;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl::sha::sha256;
use openssl::sign::{Signer, Verifier};

/// The headers campaign mail signed before [`SIGNED_HEADERS`] (the unit tests compare our
/// signer with lettre's over them; lettre does not oversign).
pub const CAMPAIGN_HEADERS: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
];

/// The headers every outgoing message is signed over (campaigns and single e-mails alike).
/// Those a message lacks count as empty (RFC 6376 §5.4), so they cannot be added later
/// without breaking the signature. From, Subject and the two List-Unsubscribe headers are
/// listed once more than a message carries them (oversigned, §8.15): a second copy added by
/// anyone on the way breaks the signature too.
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "From",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Unsubscribe-Post",
    "List-Id",
    "Auto-Submitted",
    "Precedence",
];

/// Below this, receivers ignore the signature (RFC 8301).
const MIN_BITS: u32 = 1024;
/// The name as written on the wire.
const HEADER: &str = "DKIM-Signature";
/// Lines of the signature header are folded before this length where they can be.
const LINE: usize = 78;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DkimError {
    #[error(
        "clé privée DKIM illisible : il faut une clé RSA non chiffrée au format PEM, PKCS#1 \
         (« BEGIN RSA PRIVATE KEY ») ou PKCS#8 (« BEGIN PRIVATE KEY »)"
    )]
    UnreadableKey,
    #[error("la clé privée DKIM n'est pas une clé RSA")]
    NotRsa,
    #[error("clé privée DKIM trop courte : {0} bits, il en faut au moins 1024 (2048 conseillés)")]
    KeyTooShort(u32),
    #[error(
        "{field} DKIM invalide : « {value} » (lettres, chiffres, points, tirets et _ seulement)"
    )]
    BadName { field: &'static str, value: String },
    #[error("nom d'en-tête à signer invalide : « {0} »")]
    BadHeaderName(String),
    #[error("la liste des en-têtes signés par DKIM doit comprendre From")]
    FromNotSigned,
    #[error("signature DKIM impossible : {0}")]
    Crypto(String),
    #[error("le message n'a pas d'en-tête DKIM-Signature")]
    NoSignature,
    #[error("en-tête DKIM-Signature mal formé : {0}")]
    Malformed(String),
    #[error("en-tête DKIM-Signature non pris en charge : {0}")]
    Unsupported(String),
    #[error("empreinte du corps (bh=) différente : le corps a été modifié")]
    BodyHashMismatch,
    #[error(
        "signature (b=) invalide : les en-têtes signés ont été modifiés ou la clé ne correspond \
         pas"
    )]
    BadSignature,
}

impl From<openssl::error::ErrorStack> for DkimError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        DkimError::Crypto(e.to_string())
    }
}

/// An RSA key with the signing domain, the selector and the headers to sign; loaded once.
pub struct DkimSigner {
    key: PKey<Private>,
    domain: String,
    selector: String,
    /// Lower-case names, in the order of `h=`.
    headers: Vec<String>,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl DkimSigner {
    /// Reads an RSA private key in PEM (PKCS#1 or PKCS#8, unencrypted). `headers` are the header
    /// names to sign, in order; all of them go into `h=`, even those a message lacks (they then
    /// count as empty, RFC 6376 §5.4, which also keeps anyone from adding them later).
    pub fn from_pem(
        pem: &[u8],
        selector: &str,
        domain: &str,
        headers: &[&str],
    ) -> Result<DkimSigner, DkimError> {
        check_name("sélecteur", selector)?;
        check_name("domaine", domain)?;
        let mut names = Vec::with_capacity(headers.len());
        for h in headers {
            let valid = !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic() && b != b':');
            if !valid {
                return Err(DkimError::BadHeaderName((*h).to_owned()));
            }
            names.push(h.to_ascii_lowercase());
        }
        if !names.iter().any(|h| h == "from") {
            return Err(DkimError::FromNotSigned);
        }
        // With an empty passphrase an encrypted key fails instead of prompting on a terminal.
        let key = PKey::private_key_from_pem_passphrase(pem, b"")
            .map_err(|_| DkimError::UnreadableKey)?;
        if key.id() != Id::RSA {
            return Err(DkimError::NotRsa);
        }
        if key.bits() < MIN_BITS {
            return Err(DkimError::KeyTooShort(key.bits()));
        }
        Ok(DkimSigner {
            key,
            domain: domain.to_owned(),
            selector: selector.to_owned(),
            headers: names,
        })
    }

    /// The TXT record to publish at `<selector>._domainkey.<domain>`.
    pub fn dns_record(&self) -> Result<String, DkimError> {
        let public = self.key.public_key_to_der()?;
        Ok(format!(
            "v=DKIM1; k=rsa; p={}",
            base64::encode_block(&public)
        ))
    }

    /// Signs a message's wire bytes (CRLF lines, headers, blank line, body) at `timestamp`
    /// (seconds since 1970) and returns them with a `DKIM-Signature` header in front.
    pub fn sign(&self, message: &[u8], timestamp: u64) -> Result<Vec<u8>, DkimError> {
        let (section, body) = split(message);
        let body_hash = body_hash(body);
        let head = self.header_without_signature(timestamp, &body_hash);

        let mut hashed = Vec::with_capacity(section.len() + head.len());
        signed_fields(&fields(section), &self.headers, &mut hashed);
        canonical_field(head.as_bytes(), &mut hashed);
        hashed.truncate(hashed.len() - 2); // the signature header goes without its CRLF

        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        signer.update(&hashed)?;
        let signature = base64::encode_block(&signer.sign_to_vec()?);

        let mut out = Vec::with_capacity(head.len() + signature.len() + 16 + message.len());
        out.extend_from_slice(head.as_bytes());
        // Fold the signature over lines; whitespace in b= is ignored (RFC 6376 §3.5).
        let last_line = head.len() - head.rfind('\n').map_or(0, |i| i + 1);
        let mut room = LINE.saturating_sub(last_line);
        let mut rest = signature.as_str();
        while !rest.is_empty() {
            if room < 8 {
                out.extend_from_slice(b"\r\n ");
                room = LINE - 1;
            }
            let (piece, tail) = rest.split_at(room.min(rest.len()));
            out.extend_from_slice(piece.as_bytes());
            rest = tail;
            room = 0;
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(message);
        Ok(out)
    }

    /// `DKIM-Signature: v=1; …; b=`, folded between tags, without CRLF.
    fn header_without_signature(&self, timestamp: u64, body_hash: &str) -> String {
        let tags = [
            "v=1".to_owned(),
            "a=rsa-sha256".to_owned(),
            format!("d={}", self.domain),
            format!("s={}", self.selector),
            "c=relaxed/relaxed".to_owned(),
            "q=dns/txt".to_owned(),
            format!("t={timestamp}"),
            format!("h={}", self.headers.join(":")),
            format!("bh={body_hash}"),
            "b=".to_owned(),
        ];
        let mut out = String::with_capacity(300);
        out.push_str(HEADER);
        out.push(':');
        let mut line = out.len();
        for (i, tag) in tags.iter().enumerate() {
            let last = i + 1 == tags.len();
            let width = tag.len() + usize::from(!last);
            if i > 0 && line + 1 + width > LINE {
                out.push_str("\r\n ");
                line = 1;
            } else {
                out.push(' ');
                line += 1;
            }
            out.push_str(tag);
            if !last {
                out.push(';');
            }
            line += width;
        }
        out
    }
}

fn check_name(field: &'static str, value: &str) -> Result<(), DkimError> {
    let valid = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if valid {
        Ok(())
    } else {
        Err(DkimError::BadName {
            field,
            value: value.to_owned(),
        })
    }
}

/// The `bh=` of a body: base64 of the SHA-256 of its relaxed canonical form.
pub fn body_hash(body: &[u8]) -> String {
    base64::encode_block(&sha256(&canonical_body(body)))
}

/// A verified signature's main tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub domain: String,
    pub selector: String,
    pub timestamp: Option<u64>,
    /// The `h=` names, lower-cased.
    pub headers: Vec<String>,
}

/// Checks the first `DKIM-Signature` of a message (wire bytes) with the signer's public key:
/// the body hash (`bh=`) against the body, and the signature (`b=`) over the signed headers.
/// Only what [`DkimSigner`] writes is supported: rsa-sha256, relaxed/relaxed, no `l=`.
pub fn verify<T: HasPublic>(message: &[u8], key: &PKeyRef<T>) -> Result<Verified, DkimError> {
    let (section, body) = split(message);
    let fields = fields(section);
    let field = *fields
        .iter()
        .find(|f| field_name(f).eq_ignore_ascii_case(HEADER.as_bytes()))
        .ok_or(DkimError::NoSignature)?;
    let value = std::str::from_utf8(&field[field_name_end(field) + 1..])
        .map_err(|_| DkimError::Malformed("octets non ASCII".into()))?;
    let tags = tags(value)?;
    let tag = |name: &str| {
        tags.iter()
            .find(|(t, _)| t == name)
            .map(|(_, v)| v.as_str())
    };
    let required = |name: &str| {
        tag(name).ok_or_else(|| DkimError::Malformed(format!("étiquette {name}= absente")))
    };
    if required("v")? != "1" {
        return Err(DkimError::Unsupported("version autre que v=1".into()));
    }
    let algorithm = required("a")?;
    if algorithm != "rsa-sha256" {
        return Err(DkimError::Unsupported(format!("algorithme a={algorithm}")));
    }
    let canonicalisation = tag("c").unwrap_or("simple/simple");
    if canonicalisation != "relaxed/relaxed" {
        return Err(DkimError::Unsupported(format!(
            "canonicalisation c={canonicalisation}"
        )));
    }
    if tag("l").is_some() {
        return Err(DkimError::Unsupported("longueur de corps l=".into()));
    }
    let headers: Vec<String> = required("h")?
        .split(':')
        .map(str::to_ascii_lowercase)
        .collect();
    if !headers.iter().any(|h| h == "from") {
        return Err(DkimError::Malformed("From n'est pas signé".into()));
    }
    let timestamp = match tag("t") {
        None => None,
        Some(t) => Some(
            t.parse()
                .map_err(|_| DkimError::Malformed(format!("t={t}")))?,
        ),
    };
    let decode = |name: &str| {
        base64::decode_block(required(name)?)
            .map_err(|_| DkimError::Malformed(format!("{name}= n'est pas en base64")))
    };
    let body_hash = decode("bh")?;
    let signature = decode("b")?;
    if body_hash != sha256(&canonical_body(body)) {
        return Err(DkimError::BodyHashMismatch);
    }

    let mut hashed = Vec::with_capacity(section.len());
    signed_fields(&fields, &headers, &mut hashed);
    canonical_field(&without_signature(field), &mut hashed);
    hashed.truncate(hashed.len() - 2);
    let mut verifier = Verifier::new(MessageDigest::sha256(), key)?;
    verifier.update(&hashed)?;
    // A signature of the wrong length is an error, not a `false`, for OpenSSL.
    if !verifier.verify(&signature).unwrap_or(false) {
        return Err(DkimError::BadSignature);
    }
    Ok(Verified {
        domain: required("d")?.to_owned(),
        selector: required("s")?.to_owned(),
        timestamp,
        headers,
    })
}

/// The tags of a tag list (RFC 6376 §3.2), in order, with all whitespace taken out of the
/// values (folding included). A repeated tag is an error.
pub fn tags(list: &str) -> Result<Vec<(String, String)>, DkimError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for spec in list.split(';') {
        if spec.trim().is_empty() {
            continue;
        }
        let (name, value) = spec
            .split_once('=')
            .ok_or_else(|| DkimError::Malformed(format!("« {} » sans =", spec.trim())))?;
        let name = name.trim().to_owned();
        if out.iter().any(|(n, _)| *n == name) {
            return Err(DkimError::Malformed(format!("étiquette {name}= répétée")));
        }
        let value = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        out.push((name, value));
    }
    Ok(out)
}

/// The header section (each field with its CRLF) and the body of wire bytes. With no blank
/// line, it is all headers.
fn split(message: &[u8]) -> (&[u8], &[u8]) {
    if let Some(body) = message.strip_prefix(b"\r\n") {
        return (&[], body);
    }
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&message[..i + 2], &message[i + 4..]),
        None => (message, &[]),
    }
}

/// The header fields of a section, each with its continuation lines and final CRLF.
fn fields(section: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(16);
    let mut start = 0;
    let mut i = 0;
    while i < section.len() {
        if i > start && !matches!(section[i], b' ' | b'\t') {
            out.push(&section[start..i]);
            start = i;
        }
        i = match section[i..].windows(2).position(|w| w == b"\r\n") {
            Some(end) => i + end + 2,
            None => section.len(),
        };
    }
    if start < section.len() {
        out.push(&section[start..]);
    }
    out
}

fn field_name_end(field: &[u8]) -> usize {
    field.iter().position(|&b| b == b':').unwrap_or(field.len())
}

/// The name of a field, without the whitespace that may precede its colon; empty for a line
/// without colon.
fn field_name(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == b':') {
        Some(colon) => field[..colon].trim_ascii_end(),
        None => &[],
    }
}

/// The fields named in `names`, relaxed-canonicalised, in that order. A name given twice takes
/// the next instance up from the bottom; a missing one adds nothing (RFC 6376 §5.4.2).
fn signed_fields(fields: &[&[u8]], names: &[String], out: &mut Vec<u8>) {
    let mut used = vec![false; fields.len()];
    for name in names {
        let found = (0..fields.len())
            .rev()
            .find(|&i| !used[i] && field_name(fields[i]).eq_ignore_ascii_case(name.as_bytes()));
        if let Some(i) = found {
            used[i] = true;
            canonical_field(fields[i], out);
        }
    }
}

/// Relaxed header canonicalisation (RFC 6376 §3.4.2) of one field: name in lower case, no
/// whitespace around the colon, value unfolded with runs of whitespace as one space and none at
/// either end; then CRLF.
fn canonical_field(field: &[u8], out: &mut Vec<u8>) {
    let colon = field_name_end(field);
    out.extend(field_name(field).iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    let mut space = false;
    let mut started = false;
    for &b in field.get(colon + 1..).unwrap_or_default() {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = started,
            _ => {
                if space {
                    out.push(b' ');
                    space = false;
                }
                started = true;
                out.push(b);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// A signature field with the value of its `b=` tag emptied (surrounding whitespace included).
fn without_signature(field: &[u8]) -> Vec<u8> {
    let colon = field_name_end(field);
    let mut out = field[..colon.min(field.len())].to_vec();
    out.push(b':');
    let value = field.get(colon + 1..).unwrap_or_default();
    for (i, spec) in value.split(|&b| b == b';').enumerate() {
        if i > 0 {
            out.push(b';');
        }
        let is_b = spec
            .iter()
            .position(|&b| b == b'=')
            .filter(|&eq| spec[..eq].trim_ascii() == b"b");
        match is_b {
            Some(eq) => out.extend_from_slice(&spec[..=eq]),
            None => out.extend_from_slice(spec),
        }
    }
    out
}

/// Relaxed body canonicalisation (RFC 6376 §3.4.4): in each line runs of whitespace become one
/// space and none is left at its end; empty lines at the end are dropped; a last line without
/// CRLF gets one.
fn canonical_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut empty_lines = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let (line, next) = match rest.windows(2).position(|w| w == b"\r\n") {
            Some(end) => (&rest[..end], &rest[end + 2..]),
            None => (rest, &[][..]),
        };
        rest = next;
        let line = line
            .iter()
            .rposition(|&b| !matches!(b, b' ' | b'\t'))
            .map_or(&line[..0], |last| &line[..=last]);
        if line.is_empty() {
            empty_lines += 1;
            continue;
        }
        for _ in 0..empty_lines {
            out.extend_from_slice(b"\r\n");
        }
        empty_lines = 0;
        let mut space = false;
        for &b in line {
            if matches!(b, b' ' | b'\t') {
                space = true;
            } else {
                if space {
                    out.push(b' ');
                    space = false;
                }
                out.push(b);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests;
