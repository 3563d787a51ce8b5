//! Interviews and site visits: recorded on an application, listed in an agenda, exported as
//! iCalendar (.ics) and sent to the candidate as an invitation.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;
use icalendar::{Calendar, Component, Event, EventLike};
use serde::Serialize;

use crate::config::Settings;
use crate::db::schema::{applications, candidates, centres, meetings};
use crate::mail::outbox::NewOutboundEmail;
use crate::staff::audit::audit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MeetingKind {
    Interview,
    SiteVisit,
}

impl MeetingKind {
    pub fn code(self) -> &'static str {
        match self {
            MeetingKind::Interview => "entretien",
            MeetingKind::SiteVisit => "visite",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MeetingKind::Interview => "Entretien",
            MeetingKind::SiteVisit => "Visite du territoire",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "entretien" => Some(MeetingKind::Interview),
            "visite" => Some(MeetingKind::SiteVisit),
            _ => None,
        }
    }
}

/// A meeting to record, already checked.
#[derive(Debug, Clone)]
pub struct NewMeeting {
    pub application_id: i64,
    pub kind: MeetingKind,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub centre_id: Option<i64>,
    pub location: String,
    pub participants: String,
    pub note: String,
}

/// Reads a date and a time typed in Paris time; the message says what to correct.
pub fn parse_start(date: &str, time: &str) -> Result<DateTime<Utc>, String> {
    let date = crate::domain::parse_date(date)
        .ok_or_else(|| "Date illisible : saisissez-la au format JJ/MM/AAAA.".to_owned())?;
    let time = NaiveTime::parse_from_str(time.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(&time.trim().replace('h', ":"), "%H:%M"))
        .map_err(|_| {
            "Heure illisible : saisissez-la au format HH:MM, par exemple 14:30.".to_owned()
        })?;
    let local = date.and_time(time);
    chrono_tz::Europe::Paris
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            "Cette heure n'existe pas ce jour-là (changement d'heure) : choisissez-en une autre."
                .to_owned()
        })
}

/// Records the meeting; None when the application does not exist.
pub fn create(conn: &mut PgConnection, actor: i64, m: &NewMeeting) -> QueryResult<Option<i64>> {
    conn.transaction(|conn| {
        let exists: bool = diesel::select(diesel::dsl::exists(
            applications::table.find(m.application_id),
        ))
        .get_result(conn)?;
        if !exists {
            return Ok(None);
        }
        let id: i64 = diesel::insert_into(meetings::table)
            .values((
                meetings::application_id.eq(m.application_id),
                meetings::kind.eq(m.kind.code()),
                meetings::starts_at.eq(m.starts_at),
                meetings::duration_minutes.eq(m.duration_minutes),
                meetings::centre_id.eq(m.centre_id),
                meetings::location.eq(&m.location),
                meetings::participants.eq(&m.participants),
                meetings::note.eq(&m.note),
                meetings::created_by.eq(Some(actor)),
            ))
            .returning(meetings::id)
            .get_result(conn)?;
        audit(
            conn,
            Some(actor),
            "rendez_vous",
            "application",
            Some(m.application_id),
            m.kind.code(),
        )?;
        Ok(Some(id))
    })
}

/// A meeting as pages, the agenda and invitations show it.
/// Reads a duration typed as people write it: « 90 », « 45 min », « 1 h 30 », « 1h30 », « 2 h ».
/// Answers minutes; None when unreadable.
pub fn parse_duration(input: &str) -> Option<i32> {
    let compact: String = input
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let compact = ["minutes", "minute", "min", "mn"]
        .iter()
        .find_map(|unit| compact.strip_suffix(unit))
        .unwrap_or(&compact);
    let number = |s: &str| -> Option<i32> {
        (!s.is_empty() && s.len() <= 4 && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match compact.split_once('h') {
        Some((h, m)) => {
            let m = if m.is_empty() { 0 } else { number(m)? };
            (m < 60).then_some(number(h)? * 60 + m)
        }
        None => number(compact),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MeetingView {
    pub id: i64,
    pub application_id: i64,
    pub candidate_id: i64,
    pub candidate: String,
    pub candidate_email: String,
    pub kind: &'static str,
    pub kind_code: &'static str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub duration_minutes: i32,
    /// The duration as people write it: « 1 h 30 », « 45 min ».
    pub duration: String,
    pub place: String,
    pub participants: String,
    pub note: String,
}

type MeetingRow = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    i32,
    Option<String>,
    String,
    String,
    String,
);

fn to_view(r: MeetingRow) -> MeetingView {
    let kind = MeetingKind::from_code(&r.6).unwrap_or(MeetingKind::Interview);
    let place = match (r.9, r.10.trim()) {
        (Some(centre), "") => centre,
        (Some(centre), extra) => format!("{centre} – {extra}"),
        (None, extra) => extra.to_owned(),
    };
    MeetingView {
        id: r.0,
        application_id: r.1,
        candidate_id: r.2,
        candidate: format!("{} {}", r.3, r.4),
        candidate_email: r.5,
        kind: kind.label(),
        kind_code: kind.code(),
        starts_at: r.7,
        ends_at: r.7 + Duration::minutes(i64::from(r.8)),
        duration_minutes: r.8,
        duration: crate::domain::french::duration(r.8),
        place,
        participants: r.11,
        note: r.12,
    }
}

#[diesel::dsl::auto_type]
#[allow(non_camel_case_types)]
fn meeting_source() -> _ {
    meetings::table
        .inner_join(applications::table.inner_join(candidates::table))
        .left_join(centres::table)
}

fn query() -> diesel::dsl::IntoBoxed<'static, meeting_source, diesel::pg::Pg> {
    meeting_source().into_boxed()
}

macro_rules! meeting_columns {
    () => {
        (
            meetings::id,
            applications::id,
            candidates::id,
            candidates::first_name,
            candidates::last_name,
            candidates::email,
            meetings::kind,
            meetings::starts_at,
            meetings::duration_minutes,
            centres::name.nullable(),
            meetings::location,
            meetings::participants,
            meetings::note,
        )
    };
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<MeetingView>> {
    query()
        .filter(meetings::id.eq(id))
        .select(meeting_columns!())
        .first::<MeetingRow>(conn)
        .optional()
        .map(|r| r.map(to_view))
}

pub fn for_candidate(conn: &mut PgConnection, candidate_id: i64) -> QueryResult<Vec<MeetingView>> {
    Ok(query()
        .filter(candidates::id.eq(candidate_id))
        .order(meetings::starts_at.asc())
        .select(meeting_columns!())
        .load::<MeetingRow>(conn)?
        .into_iter()
        .map(to_view)
        .collect())
}

/// Meetings from `from` (a day, Paris time) on, for the agenda.
pub fn upcoming(
    conn: &mut PgConnection,
    from: NaiveDate,
    limit: i64,
) -> QueryResult<Vec<MeetingView>> {
    let start = chrono_tz::Europe::Paris
        .from_local_datetime(&from.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    Ok(query()
        .filter(meetings::starts_at.ge(start))
        .order(meetings::starts_at.asc())
        .limit(limit)
        .select(meeting_columns!())
        .load::<MeetingRow>(conn)?
        .into_iter()
        .map(to_view)
        .collect())
}

/// The meeting as an iCalendar document; `organizer` is the service's address.
pub fn ics(
    m: &MeetingView,
    domain: &str,
    service: &str,
    organizer: &str,
    invitation: bool,
) -> String {
    let mut event = Event::new();
    event
        .uid(&format!("rendez-vous-{}@{}", m.id, domain))
        .summary(&format!("{} – {}", m.kind, service))
        .starts(m.starts_at)
        .ends(m.ends_at)
        .location(&m.place)
        .description(&if m.participants.is_empty() {
            format!("{} avec le {service}.", m.kind)
        } else {
            format!(
                "{} avec le {service}. Participants : {}.",
                m.kind, m.participants
            )
        })
        .add_property("ORGANIZER", format!("mailto:{organizer}"))
        .add_property("ATTENDEE", format!("mailto:{}", m.candidate_email))
        .add_property("STATUS", "CONFIRMED");
    let mut calendar = Calendar::new();
    calendar.push(event.done());
    if invitation {
        calendar.append_property(icalendar::Property::new("METHOD", "REQUEST"));
    }
    calendar.done().to_string()
}

/// Why a meeting was not scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleError {
    /// The application does not exist.
    NotFound,
    /// The centre chosen does not exist or is closed.
    UnknownCentre,
}

/// Schedules a meeting for an application and, when asked, queues the invitation to the
/// candidate in the same transaction. Answers the candidate's id (the page to go back to).
pub fn schedule(
    conn: &mut PgConnection,
    settings: &Settings,
    actor: i64,
    meeting: &NewMeeting,
    invite: bool,
) -> anyhow::Result<Result<i64, ScheduleError>> {
    conn.transaction(|conn| {
        if let Some(c) = meeting.centre_id {
            let known = crate::centres::list_choosable(conn)?
                .iter()
                .any(|x| x.id == c);
            if !known {
                return Ok(Err(ScheduleError::UnknownCentre));
            }
        }
        let Some(id) = create(conn, actor, meeting)? else {
            return Ok(Err(ScheduleError::NotFound));
        };
        let view = find(conn, id)?.ok_or_else(|| anyhow::anyhow!("meeting vanished"))?;
        if invite {
            let (first, last, situation, rpps): (String, String, String, Option<String>) =
                candidates::table
                    .find(view.candidate_id)
                    .select((
                        candidates::first_name,
                        candidates::last_name,
                        candidates::situation,
                        candidates::rpps,
                    ))
                    .first(conn)?;
            let greeting = crate::domain::salutation(&first, &last, &situation, rpps.as_deref());
            let mut email = invitation_email(settings, &view, &greeting)?;
            email.application_id = Some(meeting.application_id);
            email.candidate_id = Some(view.candidate_id);
            crate::mail::outbox::enqueue(conn, &[email])?;
        }
        Ok(Ok(view.candidate_id))
    })
}

/// The invitation e-mail of a meeting, with its calendar event.
fn invitation_email(
    settings: &Settings,
    m: &MeetingView,
    salutation: &str,
) -> anyhow::Result<NewOutboundEmail> {
    let paris = |t: DateTime<Utc>| t.with_timezone(&chrono_tz::Europe::Paris);
    let data = serde_json::json!({
        "org": settings.organisation,
        "kind": m.kind,
        "day": paris(m.starts_at).format("%d/%m/%Y").to_string(),
        "time": paris(m.starts_at).format("%H:%M").to_string(),
        "duration": m.duration,
        "place": m.place,
        "participants": m.participants,
        "candidate": m.candidate,
        "salutation": salutation,
    });
    let rendered = crate::templates::global()
        .render_email("meeting_invitation", &data)
        .map_err(|e| anyhow::anyhow!("rendering the invitation: {e}"))?;
    let mut email = NewOutboundEmail::new(
        "meeting_invitation",
        &m.candidate_email,
        rendered,
        crate::mail::new_message_id(&settings.mail_domain()),
    );
    email.ics = Some(ics(
        m,
        &settings.mail_domain(),
        &settings.organisation.service,
        &settings.organisation.contact_email,
        true,
    ));
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_as_people_type_them() {
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration(" 45 min "), Some(45));
        assert_eq!(parse_duration("1 h 30"), Some(90));
        assert_eq!(parse_duration("1h30"), Some(90));
        assert_eq!(parse_duration("2 h"), Some(120));
        assert_eq!(parse_duration("1\u{a0}h\u{a0}30"), Some(90));
        assert_eq!(parse_duration("1 h 75"), None);
        assert_eq!(parse_duration("-30"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("99999999999"), None);
    }

    #[test]
    fn durations_are_written_as_people_write_them() {
        let plain = |m| crate::domain::french::duration(m).replace('\u{a0}', " ");
        assert_eq!(plain(45), "45 min");
        assert_eq!(plain(5), "5 min");
        assert_eq!(plain(60), "1 h");
        assert_eq!(plain(90), "1 h 30");
        assert_eq!(plain(125), "2 h 05");
        assert_eq!(plain(240), "4 h");
        assert_eq!(plain(720), "12 h");
    }

    #[test]
    fn paris_times_are_stored_in_utc_across_daylight_saving() {
        assert_eq!(
            parse_start("2027-01-15", "14:30").unwrap().to_rfc3339(),
            "2027-01-15T13:30:00+00:00"
        );
        assert_eq!(
            parse_start("15/07/2027", "14h30").unwrap().to_rfc3339(),
            "2027-07-15T12:30:00+00:00"
        );
        assert!(
            parse_start("2027-03-28", "02:30").is_err(),
            "a time skipped by the clock change"
        );
        assert!(parse_start("demain", "14:30").is_err());
        assert!(parse_start("2027-01-15", "midi").is_err());
    }
}
