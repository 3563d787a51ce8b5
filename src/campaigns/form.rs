//! The campaign form's rules: the form as typed, and what makes it a campaign to save (name,
//! template, lists, a sender that makes a From header, rate bounds, a schedule in the future,
//! Paris time); with the use cases of the form's page (what it offers, saving).

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use diesel::PgConnection;
use diesel::QueryResult;
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};

use crate::campaigns::library::{self, AudienceList, MailTemplate};
use crate::campaigns::runs::{self, Campaign, CampaignInput, LifecycleError, Schedule};
use crate::config::Settings;
use crate::db::enums::{CampaignStatus, ScheduleKind};
use crate::domain::EmailAddress;
use crate::domain::{parse_date, FieldErrors};

/// « 01/12/2026 à 09:00 », Paris time.
pub fn paris(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris)
        .format("%d/%m/%Y à %H:%M")
        .to_string()
}

/// The sender proposed for a new campaign and used for test sends: `mail.from`, with the
/// organisation's service as the name when the address has none.
pub fn default_sender(settings: &Settings) -> (String, String) {
    match settings.mail.from.parse::<Mailbox>() {
        Ok(m) => (
            m.name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| settings.organisation.service.clone()),
            m.email.to_string(),
        ),
        Err(_) => (
            settings.organisation.service.clone(),
            settings.organisation.contact_email.clone(),
        ),
    }
}

/// The campaign form as typed (lists repeat their field).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CampaignForm {
    /// The form's anti-forgery token: checked by the page, never shown again.
    #[serde(skip_serializing)]
    pub csrf: String,
    pub nom: String,
    pub modele: String,
    pub listes: Vec<String>,
    pub expediteur_nom: String,
    pub expediteur_adresse: String,
    pub debit: String,
    pub envoi: String,
    pub date: String,
    pub heure: String,
    pub cron: String,
}

/// The form's fields in order (id, label), for its error summary.
pub const CAMPAIGN_FIELDS: &[(&str, &str)] = &[
    ("nom", "Nom de la campagne"),
    ("modele", "Modèle du message"),
    ("listes", "Listes de destinataires"),
    ("expediteur_nom", "Nom de l'expéditeur"),
    ("expediteur_adresse", "Adresse de l'expéditeur"),
    ("debit", "Rythme d'envoi"),
    ("envoi", "Quand envoyer"),
    ("date", "Date d'envoi"),
    ("heure", "Heure d'envoi"),
    ("cron", "Récurrence"),
];

/// Most messages per minute a campaign may send.
pub const MAX_RATE: i32 = 100_000;

impl CampaignForm {
    /// What a new campaign's form proposes: the configured sender and rate, sent at once.
    pub fn defaults(settings: &Settings) -> CampaignForm {
        let (name, address) = default_sender(settings);
        CampaignForm {
            expediteur_nom: name,
            expediteur_adresse: address,
            debit: settings.campaigns.default_rate_per_minute.to_string(),
            envoi: ScheduleKind::Now.code().to_owned(),
            ..CampaignForm::default()
        }
    }

    /// A saved campaign as its form shows it.
    pub fn from_campaign(c: &Campaign, lists: &[i64]) -> CampaignForm {
        let (date, heure) = match c.scheduled_at {
            Some(t) if c.schedule_kind == ScheduleKind::At => {
                let local = t.with_timezone(&Paris);
                (
                    local.format("%Y-%m-%d").to_string(),
                    local.format("%H:%M").to_string(),
                )
            }
            _ => (String::new(), String::new()),
        };
        CampaignForm {
            csrf: String::new(),
            nom: c.name.clone(),
            modele: c.template_id.to_string(),
            listes: lists.iter().map(i64::to_string).collect(),
            expediteur_nom: c.sender_name.clone(),
            expediteur_adresse: c.sender_email.clone(),
            debit: c.rate_per_minute.to_string(),
            envoi: c.schedule_kind.code().to_owned(),
            date,
            heure,
            cron: c.cron.clone().unwrap_or_default(),
        }
    }

    /// With DKIM on, the sender's domain must align with the signing domain (DMARC, relaxed:
    /// the same domain or one a subdomain of the other, see [`crate::mail::aligned`]);
    /// otherwise receivers that check DMARC refuse or file the campaign. The message for the
    /// address field, when it does not (an invalid address is left to [`Self::validate`]).
    pub fn misaligned_sender(&self, signing_domain: &str) -> Option<String> {
        let address = self.expediteur_adresse.trim();
        let (_, domain) = address.rsplit_once('@')?;
        if domain.is_empty() || crate::mail::aligned(address, signing_domain) {
            return None;
        }
        Some(format!(
            "Les messages sont signés pour le domaine {signing_domain} : l'adresse de \
             l'expéditeur doit être de ce domaine ou d'un de ses sous-domaines (par exemple \
             recrutement@{signing_domain}). Avec « {domain} », les messageries qui vérifient \
             DMARC les refuseraient ou les classeraient en indésirables."
        ))
    }

    /// The campaign to save, or a message per wrong field. `now` decides what « future » is.
    pub fn validate(
        &self,
        templates: &[i64],
        lists: &[i64],
        now: DateTime<Utc>,
    ) -> Result<CampaignInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = self.nom.trim();
        if name.is_empty() {
            errors.add(
                "nom",
                "Donnez un nom à la campagne, par exemple « Internes – novembre 2026 ».",
            );
        } else if name.chars().count() > 200 {
            errors.add("nom", "200 caractères au plus pour le nom.");
        }
        let template_id = self.modele.trim().parse::<i64>().ok();
        let template_id = match template_id {
            Some(id) if templates.contains(&id) => id,
            _ => {
                errors.add("modele", "Choisissez le modèle du message dans la liste.");
                0
            }
        };
        let mut list_ids: Vec<i64> = Vec::new();
        for raw in &self.listes {
            match raw.trim().parse::<i64>() {
                Ok(id) if lists.contains(&id) => list_ids.push(id),
                _ => errors.add(
                    "listes",
                    "Une des listes cochées n'existe plus : vérifiez les listes cochées.",
                ),
            }
        }
        list_ids.sort_unstable();
        list_ids.dedup();
        if list_ids.is_empty() {
            errors.add("listes", "Cochez au moins une liste de destinataires.");
        }
        let sender_name = self.expediteur_nom.trim();
        if sender_name.is_empty() {
            errors.add(
                "expediteur_nom",
                "Indiquez le nom de l'expéditeur, par exemple « Centre départemental de santé du Gers ».",
            );
        } else if sender_name.chars().count() > 100 {
            errors.add(
                "expediteur_nom",
                "100 caractères au plus pour le nom de l'expéditeur.",
            );
        } else if sender_name.chars().any(|c| c.is_control()) {
            errors.add(
                "expediteur_nom",
                "Le nom de l'expéditeur tient sur une ligne.",
            );
        }
        let sender_email = self.expediteur_adresse.trim();
        let address = if sender_email.is_empty() {
            errors.add(
                "expediteur_adresse",
                "Indiquez l'adresse de l'expéditeur, par exemple recrutement@gers.fr.",
            );
            None
        } else {
            match (
                EmailAddress::parse(sender_email),
                sender_email.parse::<lettre::Address>(),
            ) {
                (Ok(_), Ok(a)) => Some(a),
                _ => {
                    errors.add(
                        "expediteur_adresse",
                        format!(
                            "« {sender_email} » n'est pas une adresse électronique valide : \
                             écrivez-la au format recrutement@gers.fr."
                        ),
                    );
                    None
                }
            }
        };
        if let Some(address) = address {
            // Name and address together must make a From header.
            if !sender_name.is_empty()
                && Mailbox::new(Some(sender_name.to_owned()), address)
                    .to_string()
                    .parse::<Mailbox>()
                    .is_err()
            {
                errors.add(
                    "expediteur_nom",
                    "Ce nom ne peut pas figurer dans l'en-tête du message : retirez les signes < > \" et les retours à la ligne.",
                );
            }
        }
        let rate_text: String = self.debit.chars().filter(|c| !c.is_whitespace()).collect();
        let rate = match rate_text.parse::<i32>() {
            Ok(r) if (1..=MAX_RATE).contains(&r) => r,
            _ => {
                errors.add(
                    "debit",
                    "Indiquez un nombre entier de messages par minute, entre 1 et 100 000 (par exemple 600).",
                );
                1
            }
        };
        let schedule = match ScheduleKind::from_code(self.envoi.trim()) {
            None => {
                errors.add(
                    "envoi",
                    "Choisissez quand envoyer : dès maintenant, à une date, ou de façon récurrente.",
                );
                None
            }
            Some(ScheduleKind::Now) => Some(Schedule::Now),
            Some(ScheduleKind::At) => self.parse_at(now, &mut errors).map(Schedule::At),
            Some(ScheduleKind::Cron) => {
                let expr = self.cron.split_whitespace().collect::<Vec<_>>().join(" ");
                if expr.is_empty() {
                    errors.add(
                        "cron",
                        "Indiquez la récurrence, par exemple « 0 9 * * 1 » pour chaque lundi à 9 h.",
                    );
                    None
                } else {
                    match runs::parse_cron(&expr) {
                        Ok(_) => Some(Schedule::Cron(expr)),
                        Err(message) => {
                            errors.add("cron", message);
                            None
                        }
                    }
                }
            }
        };
        match schedule {
            Some(schedule) if errors.is_empty() => Ok(CampaignInput {
                name: name.to_owned(),
                template_id,
                list_ids,
                sender_name: sender_name.to_owned(),
                sender_email: sender_email.to_owned(),
                rate_per_minute: rate,
                schedule,
            }),
            _ => Err(errors),
        }
    }

    /// The date and time typed (Paris time), in the future.
    fn parse_at(&self, now: DateTime<Utc>, errors: &mut FieldErrors) -> Option<DateTime<Utc>> {
        let date = if self.date.trim().is_empty() {
            errors.add("date", "Indiquez la date d'envoi, par exemple 01/12/2026.");
            None
        } else {
            let parsed = parse_date(&self.date);
            if parsed.is_none() {
                errors.add(
                    "date",
                    format!(
                        "« {} » n'est pas une date : écrivez-la JJ/MM/AAAA, par exemple 01/12/2026.",
                        self.date.trim()
                    ),
                );
            }
            parsed
        };
        let time_text = self.heure.trim().replace(['h', 'H'], ":");
        let time_text = if time_text.ends_with(':') {
            format!("{time_text}00")
        } else {
            time_text
        };
        let time = if self.heure.trim().is_empty() {
            errors.add("heure", "Indiquez l'heure d'envoi, par exemple 09:30.");
            None
        } else {
            let parsed = NaiveTime::parse_from_str(&time_text, "%H:%M").ok();
            if parsed.is_none() {
                errors.add(
                    "heure",
                    format!(
                        "« {} » n'est pas une heure : écrivez-la HH:MM, par exemple 09:30.",
                        self.heure.trim()
                    ),
                );
            }
            parsed
        };
        let (date, time) = (date?, time?);
        let Some(at) = Paris
            .from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
        else {
            errors.add(
                "heure",
                "Cette heure n'existe pas ce jour-là (changement d'heure) : choisissez-en une autre.",
            );
            return None;
        };
        if at <= now {
            errors.add(
                "date",
                format!(
                    "Le {} est passé : choisissez une date et une heure à venir (heure de Paris).",
                    paris(at)
                ),
            );
            return None;
        }
        Some(at)
    }
}

/// What the form offers: every template and every list with its active contacts.
pub fn choices(conn: &mut PgConnection) -> QueryResult<(Vec<MailTemplate>, Vec<AudienceList>)> {
    Ok((library::list(conn)?, library::audience_lists(conn)?))
}

/// A campaign as its form shows it, with its lists; None when it does not exist.
pub fn for_editing(conn: &mut PgConnection, id: i64) -> QueryResult<Option<(Campaign, Vec<i64>)>> {
    let Some(campaign) = runs::find(conn, id)? else {
        return Ok(None);
    };
    let lists = runs::list_ids(conn, id)?;
    Ok(Some((campaign, lists)))
}

/// The templates and lists a submitted form may name: None when the campaign being changed
/// (`id`) does not exist.
pub fn known_ids(
    conn: &mut PgConnection,
    id: Option<i64>,
) -> QueryResult<Option<(Vec<i64>, Vec<i64>)>> {
    if let Some(id) = id {
        if runs::find(conn, id)?.is_none() {
            return Ok(None);
        }
    }
    let templates: Vec<i64> = library::list(conn)?.iter().map(|t| t.id).collect();
    let lists: Vec<i64> = library::audience_lists(conn)?
        .iter()
        .map(|l| l.id)
        .collect();
    Ok(Some((templates, lists)))
}

/// Creates (`id` None) or changes a draft campaign; its id.
pub fn save(
    conn: &mut PgConnection,
    id: Option<i64>,
    input: &CampaignInput,
    actor: i64,
) -> Result<i64, LifecycleError> {
    match id {
        None => Ok(runs::create(conn, input, Some(actor))?),
        Some(id) => runs::update(conn, id, input, Some(actor)).map(|()| id),
    }
}

/// Why a campaign cannot be changed: only a draft can.
pub fn not_a_draft(status: CampaignStatus) -> String {
    match status {
        CampaignStatus::Scheduled => "Cette campagne est programmée : déprogrammez-la d'abord \
                                      pour la modifier."
            .to_owned(),
        s => format!(
            "Seule une campagne en brouillon peut être modifiée ; celle-ci est « {} ».",
            s.label().to_lowercase()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> CampaignForm {
        CampaignForm {
            nom: "Internes".into(),
            modele: "1".into(),
            listes: vec!["2".into()],
            expediteur_nom: "CDS32".into(),
            expediteur_adresse: "recrutement@gers.fr".into(),
            debit: "1 000".into(),
            envoi: "maintenant".into(),
            ..CampaignForm::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_valid_form_gives_the_campaign() {
        let input = form().validate(&[1], &[2, 3], now()).unwrap();
        assert_eq!(input.rate_per_minute, 1000);
        assert_eq!(input.list_ids, vec![2]);
        assert_eq!(input.schedule, Schedule::Now);
    }

    #[test]
    fn dates_are_paris_time_and_must_be_ahead() {
        let mut f = form();
        f.envoi = "date".into();
        f.date = "2026-11-23".into();
        f.heure = "12h".into();
        // 12:00 in Paris is 11:00 UTC, an hour ahead.
        let input = f.validate(&[1], &[2], now()).unwrap();
        assert_eq!(
            input.schedule,
            Schedule::At(
                DateTime::parse_from_rfc3339("2026-11-23T11:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc)
            )
        );
        f.heure = "10:30".into();
        let errors = f.validate(&[1], &[2], now()).unwrap_err();
        assert!(errors.0["date"].contains("est passé"), "{:?}", errors.0);
    }

    #[test]
    fn each_wrong_field_has_its_message() {
        let f = CampaignForm {
            nom: String::new(),
            modele: "9".into(),
            listes: vec![],
            expediteur_nom: "Nom\nInjecté".into(),
            expediteur_adresse: "pas-une-adresse".into(),
            debit: "0".into(),
            envoi: "cron".into(),
            cron: "*/5 * * * *".into(),
            ..CampaignForm::default()
        };
        let errors = f.validate(&[1], &[2], now()).unwrap_err();
        for field in [
            "nom",
            "modele",
            "listes",
            "expediteur_nom",
            "expediteur_adresse",
            "debit",
            "cron",
        ] {
            assert!(errors.0.contains_key(field), "{field}: {:?}", errors.0);
        }
    }
}
