//! Layered configuration: the embedded `config/default.toml`, the same file on disk if present,
//! `config/<VOCATION_ENV>.toml`, then `VOCATION__SECTION__KEY` environment variables.
//! Everything is checked at start-up; a bad value stops the service with one line naming the key.

use std::path::PathBuf;

use lettre::message::Mailbox;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const EMBEDDED_DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub mail: MailSettings,
    pub recruiters: RecruiterSettings,
    pub storage: StorageSettings,
    pub security: SecuritySettings,
    pub staff: StaffSettings,
    pub pipeline: PipelineSettings,
    pub offers: OfferSettings,
    pub goal: GoalSettings,
    pub scheduler: SchedulerSettings,
    pub campaigns: CampaignSettings,
    pub organisation: OrganisationSettings,
    pub privacy: PrivacySettings,
    pub log: LogSettings,
    pub accessibility: AccessibilitySettings,
    pub metrics: MetricsSettings,
    /// Positions on the open web and partner sites (issue 19).
    #[serde(default)]
    pub open_web: OpenWebSettings,
    /// Mailboxes read for bounces, complaints and unsubscribe requests (none by default).
    #[serde(default)]
    pub mailboxes: Vec<MailboxSettings>,
    /// How mail coming back is read and acted on.
    #[serde(default)]
    pub inbound: InboundSettings,
    /// Letters (issue 19): the identity printed on every letter. Optional in files.
    #[serde(default)]
    pub letters: LetterSettings,
}

/// How an IMAP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapTls {
    /// TLS from the first byte (port 993).
    Implicit,
    /// STARTTLS on a plain connection (port 143).
    Starttls,
    /// No encryption: only for a server on the loopback interface (tests).
    None,
}

/// One mailbox read over IMAP (`[[mailboxes]]`).
#[derive(Debug, Clone, Deserialize)]
pub struct MailboxSettings {
    /// A short name for logs and the records of messages read; the user name when empty.
    #[serde(default)]
    pub name: String,
    pub host: String,
    #[serde(default = "default_imap_port")]
    pub port: u16,
    #[serde(default = "default_imap_tls")]
    pub tls: ImapTls,
    pub user: String,
    pub password: SecretString,
    /// The folder read.
    #[serde(default = "default_inbox")]
    pub folder: String,
    /// Where messages acted on go.
    #[serde(default = "default_processed_folder")]
    pub processed_folder: String,
    /// Where messages that match nothing (or cannot be read) go.
    #[serde(default = "default_unrecognised_folder")]
    pub unrecognised_folder: String,
    /// A PEM certificate to trust besides the system's (a département's own authority).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl MailboxSettings {
    /// The name messages of this mailbox are recorded under.
    pub fn key(&self) -> String {
        if self.name.trim().is_empty() {
            format!("{}@{}", self.user, self.host)
        } else {
            self.name.trim().to_owned()
        }
    }
}

fn default_imap_port() -> u16 {
    993
}
fn default_imap_tls() -> ImapTls {
    ImapTls::Implicit
}
fn default_inbox() -> String {
    "INBOX".into()
}
fn default_processed_folder() -> String {
    "Traité".into()
}
fn default_unrecognised_folder() -> String {
    "Non reconnu".into()
}

/// Reading mail that comes back (`[inbound]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct InboundSettings {
    /// Seconds between two looks at a mailbox whose server does not offer IDLE (and the
    /// longest an IDLE waits before looking again).
    pub poll_interval_seconds: u64,
    /// Messages larger than this are recorded and moved to « Non reconnu » without being read.
    pub max_message_bytes: u32,
    /// Local part of the bounce address (`bounce+TOKEN@domain`).
    pub bounce_local_part: String,
    /// Domain of the bounce address; empty: the campaign sender's domain.
    pub bounce_domain: String,
    /// Temporary failures (4.x.x) of one address within `soft_bounce_window_days` that
    /// suppress it.
    pub soft_bounce_limit: u32,
    pub soft_bounce_window_days: u32,
    /// Seconds a message claimed by an instance stays its own.
    pub claim_lease_seconds: i64,
    /// Claims of one message after which it is put aside as unreadable.
    pub max_attempts: i32,
    /// Longest wait between two reconnections when the server is away.
    pub max_backoff_seconds: u64,
    /// Local part of the conversation address (`recrutement+TOKEN@domain`), the Reply-To of
    /// mail to a candidate when a mailbox is read.
    pub reply_local_part: String,
    /// Domain of the conversation address; empty: the domain of `mail.from`.
    pub reply_domain: String,
    /// Days a person's mail that matched no candidate waits on the « Non reconnu » page.
    pub unrecognised_retention_days: u32,
}

impl Default for InboundSettings {
    fn default() -> Self {
        InboundSettings {
            poll_interval_seconds: 60,
            max_message_bytes: 10 * 1024 * 1024,
            bounce_local_part: "bounce".into(),
            bounce_domain: String::new(),
            soft_bounce_limit: 3,
            soft_bounce_window_days: 15,
            claim_lease_seconds: 300,
            max_attempts: 5,
            max_backoff_seconds: 300,
            reply_local_part: "recrutement".into(),
            reply_domain: String::new(),
            unrecognised_retention_days: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub pool_size: u32,
    pub connect_timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    pub public_url: String,
    pub form_burst: u32,
    pub form_replenish_seconds: u64,
    pub trust_forwarded_for: bool,
    /// Threads answering requests; 0: one per CPU core (actix's default).
    #[serde(default)]
    pub workers: usize,
    /// Seconds a client has to send a request body once its headers are in (actix's
    /// `client_request_timeout` covers only the headers), plus one second per 4 KB received:
    /// past it, 408 (see `web::inputs`).
    #[serde(default = "default_body_timeout_seconds")]
    pub body_timeout_seconds: u64,
}

fn default_body_timeout_seconds() -> u64 {
    30
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MailSettings {
    pub transport: MailTransportKind,
    pub outbox_dir: PathBuf,
    pub from: String,
    pub reply_to: String,
    pub smtp: SmtpSettings,
    pub worker: MailWorkerSettings,
    pub dkim: DkimSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: String,
    pub password: SecretString,
    pub timeout_seconds: u64,
    /// The name every transport greets the relay with (EHLO); empty: the host of
    /// `http.public_url` (never the machine's own host name).
    #[serde(default)]
    pub hello_name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MailWorkerSettings {
    pub enabled: bool,
    pub poll_interval_seconds: u64,
    pub max_attempts: i32,
    pub lease_seconds: i64,
    /// First retry delay after a 4xx or a network error, doubled at each attempt (capped at
    /// one hour).
    pub retry_base_seconds: i64,
}

/// DKIM signing of every outgoing message; off while `selector` is empty. Campaign senders
/// must then align with `domain` (the same domain, or one a subdomain of the other).
#[derive(Debug, Clone, Deserialize)]
pub struct DkimSettings {
    pub selector: String,
    pub domain: String,
    /// An unencrypted RSA private key in PEM, PKCS#1 or PKCS#8 (`openssl genrsa 2048`).
    pub private_key_file: PathBuf,
}

/// The campaign senders and the scheduler of campaign runs.
#[derive(Debug, Clone, Deserialize)]
pub struct CampaignSettings {
    /// Whether this instance sends campaign mail (every instance may: claims never overlap).
    pub enabled: bool,
    /// SMTP connections this instance opens at most for campaign mail.
    pub connections: usize,
    /// Messages per minute to the relay, all campaigns and instances together; 0 = no cap.
    pub relay_max_per_minute: u32,
    /// Deliveries claimed at a time by one connection.
    pub batch_size: i64,
    /// Seconds a claimed delivery stays reserved; after that another worker may send it.
    pub lease_seconds: i64,
    /// Attempts (4xx replies, timeouts, lost connections) before a delivery is marked failed.
    pub max_attempts: i32,
    /// First retry delay, doubled at each attempt (capped at one hour).
    pub retry_base_seconds: i64,
    /// How often idle senders look for work, in milliseconds.
    pub poll_interval_ms: u64,
    /// A run due more than this long ago (the service was stopped) waits for confirmation.
    pub late_after_minutes: i64,
    /// When the scheduler looks for due occurrences of recurring campaigns (Europe/Paris).
    pub tick_cron: String,
    /// The rate proposed for a new campaign, in messages per minute.
    pub default_rate_per_minute: i32,
    /// Address for the mailto form of List-Unsubscribe; empty means organisation.contact_email.
    pub unsubscribe_mailto: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RecruiterSettings {
    pub notify: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StorageSettings {
    pub documents_dir: PathBuf,
    pub max_cv_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SecuritySettings {
    pub secret_key: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SchedulerSettings {
    pub daily_digest_cron: String,
    pub offer_expiry_cron: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OfferSettings {
    /// Role codes (besides admin, who always may) allowed to approve an offer before it is sent.
    pub approver_roles: Vec<String>,
}

/// The campaign's yearly goal, shown on the capacity page.
#[derive(Debug, Clone, Deserialize)]
pub struct GoalSettings {
    pub doctors_per_year: u32,
    /// Full-time equivalents per year, in French or dotted notation ("10", "8,5").
    pub fte_per_year: String,
}

impl GoalSettings {
    /// The FTE goal in hundredths (checked at start-up).
    pub fn fte_hundredths(&self) -> Option<i64> {
        let text = self.fte_per_year.trim().replace(',', ".");
        let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
        if int.is_empty()
            || frac.len() > 2
            || !(int.chars().chain(frac.chars())).all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let int: i64 = int.parse().ok()?;
        let frac: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<2}").parse().ok()?
        };
        Some(int * 100 + frac).filter(|h| *h > 0 && *h <= 100_000)
    }
}

/// A cron expression as tokio-cron-scheduler wants it (seconds first): the usual 5-field form
/// gets "0" seconds. None when empty (the job is disabled).
pub fn normalize_cron(expr: &str) -> Result<Option<String>, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    match fields.len() {
        0 => Ok(None),
        5 => Ok(Some(format!("0 {}", fields.join(" ")))),
        6 | 7 => Ok(Some(fields.join(" "))),
        n => Err(format!(
            "« {expr} » a {n} champs ; attendu 5 (minute heure jour mois jour-de-semaine) ou 6 (secondes d'abord)"
        )),
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct PipelineSettings {
    /// Stage code → days a card may wait before it is marked late.
    pub expected_days: std::collections::BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StaffSettings {
    pub idle_timeout_minutes: i64,
    pub absolute_timeout_hours: i64,
    pub max_failed_logins: i64,
    pub login_window_minutes: i64,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct OrganisationSettings {
    pub name: String,
    pub service: String,
    pub address: String,
    pub contact_email: String,
    pub phone: String,
    /// The département's accent colour (`#rrggbb`), checked at start for 4.5:1 contrast on
    /// the light backgrounds; empty: Vocation's own (see `theme::DEFAULT_ACCENT`). Templates
    /// (e-mails) see the colour in force.
    #[serde(default, serialize_with = "accent_in_force")]
    pub accent_colour: String,
    /// An image file (SVG, PNG, JPEG or WebP, 512 KB at most) shown beside the name in the
    /// header, served at /apparence/logo; empty: none. A path on the server: never shown.
    #[serde(default, skip_serializing)]
    pub logo_path: String,
}

impl OrganisationSettings {
    /// The accent in force (already checked at start).
    pub fn accent(&self) -> crate::theme::Accent {
        let raw = if self.accent_colour.trim().is_empty() {
            crate::theme::DEFAULT_ACCENT
        } else {
            self.accent_colour.trim()
        };
        crate::theme::Accent::check(raw).unwrap_or_else(|_| {
            crate::theme::Accent::new(
                crate::theme::Colour::parse(crate::theme::DEFAULT_ACCENT)
                    .unwrap_or(crate::theme::Colour::BLACK),
            )
        })
    }
}

fn accent_in_force<S: serde::Serializer>(raw: &str, s: S) -> Result<S::Ok, S::Error> {
    let raw = raw.trim();
    s.serialize_str(if raw.is_empty() {
        crate::theme::DEFAULT_ACCENT
    } else {
        raw
    })
}

/// Largest logo file accepted.
pub const MAX_LOGO_BYTES: u64 = 512 * 1024;

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct PrivacySettings {
    pub controller: String,
    pub dpo_contact: String,
    pub retention_years: u32,
    pub notice_version: String,
    /// The statement at /donnees-personnelles: what the data is for, on which legal bases,
    /// who receives it, and where to complain.
    pub purposes: Vec<String>,
    pub legal_bases: Vec<String>,
    pub recipients: String,
    pub dpo_address: String,
    pub authority: String,
    /// Days a private link (/mes-donnees/…) stays valid.
    pub link_days: u32,
    /// Months after the end of their process that candidates without pool consent are kept.
    pub no_consent_months: u32,
    /// Days before the pool consent runs out that the candidate is offered to renew it.
    pub consent_reminder_days: u32,
    /// When the retention job runs (Europe/Paris); empty disables it.
    pub retention_cron: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// `/metrics`, in the Prometheus (OpenMetrics) text format.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// When not empty, scrapes must send `Authorization: Bearer <token>`; others get 401.
    pub token: SecretString,
}

/// Positions on the open web: the region written in the centres' postal addresses
/// (schema.org JobPosting), and the partner sites that show the open positions.
#[derive(Debug, Clone, Deserialize)]
pub struct OpenWebSettings {
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default)]
    pub partners: Vec<PartnerSettings>,
}

impl Default for OpenWebSettings {
    fn default() -> Self {
        OpenWebSettings {
            region: default_region(),
            partners: Vec::new(),
        }
    }
}

fn default_region() -> String {
    "Occitanie".to_owned()
}

/// A partner site (dites32.fr): its JSON list and embed, and the channel link its readers
/// follow.
#[derive(Debug, Clone, Deserialize)]
pub struct PartnerSettings {
    /// In the embed's address, /partenaires/{id}/postes: lowercase letters, digits, hyphens.
    pub id: String,
    pub name: String,
    /// The site's origin, exactly as browsers send it: `https://www.dites32.fr` (no path).
    pub origin: String,
    /// The code of its channel link: position links lead to {public_url}/l/{code}?poste={id}.
    pub link_code: String,
}

impl PartnerSettings {
    /// Why this partner's settings cannot be used, if they cannot.
    fn problem(&self) -> Option<String> {
        let id_ok = (1..=40).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Some(format!(
                "l'identifiant « {} » doit faire 1 à 40 lettres minuscules, chiffres ou tirets",
                self.id
            ));
        }
        if self.name.trim().is_empty() {
            return Some(format!("le partenaire « {} » n'a pas de nom", self.id));
        }
        let origin_ok = url::Url::parse(&self.origin).is_ok_and(|u| {
            u.scheme() == "https"
                && u.host_str().is_some()
                && u.origin().ascii_serialization() == self.origin
        });
        if !origin_ok {
            return Some(format!(
                "l'origine « {} » du partenaire « {} » doit être une origine https exacte, \
                 sans chemin ni barre finale (par exemple https://www.dites32.fr)",
                self.origin, self.id
            ));
        }
        let code_ok = (1..=64).contains(&self.link_code.len())
            && self
                .link_code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !code_ok {
            return Some(format!(
                "le code de lien « {} » du partenaire « {} » doit faire 1 à 64 lettres, \
                 chiffres, tirets ou soulignés",
                self.link_code, self.id
            ));
        }
        None
    }
}

/// Whether `host` names the loopback interface.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A configuration problem, phrased for the person starting the service.
#[derive(Debug, thiserror::Error)]
#[error("configuration invalide : {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Loads the configuration for `VOCATION_ENV` (development by default).
    pub fn load() -> Result<Settings, ConfigError> {
        let environment =
            std::env::var("VOCATION_ENV").unwrap_or_else(|_| "development".to_owned());
        Self::load_for(&environment)
    }

    pub fn load_for(environment: &str) -> Result<Settings, ConfigError> {
        if !environment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError(format!(
                "VOCATION_ENV « {environment} » : lettres, chiffres, - et _ seulement"
            )));
        }
        let raw = config::Config::builder()
            .add_source(config::File::from_str(
                EMBEDDED_DEFAULTS,
                config::FileFormat::Toml,
            ))
            .add_source(config::File::with_name("config/default").required(false))
            .add_source(config::File::with_name(&format!("config/{environment}")).required(false))
            .add_source(
                config::Environment::with_prefix("VOCATION")
                    .prefix_separator("__")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("recruiters.notify")
                    .try_parsing(true),
            )
            .build()
            .map_err(|e| ConfigError(e.to_string()))?;
        let settings: Settings = raw
            .try_deserialize()
            .map_err(|e| ConfigError(e.to_string()))?;
        settings.check()?;
        if environment == PRODUCTION {
            settings.check_production()?;
        }
        Ok(settings)
    }

    /// Checks what serde cannot: addresses, URLs, key strength. Call again after changing
    /// fields in code (tests do).
    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError(format!("clé `{key}` : {why}")));
        let url = self.database.url.expose_secret();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return bad(
                "database.url",
                "doit commencer par postgres:// ou postgresql://".into(),
            );
        }
        if self.database.pool_size == 0 {
            return bad("database.pool_size", "doit être au moins 1".into());
        }
        match url::Url::parse(&self.http.public_url) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => {}
            _ => {
                return bad(
                    "http.public_url",
                    format!(
                        "« {} » n'est pas une adresse http(s) complète",
                        self.http.public_url
                    ),
                )
            }
        }
        for (i, partner) in self.open_web.partners.iter().enumerate() {
            if let Some(why) = partner.problem() {
                return bad("open_web.partners", why);
            }
            if self.open_web.partners[..i]
                .iter()
                .any(|p| p.id == partner.id)
            {
                return bad(
                    "open_web.partners",
                    format!("l'identifiant « {} » est donné deux fois", partner.id),
                );
            }
        }
        if self.http.body_timeout_seconds == 0 {
            return bad("http.body_timeout_seconds", "doit être au moins 1".into());
        }
        if self.http.form_burst == 0 || self.http.form_replenish_seconds == 0 {
            return bad(
                "http.form_burst",
                "form_burst et form_replenish_seconds doivent être au moins 1".into(),
            );
        }
        if let Err(e) = self.mail.from.parse::<Mailbox>() {
            return bad("mail.from", format!("adresse invalide ({e})"));
        }
        if !self.mail.reply_to.is_empty() {
            if let Err(e) = self.mail.reply_to.parse::<Mailbox>() {
                return bad("mail.reply_to", format!("adresse invalide ({e})"));
            }
        }
        for (i, address) in self.recruiters.notify.iter().enumerate() {
            if let Err(e) = address.trim().parse::<Mailbox>() {
                return bad(
                    "recruiters.notify",
                    format!("l'adresse n° {} est invalide ({e})", i + 1),
                );
            }
        }
        if self.mail.transport == MailTransportKind::Smtp && self.mail.smtp.host.trim().is_empty() {
            return bad(
                "mail.smtp.host",
                "obligatoire quand mail.transport = \"smtp\"".into(),
            );
        }
        if self.mail.worker.max_attempts < 1
            || self.mail.worker.lease_seconds < 1
            || self.mail.worker.retry_base_seconds < 0
        {
            return bad(
                "mail.worker",
                "max_attempts et lease_seconds doivent être au moins 1".into(),
            );
        }
        for role in &self.offers.approver_roles {
            if crate::db::enums::StaffRole::from_code(role).is_none() {
                return bad(
                    "offers.approver_roles",
                    format!("« {role} » n'est pas un rôle (admin, recruteur, communication)"),
                );
            }
        }
        if !self.organisation.accent_colour.trim().is_empty() {
            if let Err(why) = crate::theme::Accent::check(&self.organisation.accent_colour) {
                return bad("organisation.accent_colour", why);
            }
        }
        let logo = self.organisation.logo_path.trim();
        if !logo.is_empty() {
            if crate::theme::logo_content_type(logo).is_none() {
                return bad(
                    "organisation.logo_path",
                    format!("« {logo} » : une image SVG, PNG, JPEG ou WebP est attendue"),
                );
            }
            match std::fs::metadata(logo) {
                Ok(m) if m.is_file() && m.len() <= MAX_LOGO_BYTES => {}
                Ok(m) if m.is_file() => {
                    return bad(
                        "organisation.logo_path",
                        format!("« {logo} » dépasse 512 Ko ({} octets)", m.len()),
                    )
                }
                _ => {
                    return bad(
                        "organisation.logo_path",
                        format!("« {logo} » n'est pas un fichier lisible"),
                    )
                }
            }
        }
        if self.goal.fte_hundredths().is_none() {
            return bad(
                "goal.fte_per_year",
                format!(
                    "« {} » n'est pas un nombre d'ETP (par exemple 10 ou 8,5)",
                    self.goal.fte_per_year
                ),
            );
        }
        if let Err(e) = normalize_cron(&self.scheduler.offer_expiry_cron) {
            return bad("scheduler.offer_expiry_cron", e);
        }
        if let Err(e) = normalize_cron(&self.privacy.retention_cron) {
            return bad("privacy.retention_cron", e);
        }
        if self.privacy.link_days == 0 || self.privacy.retention_years == 0 {
            return bad(
                "privacy",
                "link_days et retention_years doivent être au moins 1".into(),
            );
        }
        if let Err(e) = normalize_cron(&self.campaigns.tick_cron) {
            return bad("campaigns.tick_cron", e);
        }
        let c = &self.campaigns;
        if c.connections < 1
            || c.batch_size < 1
            || c.lease_seconds < 1
            || c.max_attempts < 1
            || c.retry_base_seconds < 0
            || c.poll_interval_ms < 1
            || c.late_after_minutes < 0
            || c.default_rate_per_minute < 1
        {
            return bad(
                "campaigns",
                "connexions, lot, bail, tentatives, intervalle et débit doivent être au moins 1"
                    .into(),
            );
        }
        if !self.mail.dkim.selector.is_empty()
            && (self.mail.dkim.domain.is_empty() || !self.mail.dkim.private_key_file.is_file())
        {
            return bad(
                "mail.dkim",
                format!(
                    "avec un sélecteur, il faut un domaine et une clé privée lisible ({})",
                    self.mail.dkim.private_key_file.display()
                ),
            );
        }
        let hello = &self.mail.smtp.hello_name;
        if !hello.is_empty()
            && !hello
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        {
            return bad(
                "mail.smtp.hello_name",
                format!("« {hello} » n'est pas un nom d'hôte (lettres, chiffres, points, tirets)"),
            );
        }
        if let Err(why) = self.check_mailboxes() {
            return Err(ConfigError(why));
        }
        if self.security.secret_key.expose_secret().len() < 64 {
            return bad(
                "security.secret_key",
                "au moins 64 caractères sont nécessaires".into(),
            );
        }
        let st = &self.staff;
        if st.idle_timeout_minutes < 1
            || st.absolute_timeout_hours < 1
            || st.max_failed_logins < 1
            || st.login_window_minutes < 1
        {
            return bad(
                "staff",
                "les délais et limites doivent être au moins 1".into(),
            );
        }
        if let Err(why) = normalize_cron(&self.scheduler.daily_digest_cron) {
            return bad("scheduler.daily_digest_cron", why);
        }
        for (stage, days) in &self.pipeline.expected_days {
            if crate::db::enums::Stage::from_code(stage).is_none() || *days < 1 {
                return bad(
                    "pipeline.expected_days",
                    format!("« {stage} » : une étape connue et un nombre de jours positif"),
                );
            }
        }
        if self.storage.max_cv_bytes == 0 {
            return bad("storage.max_cv_bytes", "doit être positif".into());
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return bad(
                "log.level",
                format!(
                    "« {} » n'est pas un niveau de journalisation",
                    self.log.level
                ),
            );
        }
        Ok(())
    }

    /// What production adds to `check`: a real mail relay, a strong secret key, HTTPS links,
    /// and `/metrics` behind a token (or off).
    /// Run by `load_for("production")`; tests call it on settings changed in code.
    /// The mailboxes and the inbound settings, as a message naming the key.
    fn check_mailboxes(&self) -> Result<(), String> {
        let i = &self.inbound;
        if i.poll_interval_seconds < 1
            || i.max_message_bytes < 1024
            || i.soft_bounce_limit < 1
            || i.soft_bounce_window_days < 1
            || i.claim_lease_seconds < 1
            || i.max_attempts < 1
            || i.max_backoff_seconds < 1
        {
            return Err(
                "clé `inbound` : intervalle, taille (1024 octets au moins), seuil, \
                        fenêtre, bail, tentatives et attente doivent être positifs"
                    .into(),
            );
        }
        let local = i.bounce_local_part.trim();
        if local.is_empty()
            || !local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "clé `inbound.bounce_local_part` : « {local} » : lettres, chiffres, - _ et . seulement"
            ));
        }
        if !i.bounce_domain.is_empty()
            && format!("{local}@{}", i.bounce_domain)
                .parse::<lettre::Address>()
                .is_err()
        {
            return Err(format!(
                "clé `inbound.bounce_domain` : « {} » n'est pas un domaine",
                i.bounce_domain
            ));
        }
        let reply = i.reply_local_part.trim();
        if !reply.is_empty() {
            if !reply
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                || reply.eq_ignore_ascii_case(local)
            {
                return Err(format!(
                    "clé `inbound.reply_local_part` : « {reply} » : lettres, chiffres, - _ et . \
                     seulement, et autre chose que l'adresse de rebond"
                ));
            }
            if format!("{reply}@{}", self.conversation_domain())
                .parse::<lettre::Address>()
                .is_err()
            {
                return Err(format!(
                    "clé `inbound.reply_domain` : « {} » n'est pas un domaine",
                    self.conversation_domain()
                ));
            }
        }
        if i.unrecognised_retention_days == 0 {
            return Err("clé `inbound.unrecognised_retention_days` : au moins 1 jour".into());
        }
        let mut keys = std::collections::BTreeSet::new();
        for (n, m) in self.mailboxes.iter().enumerate() {
            let at = format!("clé `mailboxes` (boîte n° {})", n + 1);
            if m.host.trim().is_empty() || m.user.trim().is_empty() || m.port == 0 {
                return Err(format!("{at} : host, port et user sont obligatoires"));
            }
            if m.tls == ImapTls::None && !is_loopback(&m.host) {
                return Err(format!(
                    "{at} : tls = \"none\" n'est permis que pour un serveur local (127.0.0.1, \
                     ::1, localhost) ; utilisez \"implicit\" ou \"starttls\""
                ));
            }
            for folder in [&m.folder, &m.processed_folder, &m.unrecognised_folder] {
                if folder.trim().is_empty() || folder.chars().any(|c| c.is_control() || c == '"') {
                    return Err(format!("{at} : nom de dossier invalide « {folder} »"));
                }
            }
            if m.folder == m.processed_folder || m.folder == m.unrecognised_folder {
                return Err(format!(
                    "{at} : le dossier lu doit différer des dossiers « traité » et « non reconnu »"
                ));
            }
            if let Some(ca) = &m.ca_file {
                if !ca.is_file() {
                    return Err(format!(
                        "{at} : ca_file {} n'est pas un fichier lisible",
                        ca.display()
                    ));
                }
            }
            if !keys.insert(m.key()) {
                return Err(format!("{at} : deux boîtes portent le nom « {} »", m.key()));
            }
        }
        Ok(())
    }

    pub fn check_production(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| {
            Err(ConfigError(format!(
                "clé `{key}` (environnement {PRODUCTION}) : {why}"
            )))
        };
        if self.mail.transport == MailTransportKind::File {
            return bad(
                "mail.transport",
                "le transport « file » range les courriels dans un dossier sans les envoyer ; \
                 configurez un relais : mail.transport = \"smtp\" et mail.smtp.*"
                    .into(),
            );
        }
        if let Err(why) = secret_key_strength(self.security.secret_key.expose_secret()) {
            return bad(
                "security.secret_key",
                format!(
                    "{why} ; générez-en une, par exemple avec « openssl rand -base64 48 », et \
                     donnez-la par VOCATION__SECURITY__SECRET_KEY"
                ),
            );
        }
        if !self.http.public_url.starts_with("https://") {
            return bad(
                "http.public_url",
                format!(
                    "« {} » n'est pas en https : les cookies du personnel perdraient l'attribut \
                     Secure, HSTS ne serait pas envoyé et les liens de désinscription en un clic \
                     doivent être en https (RFC 8058)",
                    self.http.public_url
                ),
            );
        }
        let at_localhost = |address: &str| {
            address
                .parse::<Mailbox>()
                .is_ok_and(|m| m.email.domain().eq_ignore_ascii_case("localhost"))
        };
        for (key, address) in [
            ("mail.from", &self.mail.from),
            (
                "organisation.contact_email",
                &self.organisation.contact_email,
            ),
        ] {
            if at_localhost(address) {
                return bad(
                    key,
                    format!(
                        "« {address} » est l'adresse d'exemple en @localhost : donnez l'adresse \
                         réelle du service (expédition, contact des candidats et désinscription)"
                    ),
                );
            }
        }
        if self.metrics.enabled {
            let token = self.metrics.token.expose_secret().trim();
            if token.chars().count() < MIN_METRICS_TOKEN_CHARS {
                return bad(
                    "metrics.token",
                    format!(
                        "{} ; /metrics serait lisible par quiconque atteint le service (il \
                         écoute sur toutes les interfaces) : donnez un jeton d'au moins \
                         {MIN_METRICS_TOKEN_CHARS} caractères par VOCATION__METRICS__TOKEN \
                         (par exemple « openssl rand -base64 32 »), ou coupez les métriques \
                         avec metrics.enabled = false",
                        if token.is_empty() {
                            "aucun jeton n'est configuré".to_owned()
                        } else {
                            format!(
                                "le jeton est trop court ({} caractères)",
                                token.chars().count()
                            )
                        }
                    ),
                );
            }
        }
        Ok(())
    }

    pub fn database_url(&self) -> &str {
        self.database.url.expose_secret()
    }

    /// The public URL without a trailing slash, for building links.
    pub fn public_base(&self) -> &str {
        self.http.public_url.trim_end_matches('/')
    }

    /// The domain used in Message-IDs.
    pub fn mail_domain(&self) -> String {
        url::Url::parse(&self.http.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned())
    }

    /// The domain of the conversation address: `inbound.reply_domain`, or that of `mail.from`.
    pub fn conversation_domain(&self) -> String {
        if !self.inbound.reply_domain.trim().is_empty() {
            return self.inbound.reply_domain.trim().to_owned();
        }
        self.mail
            .from
            .parse::<lettre::message::Mailbox>()
            .map(|m| m.email.domain().to_owned())
            .unwrap_or_else(|_| self.mail_domain())
    }

    /// Whether answers to mail sent to candidates come back to a mailbox Vocation reads: then
    /// that mail goes with a conversation Reply-To.
    pub fn conversations(&self) -> bool {
        !self.mailboxes.is_empty() && !self.inbound.reply_local_part.trim().is_empty()
    }

    /// The conversation address of a candidate (`recrutement+TOKEN@domain`), when
    /// conversations are read.
    pub fn conversation_address(&self, candidate_id: i64) -> Option<String> {
        self.conversations().then(|| {
            crate::campaigns::links::conversation_address(
                self.inbound.reply_local_part.trim(),
                &self.conversation_domain(),
                self.security.secret_key.expose_secret().as_bytes(),
                candidate_id,
            )
        })
    }

    /// The name the service greets SMTP relays with: `mail.smtp.hello_name`, or the public
    /// host.
    pub fn hello_name(&self) -> String {
        if self.mail.smtp.hello_name.is_empty() {
            self.mail_domain()
        } else {
            self.mail.smtp.hello_name.clone()
        }
    }

    pub fn secure_cookies(&self) -> bool {
        self.http.public_url.starts_with("https://")
    }
}

/// The environment whose settings `check_production` checks (`VOCATION_ENV=production`).
pub const PRODUCTION: &str = "production";

/// The shortest metrics token production accepts (`openssl rand -base64 32` gives 44).
pub const MIN_METRICS_TOKEN_CHARS: usize = 32;

/// Why a secret key is too weak for production: the development key shipped in
/// `config/default.toml`, fewer than 64 characters, or little variety (few distinct characters,
/// a repeated pattern, under 128 bits by the key's own character frequencies).
pub fn secret_key_strength(key: &str) -> Result<(), String> {
    let shipped = config::Config::builder()
        .add_source(config::File::from_str(
            EMBEDDED_DEFAULTS,
            config::FileFormat::Toml,
        ))
        .build()
        .and_then(|c| c.get_string("security.secret_key"))
        .ok();
    if shipped.as_deref() == Some(key) {
        return Err("c'est la clé de développement livrée avec Vocation".into());
    }
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 64 {
        return Err(format!(
            "{} caractères ; il en faut au moins 64",
            chars.len()
        ));
    }
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0_usize) += 1;
    }
    if counts.len() < 10 {
        return Err(format!(
            "trop peu variée ({} caractères différents ; au moins 10)",
            counts.len()
        ));
    }
    let repeats = (1..=chars.len() / 2).any(|period| {
        chars.len().is_multiple_of(period) && chars[period..] == chars[..chars.len() - period]
    });
    if repeats {
        return Err("elle répète un même motif".into());
    }
    let n = chars.len() as f64;
    let bits: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2() * n
        })
        .sum();
    if bits < 128.0 {
        return Err(format!(
            "trop prévisible (environ {} bits d'après ses caractères ; au moins 128)",
            bits as u32
        ));
    }
    Ok(())
}

/// A database URL with its password replaced, safe to print.
pub fn mask_database_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(adresse illisible)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_pass_their_own_checks() {
        let s = Settings::load_for("development").expect("defaults");
        assert_eq!(s.http.port, 8080);
        assert_eq!(s.mail.transport, MailTransportKind::File);
    }

    #[test]
    fn partners_need_an_exact_https_origin_a_plain_id_and_a_link_code() {
        let mut s = Settings::load_for("development").unwrap();
        assert!(s.open_web.partners.is_empty());
        assert_eq!(s.open_web.region, "Occitanie");
        let partner = |id: &str, origin: &str, code: &str| PartnerSettings {
            id: id.into(),
            name: "#Dites32".into(),
            origin: origin.into(),
            link_code: code.into(),
        };
        s.open_web.partners = vec![
            partner("dites32", "https://www.dites32.fr", "dites32"),
            partner("ordre-32", "https://ordre32.example:8443", "ordre_32"),
        ];
        s.check().expect("two good partners");
        for (id, origin, code) in [
            ("dites32", "http://www.dites32.fr", "x"),
            ("dites32", "https://www.dites32.fr/", "x"),
            ("dites32", "https://www.dites32.fr/postes", "x"),
            ("dites32", "https://WWW.dites32.fr", "x"),
            ("dites32", "https://www.dites32.fr:443", "x"),
            ("dites32", "*", "x"),
            ("dites32", "null", "x"),
            ("Dites32", "https://www.dites32.fr", "x"),
            ("dites/32", "https://www.dites32.fr", "x"),
            ("", "https://www.dites32.fr", "x"),
            ("dites32", "https://www.dites32.fr", ""),
            ("dites32", "https://www.dites32.fr", "a b"),
            ("dites32", "https://www.dites32.fr", "a?b=c"),
        ] {
            s.open_web.partners = vec![partner(id, origin, code)];
            let e = s.check().unwrap_err().to_string();
            assert!(e.contains("open_web.partners"), "{id} {origin} {code}: {e}");
        }
        s.open_web.partners = vec![
            partner("dites32", "https://www.dites32.fr", "a"),
            partner("dites32", "https://autre.example", "b"),
        ];
        assert!(s.check().unwrap_err().to_string().contains("deux fois"));
    }

    #[test]
    fn a_password_is_masked() {
        assert_eq!(
            mask_database_url("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
    }

    #[test]
    fn a_mailbox_without_tls_must_be_local_and_mailboxes_load_from_toml() {
        let mut s = Settings::load_for("development").unwrap();
        assert!(s.mailboxes.is_empty());
        assert_eq!(s.inbound.soft_bounce_limit, 3);
        let mailboxes: std::collections::BTreeMap<String, Vec<MailboxSettings>> =
            config::Config::builder()
                .add_source(config::File::from_str(
                    "[[mailboxes]]\nhost = \"imap.example.org\"\nuser = \"rebonds\"\npassword = \"x\"\n",
                    config::FileFormat::Toml,
                ))
                .build()
                .unwrap()
                .try_deserialize()
                .unwrap();
        let m = mailboxes["mailboxes"][0].clone();
        assert_eq!((m.port, m.tls), (993, ImapTls::Implicit));
        assert_eq!(m.processed_folder, "Traité");
        assert_eq!(m.key(), "rebonds@imap.example.org");
        s.mailboxes = vec![m.clone()];
        s.check().expect("an IMAP mailbox over TLS");
        s.mailboxes[0].tls = ImapTls::None;
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("mailboxes") && e.contains("tls"), "{e}");
        s.mailboxes[0].host = "127.0.0.1".into();
        s.check().expect("plain IMAP to the loopback interface");
        s.mailboxes[0].processed_folder = "INBOX".into();
        assert!(s.check().is_err());
        s.mailboxes[0].processed_folder = "Traité".into();
        s.mailboxes.push(s.mailboxes[0].clone());
        assert!(s.check().unwrap_err().to_string().contains("deux boîtes"));
        s.mailboxes.truncate(1);
        s.inbound.bounce_local_part = "bounce+x".into();
        assert!(s
            .check()
            .unwrap_err()
            .to_string()
            .contains("bounce_local_part"));
    }

    #[test]
    fn an_accent_without_contrast_or_a_missing_logo_stops_the_start() {
        let mut s = Settings::load_for("development").unwrap();
        s.organisation.accent_colour = "#0b6e4f".into();
        s.check().expect("a dark green is fine");
        s.organisation.accent_colour = "#f5c400".into();
        let e = s.check().unwrap_err().to_string();
        assert!(
            e.contains("organisation.accent_colour") && e.contains("4,5"),
            "{e}"
        );
        s.organisation.accent_colour = "vert".into();
        assert!(s.check().unwrap_err().to_string().contains("hexadécimale"));
        s.organisation.accent_colour = String::new();
        s.organisation.logo_path = "/nonexistent/logo.svg".into();
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("organisation.logo_path"), "{e}");
        s.organisation.logo_path = "Cargo.toml".into();
        assert!(s.check().unwrap_err().to_string().contains("SVG, PNG"));
    }

    #[test]
    fn a_bad_sender_names_its_key() {
        let mut s = Settings::load_for("development").unwrap();
        s.mail.from = "not an address".into();
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("mail.from"), "{e}");
    }
}

/// The département's identity as printed on letters (courrier campaigns): top left of every
/// letter, and the town of the date line. Defaults are the Gers'.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct LetterSettings {
    pub sender_name: String,
    pub service: String,
    /// The return address, one line each.
    pub address_lines: Vec<String>,
    /// The town of the date line (« Auch, le 7 décembre 2026 »).
    pub place: String,
}

impl Default for LetterSettings {
    fn default() -> Self {
        LetterSettings {
            sender_name: "Département du Gers".to_owned(),
            service: "Centre départemental de santé".to_owned(),
            address_lines: vec!["81 route de Pessan".to_owned(), "32000 AUCH".to_owned()],
            place: "Auch".to_owned(),
        }
    }
}

/// The accessibility statement at /accessibilite (RGAA).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct AccessibilitySettings {
    /// « totalement conforme », « partiellement conforme » or « non conforme ».
    pub status: String,
    /// When the statement was drawn up, as shown (« 23 novembre 2026 »).
    pub established_on: String,
    /// Who checked the pages and how, when an audit was done; empty: self-assessment.
    pub audit: String,
    /// Content known not to be accessible, one sentence each.
    pub non_accessible: Vec<String>,
    /// Content exempted (disproportionate burden) or out of scope, one sentence each.
    pub exemptions: Vec<String>,
    /// Where to report a problem; empty: organisation.contact_email.
    pub contact_email: String,
}
