//! The e-mails a submission sends: the confirmation to the doctor and, for a new application,
//! the notification to each recruiter, rendered from one context and queued with the record.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::fields::NewApplication;
use super::lists::FormLists;
use super::record::Recorded;
use crate::config::Settings;
use crate::domain::describe_half_days;
use crate::mail::new_message_id;
use crate::mail::outbox::NewOutboundEmail;
use crate::specialties::Specialty;
use crate::templates::{self, RenderedEmail};

/// The data both e-mails are rendered from.
pub(super) fn context(
    settings: &Settings,
    specialties: &[Specialty],
    app: &NewApplication,
    lists: &FormLists,
) -> Value {
    let specialty = specialties
        .iter()
        .find(|s| s.code == app.specialty_code)
        .map(|s| s.label.clone())
        .unwrap_or_default();
    let centres: Vec<String> = lists
        .centres
        .iter()
        .filter(|c| app.centre_ids.contains(&c.id))
        .map(|c| c.commune.clone())
        .collect();
    let position = app
        .position_id
        .and_then(|id| lists.positions.iter().find(|p| p.id == id))
        .map(|p| p.title.clone());
    let working_time = match app.part_time_half_days {
        Some(n) => format!("Temps partiel, {}", describe_half_days(n)),
        None => "Temps plein".to_owned(),
    };
    json!({
        "org": settings.organisation,
        "privacy": settings.privacy,
        "public_url": settings.public_base(),
        "civility": app.civility.label(),
        "first_name": app.first_name.as_str(),
        "last_name": app.last_name.as_str(),
        "salutation": crate::domain::salutation(
            app.first_name.as_str(),
            app.last_name.as_str(),
            app.situation.code(),
            app.rpps.as_ref().map(|r| r.as_str()),
        ),
        "email": app.email.as_str(),
        "phone": app.phone.as_str(),
        "rpps": app.rpps.as_ref().map(|r| r.as_str()),
        "specialty": specialty,
        "situation": app.situation.label(),
        "availability": app.available_from.map(|d| d.format("%d/%m/%Y").to_string()),
        "working_time": working_time,
        "centres": centres,
        "on_call": app.on_call,
        "intern_training": app.intern_training,
        "spouse": app.spouse.label(),
        "message": app.message.as_str(),
        "position": position,
        "pool_consent": app.pool_consent,
        "heard_from": app.heard_from.map(|h| h.label()),
        "utm_campaign": app.utm.campaign,
        "utm_source": app.utm.source,
    })
}

fn render_email(name: &str, data: &Value) -> anyhow::Result<RenderedEmail> {
    templates::global()
        .render_email(name, data)
        .map_err(|e| anyhow::anyhow!("rendering e-mail {name}: {e}"))
}

/// The confirmation to the doctor (at `recipient`, the address on file when the application
/// joined a known record) and, for a new application, the notification to recruiters; each tied
/// to the candidate and the application.
pub(super) fn application_emails(
    recorded: Recorded,
    mut data: Value,
    recipient: &str,
    settings: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<NewOutboundEmail>> {
    // The confirmation reads the same whether the person was known or not.
    let (new, suspected_duplicate, candidate_id) = match recorded {
        Recorded::New {
            suspected_duplicate,
            candidate_id,
            ..
        } => (true, suspected_duplicate, candidate_id),
        Recorded::Completed { candidate_id, .. } => (false, false, candidate_id),
        Recorded::AlreadyReceived { .. } => return Ok(Vec::new()),
    };
    let domain = settings.mail_domain();
    data["application_id"] = json!(recorded.application_id());
    data["data_url"] = json!(crate::privacy::link_url(settings, candidate_id, now));
    let mut emails = vec![NewOutboundEmail::new(
        "application_confirmation",
        recipient,
        render_email("application_confirmation", &data)?,
        new_message_id(&domain),
    )];
    // The private link is the doctor's alone.
    data["data_url"] = Value::Null;
    data["candidate_id"] = json!(candidate_id);
    data["merged"] = json!(matches!(recorded, Recorded::New { merged: true, .. }));
    data["suspected_duplicate"] = json!(suspected_duplicate);
    if new {
        let notification = render_email("recruiter_notification", &data)?;
        for address in &settings.recruiters.notify {
            emails.push(NewOutboundEmail::new(
                "recruiter_notification",
                address.trim(),
                notification.clone(),
                new_message_id(&domain),
            ));
        }
    }
    for email in &mut emails {
        email.candidate_id = Some(candidate_id);
        email.application_id = Some(recorded.application_id());
    }
    Ok(emails)
}
