//! Benchmark of reading the mailbox (issue 20): N mixed messages waiting in the INBOX of a real
//! Dovecot, read by one `vocation::mailbox::Reader` (connect, select, passes until every
//! message is processed and moved). Prints the messages per second, what the records say each
//! message was (`inbound_messages`), where the CPU went (this process, the Dovecot `imap`
//! process, the PostgreSQL backends of the bench database) and the peak resident memory
//! (VmHWM) for 1,000 messages and for N, each in a process of its own so that one peak does
//! not hide the other: memory must stay flat whatever the count. See BENCHMARKS.md.
//!
//! ```sh
//! cargo bench --bench mailbox
//! ```
//!
//! Environment: `BENCH_MESSAGES` (N, default 10000), `BENCH_SEED` (the mix, default 20),
//! `BENCH_ADMIN_URL` (default `postgres://postgres@localhost:5432/postgres`),
//! `BENCH_MOVE_PROBE` (messages moved each way by the probe after the reading, default 500; 0
//! skips it), `BENCH_DOVECOT_CONF` (lines added to Dovecot's configuration, e.g.
//! `maildir_very_dirty_syncs = yes`). Needs Dovecot
//! (`/usr/sbin/dovecot`, package dovecot-imapd), started here as an ordinary process on a free
//! port with its own configuration; no system service.
//!
//! Order of a run, in each child process: a fresh database (created, migrated by
//! `vocation::db::prepare`), one sent campaign run with N deliveries (unique addresses, each
//! with its contact) and N/20 candidates; the N messages written straight into the Maildir's
//! `cur/` before Dovecot starts (no IMAP APPEND: 10,000 APPENDs would take longer than the
//! reading); Dovecot started; the peak memory reset (`/proc/self/clear_refs`); the timed
//! reading; the checks (one record per message, all processed and moved, the INBOX empty, the
//! folders' counts those of the records, each kind as many as were written); the move probe
//! (what one UID MOVE costs Dovecot, one message at a time and 100 at a time, after the
//! reading and outside its time); Dovecot stopped and the database dropped.
//!
//! The mix, drawn with a seeded generator: 40 % RFC 3464 permanent bounces (5.1.1, Postfix
//! style) to the delivery's VERP address, 15 % temporary ones (4.2.2, Gmail style), 5 % ARF
//! abuse reports (found by the returned message's List-Unsubscribe token), 10 % unsubscribe
//! requests by mail (subject `desinscription-TOKEN`), 10 % out-of-office answers to the bounce
//! address, 15 % replies of doctors to `recrutement+TOKEN@…` (their conversation token; one in
//! three with a PDF of about 20 KB), 5 % garbage (text without headers, or binary junk).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use rand::{Rng, SeedableRng};
use secrecy::ExposeSecret;

#[path = "support/mod.rs"]
mod support;
use support::*;

/// The target of issue 20 on this 2-core machine.
const TARGET_MESSAGES_PER_SECOND: f64 = 200.0;

const CHILD_ENV: &str = "BENCH_MAILBOX_CHILD";
const DOVECOT: &str = "/usr/sbin/dovecot";
const USER: &str = "rebonds@vocation.test";
const PASSWORD: &str = "mot-de-passe-du-banc";
const DOMAIN: &str = "vocation.test";
/// A fixed date: the same messages from run to run.
const DATE: &str = "Mon, 7 Dec 2026 08:00:00 +0100";

// ---------------------------------------------------------------------------------------------
// The database.

impl BenchDatabase {
    fn create() -> BenchDatabase {
        let name = format!("vocation_bench_mailbox_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin())
            .expect("CREATE DATABASE");
        BenchDatabase { name }
    }
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Delivery {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    message_id: String,
}

#[derive(QueryableByName)]
struct KindCount {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    folder: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .expect(sql)
        .n
}

/// One sent campaign run of `n` deliveries (one contact each) and `candidates` candidates;
/// returns the deliveries and the candidates' ids.
fn seed(conn: &mut PgConnection, n: usize, candidates: usize) -> (Vec<Delivery>, Vec<i64>) {
    let id = |conn: &mut PgConnection, sql: &str| -> i64 {
        diesel::sql_query(sql).get_result::<Id>(conn).expect(sql).id
    };
    let template = id(
        conn,
        "INSERT INTO mail_templates (name, subject, body_text, body_html) VALUES \
         ('Banc de la boîte', 'Exercer dans le Gers', 'Bonjour {{prenom}},', '') RETURNING id",
    );
    let campaign = id(
        conn,
        &format!(
            "INSERT INTO campaigns (name, template_id, sender_name, sender_email, \
             rate_per_minute, schedule_kind, status) VALUES ('Banc de la boîte', {template}, \
             'Recrutement CDS32', 'recrutement@{DOMAIN}', 60000, 'maintenant', 'terminee') \
             RETURNING id"
        ),
    );
    let run = id(
        conn,
        &format!(
            "INSERT INTO campaign_runs (campaign_id, scheduled_for, status, recipients, \
             started_at, finished_at) VALUES ({campaign}, now(), 'termine', {n}, now(), now()) \
             RETURNING id"
        ),
    );
    for sql in [
        format!(
            "INSERT INTO contacts (email, first_name, last_name, kind, legal_basis, city) \
             SELECT 'medecin.' || i || '@exemple.fr', 'Hélène', 'Dupré ' || i, 'medecin', \
             'interet_legitime', 'Auch' FROM generate_series(1, {n}) i"
        ),
        format!(
            "INSERT INTO deliveries (run_id, contact_id, email, status, attempts, smtp_code, \
             sent_at, message_id) SELECT {run}, c.id, c.email, 'envoye', 1, 250, now(), \
             '<campagne.{run}.' || c.id || '@{DOMAIN}>' FROM contacts c ORDER BY c.id"
        ),
        format!(
            "UPDATE campaign_runs r SET first_delivery_id = s.lo, last_delivery_id = s.hi, \
             claim_cursor = s.hi FROM (SELECT min(id) AS lo, max(id) AS hi FROM deliveries) s \
             WHERE r.id = {run}"
        ),
        format!(
            "INSERT INTO candidates (civility, first_name, last_name, email, email_normalized, \
             phone, phone_normalized, specialty_code, situation, working_time) \
             SELECT 'madame', 'Claire', 'Candidate ' || i, 'candidate.' || i || '@exemple.fr', \
             'candidate.' || i || '@exemple.fr', '06 00 00 00 00', \
             '+336' || lpad(i::text, 8, '0'), (SELECT code FROM specialties ORDER BY code LIMIT 1), \
             'remplacant', 'temps_plein' FROM generate_series(1, {candidates}) i"
        ),
        "ANALYZE".to_owned(),
    ] {
        diesel::sql_query(&sql).execute(conn).expect(&sql);
    }
    let deliveries = diesel::sql_query("SELECT id, email, message_id FROM deliveries ORDER BY id")
        .load::<Delivery>(conn)
        .expect("deliveries");
    let candidates = diesel::sql_query("SELECT id FROM candidates ORDER BY id")
        .load::<Id>(conn)
        .expect("candidates")
        .into_iter()
        .map(|c| c.id)
        .collect();
    (deliveries, candidates)
}

// ---------------------------------------------------------------------------------------------
// The messages.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    PermanentBounce,
    TemporaryBounce,
    Complaint,
    Unsubscribe,
    OutOfOffice,
    Reply,
    Garbage,
}

const KINDS: [Kind; 7] = [
    Kind::PermanentBounce,
    Kind::TemporaryBounce,
    Kind::Complaint,
    Kind::Unsubscribe,
    Kind::OutOfOffice,
    Kind::Reply,
    Kind::Garbage,
];

impl Kind {
    /// Out of 100.
    fn share(self) -> u32 {
        match self {
            Kind::PermanentBounce => 40,
            Kind::TemporaryBounce => 15,
            Kind::Complaint => 5,
            Kind::Unsubscribe => 10,
            Kind::OutOfOffice => 10,
            Kind::Reply => 15,
            Kind::Garbage => 5,
        }
    }

    fn draw(rng: &mut impl Rng) -> Kind {
        let mut roll = rng.gen_range(0..100);
        for k in KINDS {
            if roll < k.share() {
                return k;
            }
            roll -= k.share();
        }
        Kind::Garbage
    }

    fn label(self) -> &'static str {
        match self {
            Kind::PermanentBounce => "permanent bounces (5.1.1)",
            Kind::TemporaryBounce => "temporary bounces (4.2.2)",
            Kind::Complaint => "ARF abuse reports",
            Kind::Unsubscribe => "unsubscribe requests",
            Kind::OutOfOffice => "out-of-office answers",
            Kind::Reply => "replies of doctors",
            Kind::Garbage => "garbage",
        }
    }

    /// The kind the records must show (None: not checked one by one; garbage may be
    /// unreadable or unrecognised).
    fn recorded(self) -> Option<&'static str> {
        match self {
            Kind::PermanentBounce => Some("rebond"),
            Kind::TemporaryBounce => Some("rebond_temporaire"),
            Kind::Complaint => Some("plainte"),
            Kind::Unsubscribe => Some("desinscription"),
            // To the bounce address, from no candidate: counted, in « Traité ».
            Kind::OutOfOffice => Some("reponse_auto"),
            // On the candidate's conversation, attachments stored.
            Kind::Reply => Some("reponse"),
            Kind::Garbage => None,
        }
    }
}

struct Mix<'a> {
    secret: &'a [u8],
    deliveries: &'a [Delivery],
    candidates: &'a [i64],
    /// The body of the PDF attached to some replies (the same bytes each time).
    pdf: String,
}

/// About 20 KB of PDF (a header, incompressible content, a trailer), base64 in 76-character
/// lines as mail clients write it.
fn pdf_attachment(rng: &mut impl Rng) -> String {
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 19800 >>\nstream\n".to_vec();
    let mut junk = vec![0u8; 19_800];
    rng.fill_bytes(&mut junk);
    pdf.extend_from_slice(&junk);
    pdf.extend_from_slice(b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pdf);
    let mut out = String::with_capacity(b64.len() + b64.len() / 76 + 1);
    for line in b64.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

impl Mix<'_> {
    fn bounce_address(&self, d: &Delivery) -> String {
        format!(
            "bounce+{}@{DOMAIN}",
            vocation::campaigns::links::bounce_token(self.secret, d.id)
        )
    }

    fn unsubscribe_token(&self, d: &Delivery) -> String {
        vocation::campaigns::links::token(
            self.secret,
            vocation::campaigns::links::Purpose::Unsubscribe,
            d.id,
        )
    }

    /// Message `i` of kind `kind` (LF line endings, as a Maildir keeps them).
    fn message(&self, i: usize, kind: Kind, rng: &mut impl Rng) -> Vec<u8> {
        let d = &self.deliveries[rng.gen_range(0..self.deliveries.len())];
        match kind {
            Kind::PermanentBounce => self.dsn(i, d, "failed", "5.1.1", "550 5.1.1 <RCPT>: Recipient address rejected: User unknown in virtual mailbox table"),
            Kind::TemporaryBounce => self.dsn(i, d, "delayed", "4.2.2", "452 4.2.2 The email account that you tried to reach is over quota."),
            Kind::Complaint => self.arf(i, d),
            Kind::Unsubscribe => format!(
                "From: Docteur Martin <{rcpt}>\nTo: desinscription@{DOMAIN}\nDate: {DATE}\n\
                 Subject: desinscription-{token}\nMessage-ID: <desinscription.{i}@webmail.example>\n\
                 MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n\
                 This message was automatically generated by the mail client to unsubscribe.\n",
                rcpt = d.email,
                token = self.unsubscribe_token(d),
            )
            .into_bytes(),
            Kind::OutOfOffice => format!(
                "From: Docteur Martin <{rcpt}>\nTo: {bounce}\nDate: {DATE}\n\
                 Subject: =?utf-8?q?R=C3=A9ponse_automatique_:_Exercer_dans_le_Gers?=\n\
                 Message-ID: <absence.{i}@cabinet.example>\nAuto-Submitted: auto-replied\n\
                 X-Auto-Response-Suppress: All\nMIME-Version: 1.0\n\
                 Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\
                 Je suis absente jusqu'au lundi 14 décembre. Pour toute urgence, appelez le \
                 standard du cabinet au 05 62 00 00 00.\n\nDocteur Martin\n",
                rcpt = d.email,
                bounce = self.bounce_address(d),
            )
            .into_bytes(),
            Kind::Reply => self.reply(i, rng),
            Kind::Garbage => {
                if rng.gen_bool(0.5) {
                    // Text with no header at all.
                    format!(
                        "bonjour je voudrais des renseignements {i}\nmerci\n{}\n",
                        "x".repeat(rng.gen_range(10..2000))
                    )
                    .into_bytes()
                } else {
                    let mut junk = vec![0u8; rng.gen_range(1..4096)];
                    rng.fill_bytes(&mut junk);
                    junk
                }
            }
        }
    }

    /// An RFC 3464 report in Postfix's words, sent to the delivery's VERP address, with the
    /// original's headers returned.
    fn dsn(&self, i: usize, d: &Delivery, action: &str, status: &str, said: &str) -> Vec<u8> {
        let bounce = self.bounce_address(d);
        let rcpt = &d.email;
        let said = said.replace("RCPT", rcpt);
        format!(
            "Return-Path: <>\nDelivered-To: {bounce}\nDate: {DATE}\n\
             From: MAILER-DAEMON@mx.relais.example (Mail Delivery System)\n\
             Subject: Undelivered Mail Returned to Sender\nTo: {bounce}\n\
             Auto-Submitted: auto-replied\nMIME-Version: 1.0\n\
             Content-Type: multipart/report; report-type=delivery-status;\n\
             \tboundary=\"{i}.1733550000/mx.relais.example\"\n\
             Message-Id: <20261207.{i}@mx.relais.example>\n\n\
             This is a MIME-encapsulated message.\n\n\
             --{i}.1733550000/mx.relais.example\nContent-Description: Notification\n\
             Content-Type: text/plain; charset=us-ascii\n\n\
             This is the mail system at host mx.relais.example.\n\n\
             I'm sorry to have to inform you that your message could not\n\
             be delivered to one or more recipients. It's attached below.\n\n\
             <{rcpt}>: host mx.destinataire.example[192.0.2.25] said: {said}\n\
             \x20   (in reply to RCPT TO command)\n\n\
             --{i}.1733550000/mx.relais.example\nContent-Description: Delivery report\n\
             Content-Type: message/delivery-status\n\n\
             Reporting-MTA: dns; mx.relais.example\nX-Postfix-Queue-ID: {i}\n\
             X-Postfix-Sender: rfc822; {bounce}\nArrival-Date: {DATE}\n\n\
             Final-Recipient: rfc822; {rcpt}\nOriginal-Recipient: rfc822;{rcpt}\n\
             Action: {action}\nStatus: {status}\nRemote-MTA: dns; mx.destinataire.example\n\
             Diagnostic-Code: smtp; {said}\n\n\
             --{i}.1733550000/mx.relais.example\nContent-Description: Undelivered Message Headers\n\
             Content-Type: text/rfc822-headers\n\n\
             Return-Path: <{bounce}>\nFrom: Recrutement CDS32 <recrutement@{DOMAIN}>\n\
             To: <{rcpt}>\nSubject: Exercer dans le Gers\nMessage-ID: {mid}\n\n\
             --{i}.1733550000/mx.relais.example--\n",
            mid = d.message_id,
        )
        .into_bytes()
    }

    /// An RFC 5965 abuse report; the delivery is named by the returned message's
    /// List-Unsubscribe token.
    fn arf(&self, i: usize, d: &Delivery) -> Vec<u8> {
        let token = self.unsubscribe_token(d);
        format!(
            "From: <feedback@fbl.fournisseur.example>\nTo: <abuse@{DOMAIN}>\nDate: {DATE}\n\
             Subject: FW: Exercer dans le Gers\nMessage-ID: <arf.{i}@fbl.fournisseur.example>\n\
             MIME-Version: 1.0\n\
             Content-Type: multipart/report; report-type=feedback-report;\n\
             \x20    boundary=\"arf_{i}_boundary\"\n\n\
             --arf_{i}_boundary\nContent-Type: text/plain; charset=\"US-ASCII\"\n\
             Content-Transfer-Encoding: 7bit\n\n\
             This is an email abuse report for an email message received from IP\n\
             192.0.2.1 on {DATE}.\n\n\
             --arf_{i}_boundary\nContent-Type: message/feedback-report\n\n\
             Feedback-Type: abuse\nUser-Agent: SomeGenerator/1.0\nVersion: 1\n\
             Original-Mail-From: <{bounce}>\nOriginal-Rcpt-To: <{rcpt}>\n\
             Arrival-Date: {DATE}\nSource-IP: 192.0.2.1\nReported-Domain: {DOMAIN}\n\n\
             --arf_{i}_boundary\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n\
             From: Recrutement CDS32 <recrutement@{DOMAIN}>\nTo: <redacted@fournisseur.example>\n\
             Subject: Exercer dans le Gers\nMessage-ID: {mid}\n\
             List-Unsubscribe: <http://{DOMAIN}/desinscription/{token}>, \
             <mailto:desinscription@{DOMAIN}?subject=desinscription-{token}>\n\
             Date: {DATE}\n\nBonjour,\n\n--arf_{i}_boundary--\n",
            bounce = self.bounce_address(d),
            rcpt = d.email,
            mid = d.message_id,
        )
        .into_bytes()
    }

    /// A doctor's answer to mail from a recruiter, sent to the candidate's conversation
    /// address; one in three carries a PDF (a CV).
    fn reply(&self, i: usize, rng: &mut impl Rng) -> Vec<u8> {
        let candidate = self.candidates[rng.gen_range(0..self.candidates.len())];
        let to = format!(
            "recrutement+{}@{DOMAIN}",
            vocation::campaigns::links::conversation_token(self.secret, candidate)
        );
        let head = format!(
            "From: Claire Candidate <candidate.{candidate}@exemple.fr>\nTo: {to}\nDate: {DATE}\n\
             Subject: Re: Votre candidature au centre de santé d'Auch\n\
             Message-ID: <reponse.{i}@exemple.fr>\n\
             In-Reply-To: <recruteur.{candidate}@{DOMAIN}>\nMIME-Version: 1.0\n"
        );
        let text = "Bonjour,\n\nMerci pour votre message. Je suis disponible pour un entretien \
                    la semaine prochaine, de préférence le mardi ou le jeudi après-midi. \
                    Vous trouverez mon CV ci-joint si besoin.\n\nBien cordialement,\n\
                    Dr Claire Candidate\n\n> Le 5 déc. 2026, Recrutement CDS32 a écrit :\n\
                    > Bonjour Docteur, seriez-vous disponible pour un échange ?\n";
        if rng.gen_range(0..3) == 0 {
            format!(
                "{head}Content-Type: multipart/mixed; boundary=\"rep_{i}\"\n\n\
                 --rep_{i}\nContent-Type: text/plain; charset=utf-8\n\
                 Content-Transfer-Encoding: 8bit\n\n{text}\n--rep_{i}\n\
                 Content-Type: application/pdf; name=\"CV Claire Candidate.pdf\"\n\
                 Content-Disposition: attachment; filename=\"CV Claire Candidate.pdf\"\n\
                 Content-Transfer-Encoding: base64\n\n{pdf}--rep_{i}--\n",
                pdf = self.pdf
            )
            .into_bytes()
        } else {
            format!(
                "{head}Content-Type: text/plain; charset=utf-8\n\
                 Content-Transfer-Encoding: 8bit\n\n{text}"
            )
            .into_bytes()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dovecot.

/// Dovecot as an ordinary process: its configuration, state, sockets and Maildir in `dir`.
struct Dovecot {
    port: u16,
    dir: PathBuf,
    child: Option<KillOnDrop>,
}

/// The uid and gid mail belongs to: Dovecot's own user when we are root (it will not serve
/// mail as root), else ours.
fn mail_owner() -> (u32, u32, bool) {
    let id = |args: &[&str]| -> u32 {
        let out = Command::new("id").args(args).output().expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a numeric id")
    };
    if id(&["-u"]) != 0 {
        return (id(&["-u"]), id(&["-g"]), false);
    }
    (id(&["-u", "dovecot"]), id(&["-g", "dovecot"]), true)
}

impl Dovecot {
    fn new(dir: &Path) -> Dovecot {
        assert!(
            Path::new(DOVECOT).exists(),
            "{DOVECOT} is missing: apt-get install dovecot-imapd"
        );
        for sub in [
            "run",
            "state",
            "mail/rebonds/cur",
            "mail/rebonds/new",
            "mail/rebonds/tmp",
        ] {
            std::fs::create_dir_all(dir.join(sub)).expect("Dovecot directories");
        }
        Dovecot {
            port: free_port(),
            dir: dir.to_owned(),
            child: None,
        }
    }

    fn inbox(&self) -> PathBuf {
        self.dir.join("mail/rebonds")
    }

    /// Messages of a folder, counted on disk (`cur` and `new`).
    fn count(&self, folder: &str) -> usize {
        let base = if folder == "INBOX" {
            self.inbox()
        } else {
            self.inbox()
                .join(format!(".{}", vocation::mailbox::imap::mutf7(folder)))
        };
        ["cur", "new"]
            .iter()
            .map(|sub| std::fs::read_dir(base.join(sub)).map_or(0, |d| d.count()))
            .sum()
    }

    fn start(&mut self) {
        let d = self.dir.display().to_string();
        std::fs::write(
            self.dir.join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .expect("passwd");
        let (uid, gid, root) = mail_owner();
        let users = if root {
            Command::new("chown")
                .args(["-R", &format!("{uid}:{gid}"), &format!("{d}/mail")])
                .status()
                .expect("chown");
            Command::new("chmod")
                .args(["755", &d])
                .status()
                .expect("chmod");
            String::new()
        } else {
            let me = std::env::var("USER").unwrap_or_else(|_| "nobody".into());
            format!("default_internal_user = {me}\ndefault_login_user = {me}\n")
        };
        let port = self.port;
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n\
             auth_mechanisms = plain login\nmail_location = maildir:{d}/mail/%n\n\
             first_valid_uid = 1\n{users}\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={d}/mail/%n\n}}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n{extra}\n",
            extra = std::env::var("BENCH_DOVECOT_CONF").unwrap_or_default()
        );
        std::fs::write(self.dir.join("dovecot.conf"), conf).expect("dovecot.conf");
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot starts");
        self.child = Some(KillOnDrop(child));
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "dovecot did not listen: {}",
                std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn master_pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.0.id())
    }

    fn settings(&self) -> vocation::config::MailboxSettings {
        vocation::config::MailboxSettings {
            name: format!("banc-{}", self.port),
            host: "127.0.0.1".into(),
            port: self.port,
            tls: vocation::config::ImapTls::None,
            user: USER.into(),
            password: secrecy::SecretString::from(PASSWORD.to_owned()),
            folder: "INBOX".into(),
            processed_folder: "Traité".into(),
            unrecognised_folder: "Non reconnu".into(),
            ca_file: None,
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM: the master ends its own processes (a SIGKILL would leave them behind).
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.0.id().to_string()])
                .status();
            let _ = child.0.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// /proc: memory and CPU.

fn vm_hwm_kb() -> u64 {
    proc_status_kb(std::process::id(), "VmHWM:").unwrap_or(0)
}

/// Resets the peak resident memory of this process (Linux ≥ 4.0); false when refused.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// (command name, parent, utime + stime in clock ticks) of a process.
fn proc_stat(pid: u32) -> Option<(String, u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let comm = stat[stat.find('(')? + 1..stat.rfind(')')?].to_owned();
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((comm, ppid, ticks))
}

/// CPU ticks so far of: this process, Dovecot's processes (children of its master), the
/// PostgreSQL backends of the bench database (by their process title).
#[derive(Debug, Default, Clone, Copy)]
struct Ticks {
    bench: u64,
    dovecot: u64,
    postgres: u64,
}

fn ticks(dovecot_master: u32, database: &str) -> Ticks {
    let mut t = Ticks {
        bench: proc_stat(std::process::id()).map_or(0, |s| s.2),
        ..Ticks::default()
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return t;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Some((comm, ppid, ticks)) = proc_stat(pid) else {
            continue;
        };
        if pid == dovecot_master || ppid == dovecot_master {
            t.dovecot += ticks;
        } else if comm == "postgres" {
            let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&title).contains(database) {
                t.postgres += ticks;
            }
        }
    }
    t
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// One run (the child process).

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Figures {
    messages: usize,
    setup_seconds: f64,
    write_seconds: f64,
    maildir_mb: f64,
    /// Connect, login, folders, SELECT.
    open_seconds: f64,
    /// The passes.
    pass_seconds: f64,
    passes: usize,
    /// CPU seconds during the reading.
    cpu_bench: f64,
    cpu_dovecot: f64,
    cpu_postgres: f64,
    /// Peak RSS of the setup (database, Maildir) and of the reading alone (the peak is reset
    /// between the two; None when the reset was refused, then `peak_rss_kb` is the whole's).
    setup_peak_rss_kb: u64,
    reading_peak_rss_kb: Option<u64>,
    peak_rss_kb: u64,
    /// (kind, folder, count) from inbound_messages.
    recorded: Vec<(String, String, i64)>,
    /// What was written, per kind.
    written: Vec<(String, usize)>,
    problems: Vec<String>,
    /// (messages in the processed folder, messages moved each way, ms per message moved in
    /// sets of 100, ms per message moved one by one).
    move_probe: Option<(usize, usize, f64, f64)>,
}

fn child(n: usize, seed_value: u64) -> Figures {
    let mut problems = Vec::new();
    let started = Instant::now();
    let db = BenchDatabase::create();
    let mut settings =
        vocation::config::Settings::load_for("test").expect("the test settings load");
    settings.database.url = secrecy::SecretString::from(database_url(&db.name));
    settings.check().expect("valid settings");
    let pool = vocation::db::prepare(&settings).expect("database migrated");
    let secret = settings
        .security
        .secret_key
        .expose_secret()
        .as_bytes()
        .to_vec();
    let (deliveries, candidates) = seed(&mut pool.get().expect("connection"), n, (n / 20).max(10));
    let setup_seconds = started.elapsed().as_secs_f64();

    // The messages, straight into the Maildir (cur/, no flags: unseen, no rename needed).
    let scratch = Scratch(std::env::temp_dir().join(format!(
        "vocation-bench-mailbox-{}",
        uuid::Uuid::new_v4().simple()
    )));
    let mut dovecot = Dovecot::new(&scratch.0);
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed_value);
    let mix = Mix {
        secret: &secret,
        deliveries: &deliveries,
        candidates: &candidates,
        pdf: pdf_attachment(&mut rng),
    };
    let mut written = std::collections::BTreeMap::<Kind, usize>::new();
    let mut bytes = 0usize;
    let cur = dovecot.inbox().join("cur");
    for i in 0..n {
        let kind = Kind::draw(&mut rng);
        *written.entry(kind).or_default() += 1;
        let raw = mix.message(i, kind, &mut rng);
        bytes += raw.len();
        let name = format!("1765090800.M{i}P1.banc,S={}:2,", raw.len());
        std::fs::write(cur.join(name), &raw).expect("a message into the Maildir");
    }
    let write_seconds = started.elapsed().as_secs_f64();
    drop(deliveries);
    dovecot.start();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mailbox = dovecot.settings();
    // The mailbox read is configured, so that answers to the conversation address are known
    // (their attachments go to a scratch document store).
    settings.mailboxes = vec![mailbox.clone()];
    settings.storage.documents_dir = scratch.0.join("documents");
    let reader =
        vocation::mailbox::Reader::new(Arc::new(settings.clone()), pool.clone(), mailbox.clone());
    let setup_peak_rss_kb = vm_hwm_kb();
    let peak_reset = reset_peak();
    let before = ticks(dovecot.master_pid(), &db.name);
    let started = Instant::now();
    let (open_seconds, passes, after) = rt.block_on(async {
        let mut session = vocation::mailbox::imap::connect(&mailbox)
            .await
            .expect("IMAP login");
        let caps = session.capabilities().await.expect("CAPABILITY");
        let can_move = caps.has_str("MOVE");
        drop(caps);
        for folder in [&mailbox.processed_folder, &mailbox.unrecognised_folder] {
            vocation::mailbox::imap::ensure_folder(&mut session, folder)
                .await
                .expect("folder");
        }
        let selected = session.select("INBOX").await.expect("SELECT");
        let uid_validity = i64::from(selected.uid_validity.unwrap_or(0));
        let open_seconds = started.elapsed().as_secs_f64();
        let mut passes = 0;
        loop {
            let counts = reader
                .pass(&mut session, uid_validity, can_move)
                .await
                .expect("a pass");
            let handled = counts.processed + counts.moved_only + counts.left;
            passes += 1;
            while session.unsolicited_responses.try_recv().is_ok() {}
            if handled == 0 || passes > 5 {
                break;
            }
        }
        // Before the logout: the imap process is still there to be counted.
        let after = ticks(dovecot.master_pid(), &db.name);
        let _ = session.logout().await;
        (open_seconds, passes, after)
    });
    let total_seconds = started.elapsed().as_secs_f64();
    let reading_peak_rss_kb = peak_reset.then(vm_hwm_kb);
    let hz = 100.0; // USER_HZ
    let cpu = |a: u64, b: u64| a.saturating_sub(b) as f64 / hz;

    // Checks: each message once, processed and moved; the folders as the records say.
    let mut conn = pool.get().expect("connection");
    let records = count(&mut conn, "SELECT count(*) AS n FROM inbound_messages");
    let moved = count(
        &mut conn,
        "SELECT count(*) AS n FROM inbound_messages \
         WHERE processed_at IS NOT NULL AND moved_at IS NOT NULL",
    );
    if records != n as i64 || moved != n as i64 {
        problems.push(format!(
            "{records} records and {moved} processed and moved, for {n} messages"
        ));
    }
    let inbox = dovecot.count("INBOX");
    if inbox != 0 {
        problems.push(format!("{inbox} messages left in INBOX"));
    }
    let recorded: Vec<(String, String, i64)> = diesel::sql_query(
        "SELECT coalesce(kind, '-') AS kind, coalesce(folder, '-') AS folder, count(*) AS n \
         FROM inbound_messages GROUP BY 1, 2 ORDER BY 3 DESC",
    )
    .load::<KindCount>(&mut conn)
    .expect("kinds")
    .into_iter()
    .map(|k| (k.kind, k.folder, k.n))
    .collect();
    for (folder, kind) in [("Traité", "traite"), ("Non reconnu", "non_reconnu")] {
        let on_disk = dovecot.count(folder) as i64;
        let in_records: i64 = recorded.iter().filter(|r| r.1 == kind).map(|r| r.2).sum();
        if on_disk != in_records {
            problems.push(format!(
                "« {folder} » holds {on_disk} messages, the records say {in_records}"
            ));
        }
    }
    // Each reply on its candidate's conversation, with its attachment when it had one.
    let conversation = count(
        &mut conn,
        "SELECT count(*) AS n FROM candidate_messages WHERE direction = 'recu'",
    );
    let replies = written.get(&Kind::Reply).copied().unwrap_or(0) as i64;
    if conversation != replies {
        problems.push(format!(
            "{replies} replies written, {conversation} on candidates' conversations"
        ));
    }
    for (kind, wrote) in &written {
        if let Some(name) = kind.recorded() {
            let got: i64 = recorded.iter().filter(|r| r.0 == name).map(|r| r.2).sum();
            if got != *wrote as i64 {
                problems.push(format!(
                    "{} written: {wrote}, recorded « {name} »: {got}",
                    kind.label()
                ));
            }
        }
    }
    drop(conn);
    let probe_size = dovecot.count(&mailbox.processed_folder);
    let move_probe = match env_u64("BENCH_MOVE_PROBE", 500) as usize {
        0 => None,
        per_way => rt.block_on(move_probe(&mailbox, per_way)),
    };
    drop(rt);
    drop(reader);
    drop(pool);
    drop(dovecot);
    drop(db);
    Figures {
        messages: n,
        setup_seconds,
        write_seconds,
        maildir_mb: bytes as f64 / 1e6,
        open_seconds,
        pass_seconds: total_seconds - open_seconds,
        passes,
        cpu_bench: cpu(after.bench, before.bench),
        cpu_dovecot: cpu(after.dovecot, before.dovecot),
        cpu_postgres: cpu(after.postgres, before.postgres),
        setup_peak_rss_kb,
        reading_peak_rss_kb,
        peak_rss_kb: setup_peak_rss_kb.max(vm_hwm_kb()),
        recorded,
        written: written
            .into_iter()
            .map(|(k, n)| (k.label().to_owned(), n))
            .collect(),
        problems,
        move_probe: move_probe.map(|(n, batched, single)| (probe_size, n, batched, single)),
    }
}

/// What one UID MOVE costs the server, alone or in a set: from the processed folder back to
/// INBOX, `per_way` messages in sets of 100, then `per_way` others one by one (in that order,
/// so the folder is smaller for the single moves). Returns (messages each way, ms per message
/// batched, ms per message single).
async fn move_probe(
    mailbox: &vocation::config::MailboxSettings,
    per_way: usize,
) -> Option<(usize, f64, f64)> {
    let mut session = vocation::mailbox::imap::connect(mailbox).await.ok()?;
    let folder = vocation::mailbox::imap::mutf7(&mailbox.processed_folder);
    session.select(&folder).await.ok()?;
    let mut uids: Vec<u32> = session.uid_search("ALL").await.ok()?.into_iter().collect();
    uids.sort_unstable();
    let per_way = per_way.min(uids.len() / 2);
    if per_way == 0 {
        return None;
    }
    let started = Instant::now();
    for chunk in uids[..per_way].chunks(100) {
        let set = chunk
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        session.uid_mv(&set, "INBOX").await.ok()?;
    }
    let batched = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for uid in &uids[per_way..2 * per_way] {
        session.uid_mv(uid.to_string(), "INBOX").await.ok()?;
    }
    let single = started.elapsed().as_secs_f64();
    let _ = session.logout().await;
    let ms = |s: f64| 1000.0 * s / per_way as f64;
    Some((per_way, ms(batched), ms(single)))
}

// ---------------------------------------------------------------------------------------------
// The parent: one child per count.

fn run(count: usize, seed_value: u64) -> Figures {
    let exe = std::env::current_exe().expect("the bench binary");
    let out = Command::new(exe)
        .env(CHILD_ENV, count.to_string())
        .env("BENCH_SEED", seed_value.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("run the child");
    assert!(out.status.success(), "the {count}-message child failed");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("FIGURES "))
        .expect("the child's figures");
    serde_json::from_str(line).expect("figures")
}

fn main() {
    let seed_value = env_u64("BENCH_SEED", 20);
    if let Ok(count) = std::env::var(CHILD_ENV) {
        let figures = child(count.parse().expect("a count"), seed_value);
        println!(
            "FIGURES {}",
            serde_json::to_string(&figures).expect("figures")
        );
        return;
    }
    let n = env_u64("BENCH_MESSAGES", 10_000) as usize;
    println!(
        "Reading the mailbox: one Reader, one IMAP connection to a local Dovecot, one process \
         per count (seed {seed_value})"
    );
    println!("load average before: {}", load_average());
    let mut counts = vec![1_000, n];
    counts.sort_unstable();
    counts.dedup();
    let mut runs = Vec::new();
    for count in counts {
        let f = run(count, seed_value);
        let seconds = f.open_seconds + f.pass_seconds;
        println!(
            "{:>7} messages  {:>7.1} MB  {:>7.2} s (open {:.2} s, {} passes {:.2} s)  {:>6.0} msg/s  \
             CPU s: bench {:.1}, dovecot {:.1}, postgres {:.1}  peak RSS {:.1} MB (setup {:.1}, reading {})",
            f.messages,
            f.maildir_mb,
            seconds,
            f.open_seconds,
            f.passes,
            f.pass_seconds,
            f.messages as f64 / seconds,
            f.cpu_bench,
            f.cpu_dovecot,
            f.cpu_postgres,
            mb(f.peak_rss_kb),
            mb(f.setup_peak_rss_kb),
            f.reading_peak_rss_kb
                .map_or("n/a".to_owned(), |kb| format!("{:.1} MB", mb(kb))),
        );
        println!(
            "          setup (database, {} deliveries) {:.1} s, Maildir written in {:.1} s",
            f.messages, f.setup_seconds, f.write_seconds
        );
        println!(
            "          written: {}",
            f.written
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "          recorded: {}",
            f.recorded
                .iter()
                .map(|(k, folder, n)| format!("{n} {k} ({folder})"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some((size, n, batched, single)) = f.move_probe {
            println!(
                "          UID MOVE from a folder of {size}: {single:.2} ms per message one by \
                 one, {batched:.3} ms per message in sets of 100 ({n} each way)"
            );
        }
        for p in &f.problems {
            println!("          PROBLEM: {p}");
        }
        let _ = std::io::stdout().flush();
        runs.push(f);
    }
    println!("load average after: {}", load_average());
    let last = runs.last().expect("one run at least");
    let rate = last.messages as f64 / (last.open_seconds + last.pass_seconds);
    let checked = runs.iter().all(|r| r.problems.is_empty());
    println!(
        "target ≥ {TARGET_MESSAGES_PER_SECOND} msg/s at {} messages: {} ({rate:.0} msg/s); \
         every message once, processed and moved: {}",
        last.messages,
        verdict(rate >= TARGET_MESSAGES_PER_SECOND),
        verdict(checked),
    );
    if !checked {
        std::process::exit(1);
    }
}
