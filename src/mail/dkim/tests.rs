//! The DKIM signer's tests: signatures checked by lettre's own signer and by verification.

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;
use openssl::rsa::Rsa;
use openssl::symm::Cipher;

use super::*;

const CAMPAIGN: &[&str] = CAMPAIGN_HEADERS;

/// A fresh RSA-2048 key: PKCS#1 PEM and the key.
fn key() -> (String, PKey<Private>) {
    let rsa = Rsa::generate(2048).unwrap();
    let pem = String::from_utf8(rsa.private_key_to_pem().unwrap()).unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{pem}");
    (pem, PKey::from_rsa(rsa).unwrap())
}

fn mailbox(s: &str) -> Mailbox {
    s.parse().unwrap()
}

fn raw(name: &str, value: &str) -> HeaderValue {
    HeaderValue::new(
        HeaderName::new_from_ascii(name.to_owned()).unwrap(),
        value.to_owned(),
    )
}

/// The unfolded value of the first field of that name.
fn header(wire: &[u8], name: &str) -> Option<String> {
    let (section, _) = split(wire);
    fields(section)
        .into_iter()
        .find(|f| field_name(f).eq_ignore_ascii_case(name.as_bytes()))
        .map(|f| {
            let mut out = Vec::new();
            canonical_field(f, &mut out);
            let text = String::from_utf8(out).unwrap();
            text.split_once(':').unwrap().1.trim_end().to_owned()
        })
}

fn signature_tags(wire: &[u8]) -> Vec<(String, String)> {
    tags(&header(wire, HEADER).expect("a DKIM-Signature")).unwrap()
}

/// Signs `message` with lettre's DKIM and with ours at the time lettre wrote, checks the
/// two signatures are the same tag for tag, and that both verify. Returns our bytes.
fn same_as_lettre(message: &Message, headers: &[&str]) -> Vec<u8> {
    let (pem, key) = key();
    let config = DkimConfig::new(
        "campagne2027".to_owned(),
        "vocation.gers.fr".to_owned(),
        DkimSigningKey::new(&pem, DkimSigningAlgorithm::Rsa).unwrap(),
        headers
            .iter()
            .map(|h| HeaderName::new_from_ascii((*h).to_owned()).unwrap())
            .collect(),
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    );
    let mut by_lettre = message.clone();
    by_lettre.sign(&config);
    let by_lettre = by_lettre.formatted();
    let theirs = signature_tags(&by_lettre);
    let t: u64 = theirs
        .iter()
        .find(|(n, _)| n == "t")
        .unwrap()
        .1
        .parse()
        .unwrap();

    let signer =
        DkimSigner::from_pem(pem.as_bytes(), "campagne2027", "vocation.gers.fr", headers).unwrap();
    let wire = message.formatted();
    let ours = signer.sign(&wire, t).unwrap();
    assert!(
        ours.ends_with(&wire),
        "the message follows the signature unchanged"
    );
    assert!(ours.starts_with(b"DKIM-Signature: v=1; a=rsa-sha256;"));
    assert_eq!(signature_tags(&ours), theirs);

    let verified = verify(&ours, &key).unwrap();
    assert_eq!(verified.timestamp, Some(t));
    assert_eq!(verified.domain, "vocation.gers.fr");
    verify(&by_lettre, &key).expect("lettre's signature checks with our verifier");
    // The signature header's lines stay short (h= is one unbreakable word).
    let field = fields(split(&ours).0)[0];
    for line in field.split(|&b| b == b'\n') {
        assert!(line.len() <= 90, "{}", String::from_utf8_lossy(line));
    }
    ours
}

fn campaign_message() -> Message {
    Message::builder()
        .from(mailbox("Département du Gers <recrutement@vocation.gers.fr>"))
        .to(mailbox("Élodie Martin-Dupré <e.martin@example.fr>"))
        .subject("Recrutement : médecins généralistes salariés à Auch — été 2027, rejoignez nos centres de santé")
        .message_id(Some("<campagne.3.41@vocation.gers.fr>".to_owned()))
        .raw_header(raw(
            "List-Unsubscribe",
            "<https://vocation.gers.fr/desinscription/41.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA>, <mailto:desinscription@vocation.gers.fr?subject=desinscription-AAAAAAAAAAAAAAAA>",
        ))
        .raw_header(raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        .raw_header(raw("List-Id", "Internes 2027 <campagne-3.vocation.gers.fr>"))
        .multipart(MultiPart::alternative_plain_html(
            "Bonjour Docteur Martin-Dupré,\n\nLe département du Gers recrute des médecins généralistes salariés ; voici une très longue ligne qui dépasse largement soixante-seize caractères et sera coupée par quoted-printable.\n\nBien cordialement,\nL'équipe Vocation\n".to_owned(),
            "<p>Bonjour Docteur Martin-Dupré,</p>\n<p>Le département du Gers recrute des médecins généralistes salariés ; <a href=\"https://vocation.gers.fr/c/41.AAAA\">découvrir les postes</a>.</p>\n".to_owned(),
        ))
        .unwrap()
}

#[test]
fn a_campaign_message_is_signed_like_lettre_does() {
    let message = campaign_message();
    let wire = message.formatted();
    let text = String::from_utf8_lossy(&wire);
    assert!(
        text.contains("Subject: Recrutement : =?utf-8?b?"),
        "encoded word: {text}"
    );
    assert!(text.contains("?=\r\n =?utf-8?b?"), "folded subject: {text}");
    assert!(text.contains("multipart/alternative"), "{text}");
    assert!(text.contains("quoted-printable"), "{text}");
    assert!(text.contains("=\r\n"), "a soft line break: {text}");
    let ours = same_as_lettre(&message, CAMPAIGN);
    let h = &signature_tags(&ours)
        .into_iter()
        .find(|(n, _)| n == "h")
        .unwrap()
        .1;
    assert_eq!(
        h,
        "from:to:subject:date:message-id:list-unsubscribe:list-unsubscribe-post:list-id"
    );
}

#[test]
fn long_folded_headers_are_unfolded() {
    let message = Message::builder()
        .from(mailbox("Direction de l'autonomie et de la santé <sante@vocation.gers.fr>"))
        .to(mailbox("Jean-Baptiste de La Tour d'Auvergne <jb.delatour@hopital-exemple.fr>"))
        .to(mailbox("Marie-Hélène Castelnau-Barbarens <mh.castelnau@clinique-exemple.fr>"))
        .to(mailbox("Ana Souza <ana.souza@example.org>"))
        .subject("Une ligne d'objet assez longue pour que lettre la replie sur plusieurs lignes de quatre-vingts colonnes environ")
        .raw_header(raw(
            "List-Id",
            "Campagne d'été des internes en médecine générale de la faculté de Toulouse <campagne-12.vocation.gers.fr>",
        ))
        .body("Bonjour,\n".to_owned())
        .unwrap();
    let wire = message.formatted();
    let text = String::from_utf8_lossy(&wire);
    assert!(text.contains(",\r\n "), "a folded To: {text}");
    same_as_lettre(&message, CAMPAIGN);
}

#[test]
fn trailing_empty_lines_and_whitespace_in_the_body_are_canonicalised() {
    let message = Message::builder()
        .from(mailbox("recrutement@vocation.gers.fr"))
        .to(mailbox("a@example.fr"))
        .subject("Espaces")
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .header(ContentTransferEncoding::SevenBit)
                .body(
                    "Une ligne avec espaces   \nune\tavec  \t tabulations\t \n   indentee\n\
                     \n \t\nfin\n\n\n\n\n"
                        .to_owned(),
                ),
        )
        .unwrap();
    let wire = message.formatted();
    let text = String::from_utf8_lossy(&wire);
    assert!(text.contains("espaces   \r\n"), "{text}");
    assert!(text.ends_with("fin\r\n\r\n\r\n\r\n\r\n\r\n"), "{text:?}");
    same_as_lettre(&message, CAMPAIGN);
    let body = split(&wire).1;
    assert_eq!(
        canonical_body(body),
        b"Une ligne avec espaces\r\nune avec tabulations\r\n indentee\r\n\r\n\r\nfin\r\n"
    );
}

#[test]
fn headers_the_message_lacks_are_named_but_hash_as_nothing() {
    let message = Message::builder()
        .from(mailbox("recrutement@vocation.gers.fr"))
        .to(mailbox("a@example.fr"))
        .subject("Sans liste")
        .body("Bonjour\n".to_owned())
        .unwrap();
    let headers = [
        "From", "Reply-To", "To", "Subject", "List-Id", "X-Absent", "Date",
    ];
    let ours = same_as_lettre(&message, &headers);
    let another = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    assert_eq!(verify(&ours, &another), Err(DkimError::BadSignature));
    let h = signature_tags(&ours)
        .into_iter()
        .find(|(n, _)| n == "h")
        .unwrap()
        .1;
    assert_eq!(h, "from:reply-to:to:subject:list-id:x-absent:date");
}

#[test]
fn a_pkcs8_key_signs_the_same_as_its_pkcs1_form() {
    let (pkcs1, key) = key();
    let pkcs8 = key.private_key_to_pem_pkcs8().unwrap();
    assert!(pkcs8.starts_with(b"-----BEGIN PRIVATE KEY-----"));
    let wire = campaign_message().formatted();
    let a = DkimSigner::from_pem(pkcs1.as_bytes(), "s", "vocation.gers.fr", CAMPAIGN).unwrap();
    let b = DkimSigner::from_pem(&pkcs8, "s", "vocation.gers.fr", CAMPAIGN).unwrap();
    assert_eq!(a.sign(&wire, 1_800_000_000), b.sign(&wire, 1_800_000_000));
    let record = b.dns_record().unwrap();
    let der = base64::decode_block(record.strip_prefix("v=DKIM1; k=rsa; p=").unwrap()).unwrap();
    let public = PKey::public_key_from_der(&der).unwrap();
    verify(&b.sign(&wire, 1_800_000_000).unwrap(), &public).unwrap();
}

#[test]
fn altered_messages_fail_verification() {
    let (pem, key) = key();
    let signer = DkimSigner::from_pem(pem.as_bytes(), "s", "vocation.gers.fr", CAMPAIGN).unwrap();
    let signed = signer
        .sign(&campaign_message().formatted(), 1_800_000_000)
        .unwrap();
    verify(&signed, &key).unwrap();

    let text = String::from_utf8(signed.clone()).unwrap();
    let body_changed = text.replacen("Bonjour Docteur", "Bonjour docteur", 1);
    assert_eq!(
        verify(body_changed.as_bytes(), &key),
        Err(DkimError::BodyHashMismatch)
    );
    let list_id_changed = text.replacen("campagne-3.", "campagne-4.", 1);
    assert_eq!(
        verify(list_id_changed.as_bytes(), &key),
        Err(DkimError::BadSignature)
    );
    // Refolding a signed header and changing the case of its name is allowed (relaxed).
    let refolded = text.replacen(
        "List-Id: Internes 2027 <",
        "list-id :  Internes\r\n\t2027  <",
        1,
    );
    verify(refolded.as_bytes(), &key).unwrap();
    // h= names one List-Id, taken from the bottom (RFC 6376 §5.4.2): one added above the
    // signed one is not covered and the signature still holds; one added below takes the
    // signed one's place and breaks it.
    let added = text.replacen("List-Id:", "List-Id: <autre.exemple.fr>\r\nList-Id:", 1);
    verify(added.as_bytes(), &key).unwrap();
    let added_below = text.replacen(
        "List-Id: Internes 2027 <campagne-3.vocation.gers.fr>\r\n",
        "List-Id: Internes 2027 <campagne-3.vocation.gers.fr>\r\nList-Id: <autre.exemple.fr>\r\n",
        1,
    );
    assert_eq!(
        verify(added_below.as_bytes(), &key),
        Err(DkimError::BadSignature)
    );
    let unsigned = campaign_message().formatted();
    assert_eq!(verify(&unsigned, &key), Err(DkimError::NoSignature));
}

#[test]
fn canonicalisation_follows_the_examples_of_rfc_6376() {
    // RFC 6376 §3.4.5.
    let mut out = Vec::new();
    for field in fields(b"A: X\r\nB : Y\t\r\n\tZ  \r\n") {
        canonical_field(field, &mut out);
    }
    assert_eq!(out, b"a:X\r\nb:Y Z\r\n");
    assert_eq!(
        canonical_body(b" C \r\nD \t E\r\n\r\n\r\n"),
        b" C\r\nD E\r\n"
    );
    // An empty body stays empty; a last line without CRLF gets one.
    assert_eq!(canonical_body(b""), b"");
    assert_eq!(canonical_body(b"\r\n\r\n"), b"");
    assert_eq!(canonical_body(b"fin \t"), b"fin\r\n");
    assert_eq!(split(b"A: 1\r\n\r\nbody"), (&b"A: 1\r\n"[..], &b"body"[..]));
    assert_eq!(split(b"\r\nbody"), (&b""[..], &b"body"[..]));
}

#[test]
fn bad_keys_and_settings_get_clear_errors() {
    let garbage = DkimSigner::from_pem(
        b"-----BEGIN RSA PRIVATE KEY-----\nbm9u\n-----END RSA PRIVATE KEY-----\n",
        "s",
        "d.fr",
        CAMPAIGN,
    );
    let e = garbage.unwrap_err();
    assert_eq!(e, DkimError::UnreadableKey);
    let message = e.to_string();
    assert!(
        message.starts_with("clé privée DKIM illisible"),
        "{message}"
    );
    assert!(message.contains("BEGIN RSA PRIVATE KEY"), "{message}");
    assert_eq!(
        DkimSigner::from_pem(b"", "s", "d.fr", CAMPAIGN).unwrap_err(),
        DkimError::UnreadableKey
    );

    let (_, key) = key();
    let encrypted = key
        .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"secret")
        .unwrap();
    assert_eq!(
        DkimSigner::from_pem(&encrypted, "s", "d.fr", CAMPAIGN).unwrap_err(),
        DkimError::UnreadableKey
    );
    let ec = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let ec = PKey::from_ec_key(ec)
        .unwrap()
        .private_key_to_pem_pkcs8()
        .unwrap();
    assert_eq!(
        DkimSigner::from_pem(&ec, "s", "d.fr", CAMPAIGN).unwrap_err(),
        DkimError::NotRsa
    );
    let short = Rsa::generate(768).unwrap().private_key_to_pem().unwrap();
    let e = DkimSigner::from_pem(&short, "s", "d.fr", CAMPAIGN).unwrap_err();
    assert_eq!(e, DkimError::KeyTooShort(768));
    assert!(e.to_string().contains("768 bits"), "{e}");

    let pem = key.private_key_to_pem_pkcs8().unwrap();
    let e = DkimSigner::from_pem(&pem, "s; x=1", "d.fr", CAMPAIGN).unwrap_err();
    assert_eq!(
        e.to_string(),
        "sélecteur DKIM invalide : « s; x=1 » (lettres, chiffres, points, tirets et _ seulement)"
    );
    assert!(matches!(
        DkimSigner::from_pem(&pem, "s", "", CAMPAIGN),
        Err(DkimError::BadName {
            field: "domaine",
            ..
        })
    ));
    assert_eq!(
        DkimSigner::from_pem(&pem, "s", "d.fr", &["From", "Sub ject"]).unwrap_err(),
        DkimError::BadHeaderName("Sub ject".into())
    );
    assert_eq!(
        DkimSigner::from_pem(&pem, "s", "d.fr", &["To", "Subject"]).unwrap_err(),
        DkimError::FromNotSigned
    );
}
