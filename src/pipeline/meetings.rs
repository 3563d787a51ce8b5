//! Interviews and site visits: recorded on an application, listed in an agenda, exported as
//! iCalendar (.ics) and sent to the candidate as a meeting request (iTIP/iMIP, RFC 5546 and
//! 6047): `METHOD:REQUEST` with the organiser and the candidate as attendee asked to answer,
//! `SEQUENCE` raised at each change (an update replaces the event in the candidate's
//! calendar), `METHOD:CANCEL` when it is called off. UIDs carry the installation's random part
//! so that they never collide with another installation's.

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
    /// The place's details as typed (`place` adds the centre).
    pub location: String,
    pub participants: String,
    pub note: String,
    /// The iCalendar SEQUENCE of the last version (0 at first, raised by each change).
    pub sequence: i32,
    pub cancelled: bool,
    /// The candidate's answer to the invitation (from their calendar), in words, and when.
    pub answer: Option<&'static str>,
    pub answer_code: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// The words for a candidate's answer to an invitation.
pub fn answer_label(code: &str) -> Option<&'static str> {
    match code {
        "accepte" => Some("Accepté par le médecin"),
        "refuse" => Some("Refusé par le médecin"),
        "provisoire" => Some("Accepté provisoirement par le médecin"),
        _ => None,
    }
}

/// The meeting a UID of ours stands for, when it is this installation's.
pub fn id_from_uid(uid: &str, installation: &str, domain: &str) -> Option<i64> {
    let rest = uid.strip_prefix("rendez-vous-")?;
    let (id, rest) = rest.split_once('.')?;
    if rest != format!("{installation}@{domain}") || id.is_empty() || id.len() > 18 {
        return None;
    }
    id.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| id.parse().ok())
        .flatten()
}

/// Records the candidate's answer to meeting `id` (an iMIP REPLY read from the mailbox).
pub fn record_answer(
    conn: &mut PgConnection,
    id: i64,
    answer: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(meetings::table.find(id))
        .set((meetings::answer.eq(answer), meetings::answered_at.eq(now)))
        .execute(conn)
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
    i32,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
);

fn to_view(r: MeetingRow) -> MeetingView {
    let kind = MeetingKind::from_code(&r.6).unwrap_or(MeetingKind::Interview);
    let location = r.10.clone();
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
        location,
        participants: r.11,
        note: r.12,
        sequence: r.13,
        cancelled: r.14.is_some(),
        answer: r.15.as_deref().and_then(answer_label),
        answer_code: r.15,
        answered_at: r.16,
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
            meetings::sequence,
            meetings::cancelled_at,
            meetings::answer,
            meetings::answered_at,
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

/// What an iCalendar document of a meeting is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarMethod {
    /// A file to import (the agenda's download): no METHOD.
    Publish,
    /// An invitation or its update (iTIP REQUEST).
    Request,
    /// The meeting is called off (iTIP CANCEL).
    Cancel,
}

/// Who the invitations come from, and what makes their UIDs unique.
#[derive(Debug, Clone)]
pub struct Organiser<'a> {
    /// The public host (the UIDs' domain).
    pub domain: &'a str,
    /// This installation's random part ([`crate::mail::installation_id`]).
    pub installation: &'a str,
    /// The service's name (CN) and address.
    pub service: &'a str,
    pub address: &'a str,
}

/// Our PRODID (RFC 5545 §3.7.3).
pub const PRODID: &str = "-//Vocation//Rendez-vous de recrutement 1.0//FR";

/// The UID of a meeting: the same for all its versions, unique across installations.
pub fn uid(id: i64, organiser: &Organiser<'_>) -> String {
    format!(
        "rendez-vous-{id}.{}@{}",
        organiser.installation, organiser.domain
    )
}

/// A parameter value as RFC 5545 §3.2 allows it: no DQUOTE nor control characters (the value
/// is quoted when it holds : ; or ,).
fn param_value(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .take(200)
        .collect();
    clean.trim().to_owned()
}

/// Text for a calendar value on one line: control characters (line breaks included) become
/// spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The meeting as an iCalendar document, stamped `now` (DTSTAMP).
pub fn ics(
    m: &MeetingView,
    organiser: &Organiser<'_>,
    method: CalendarMethod,
    now: DateTime<Utc>,
) -> String {
    let service = organiser.service;
    let mut event = Event::new();
    event
        .uid(&uid(m.id, organiser))
        .timestamp(now)
        .summary(&format!("{} – {}", m.kind, service))
        .starts(m.starts_at)
        .ends(m.ends_at)
        .location(&one_line(&m.place))
        .description(&one_line(&if m.participants.is_empty() {
            format!("{} avec le {service}.", m.kind)
        } else {
            format!(
                "{} avec le {service}. Participants : {}.",
                m.kind, m.participants
            )
        }))
        .add_property("SEQUENCE", m.sequence.max(0).to_string());
    let mut organizer =
        icalendar::Property::new("ORGANIZER", format!("mailto:{}", organiser.address));
    organizer.add_parameter("CN", &param_value(service));
    let mut attendee =
        icalendar::Property::new("ATTENDEE", format!("mailto:{}", m.candidate_email));
    attendee
        .add_parameter("CN", &param_value(&m.candidate))
        .add_parameter("ROLE", "REQ-PARTICIPANT")
        .add_parameter("PARTSTAT", "NEEDS-ACTION")
        .add_parameter("RSVP", "TRUE");
    event
        .append_property(organizer.done())
        .append_property(attendee.done());
    let cancelled = method == CalendarMethod::Cancel || m.cancelled;
    event.add_property("STATUS", if cancelled { "CANCELLED" } else { "CONFIRMED" });
    let mut calendar = Calendar::empty();
    calendar
        .append_property(icalendar::Property::new("VERSION", "2.0"))
        .append_property(icalendar::Property::new("PRODID", PRODID))
        .append_property(icalendar::Property::new("CALSCALE", "GREGORIAN"));
    match method {
        CalendarMethod::Publish => {}
        CalendarMethod::Request => {
            calendar.append_property(icalendar::Property::new("METHOD", "REQUEST"));
        }
        CalendarMethod::Cancel => {
            calendar.append_property(icalendar::Property::new("METHOD", "CANCEL"));
        }
    }
    calendar.push(event.done());
    calendar.done().to_string()
}

/// Why a meeting was not scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleError {
    /// The application does not exist.
    NotFound,
    /// The centre chosen does not exist or is closed.
    UnknownCentre,
    /// The meeting was cancelled: it can be neither moved nor cancelled again.
    Cancelled,
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
            queue_request(conn, settings, &view, Change::New, Utc::now())?;
        }
        Ok(Ok(view.candidate_id))
    })
}

/// What a meeting request tells the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    New,
    Moved,
    Cancelled,
}

/// Where and when a meeting moves to, already checked.
#[derive(Debug, Clone)]
pub struct MeetingMove {
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    /// The place's details (the centre stays).
    pub location: String,
}

/// Moves a meeting (day, time, duration, place) and raises its SEQUENCE; when `notify`, the
/// candidate gets the update (a REQUEST with the same UID, which replaces the event in their
/// calendar). Answers the candidate's id.
pub fn reschedule(
    conn: &mut PgConnection,
    settings: &Settings,
    actor: i64,
    id: i64,
    to: &MeetingMove,
    notify: bool,
) -> anyhow::Result<Result<i64, ScheduleError>> {
    conn.transaction(|conn| {
        let Some(current) = find_for_update(conn, id)? else {
            return Ok(Err(ScheduleError::NotFound));
        };
        if current.cancelled {
            return Ok(Err(ScheduleError::Cancelled));
        }
        diesel::update(meetings::table.find(id))
            .set((
                meetings::starts_at.eq(to.starts_at),
                meetings::duration_minutes.eq(to.duration_minutes),
                meetings::location.eq(&to.location),
                meetings::sequence.eq(meetings::sequence + 1),
            ))
            .execute(conn)?;
        audit(
            conn,
            Some(actor),
            "rendez_vous_modifie",
            "application",
            Some(current.application_id),
            current.kind_code,
        )?;
        let view = find(conn, id)?.ok_or_else(|| anyhow::anyhow!("meeting vanished"))?;
        if notify {
            queue_request(conn, settings, &view, Change::Moved, Utc::now())?;
        }
        Ok(Ok(view.candidate_id))
    })
}

/// Calls a meeting off (it stays listed, marked cancelled) and raises its SEQUENCE; when
/// `notify`, the candidate gets a CANCEL that removes it from their calendar.
pub fn cancel(
    conn: &mut PgConnection,
    settings: &Settings,
    actor: i64,
    id: i64,
    notify: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<i64, ScheduleError>> {
    conn.transaction(|conn| {
        let Some(current) = find_for_update(conn, id)? else {
            return Ok(Err(ScheduleError::NotFound));
        };
        if current.cancelled {
            return Ok(Err(ScheduleError::Cancelled));
        }
        diesel::update(meetings::table.find(id))
            .set((
                meetings::cancelled_at.eq(now),
                meetings::sequence.eq(meetings::sequence + 1),
            ))
            .execute(conn)?;
        audit(
            conn,
            Some(actor),
            "rendez_vous_annule",
            "application",
            Some(current.application_id),
            current.kind_code,
        )?;
        let view = find(conn, id)?.ok_or_else(|| anyhow::anyhow!("meeting vanished"))?;
        if notify {
            queue_request(conn, settings, &view, Change::Cancelled, now)?;
        }
        Ok(Ok(view.candidate_id))
    })
}

/// The meeting, its row locked until the transaction ends (two changes at once are applied
/// one after the other, each with its own SEQUENCE).
fn find_for_update(conn: &mut PgConnection, id: i64) -> QueryResult<Option<MeetingView>> {
    let locked: Option<i64> = meetings::table
        .find(id)
        .select(meetings::id)
        .for_update()
        .first(conn)
        .optional()?;
    match locked {
        Some(id) => find(conn, id),
        None => Ok(None),
    }
}

/// Queues the request (invitation, update or cancellation) of a meeting to its candidate.
fn queue_request(
    conn: &mut PgConnection,
    settings: &Settings,
    view: &MeetingView,
    change: Change,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
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
    let installation = crate::mail::installation_id(conn)?;
    let domain = settings.mail_domain();
    // Calendar answers go to the ORGANIZER: the candidate's conversation address when a mailbox
    // is read, so that an Accept or Decline lands on the meeting.
    let conversation = settings.conversation_address(view.candidate_id);
    let organiser = Organiser {
        domain: &domain,
        installation: &installation,
        service: &settings.organisation.service,
        address: conversation
            .as_deref()
            .unwrap_or(&settings.organisation.contact_email),
    };
    let mut email = invitation_email(settings, &organiser, view, &greeting, change, now)?;
    email.application_id = Some(view.application_id);
    email.candidate_id = Some(view.candidate_id);
    crate::mail::outbox::enqueue(conn, &[email])?;
    Ok(())
}

/// The invitation e-mail of a meeting (or its update, or its cancellation), with its calendar
/// request.
fn invitation_email(
    settings: &Settings,
    organiser: &Organiser<'_>,
    m: &MeetingView,
    salutation: &str,
    change: Change,
    now: DateTime<Utc>,
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
        "moved": change == Change::Moved,
        "cancelled": change == Change::Cancelled,
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
    let method = match change {
        Change::Cancelled => CalendarMethod::Cancel,
        Change::New | Change::Moved => CalendarMethod::Request,
    };
    email.ics = Some(ics(m, organiser, method, now));
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
    fn only_our_own_uids_name_a_meeting() {
        assert_eq!(
            id_from_uid(
                "rendez-vous-7.0123abcd@vocation.test",
                "0123abcd",
                "vocation.test"
            ),
            Some(7)
        );
        for uid in [
            "rendez-vous-7.ffffffff@vocation.test",
            "rendez-vous-7.0123abcd@autre.test",
            "rendez-vous--7.0123abcd@vocation.test",
            "rendez-vous-99999999999999999999.0123abcd@vocation.test",
            "rendez-vous-.0123abcd@vocation.test",
            "campagne-7.0123abcd@vocation.test",
        ] {
            assert_eq!(id_from_uid(uid, "0123abcd", "vocation.test"), None, "{uid}");
        }
    }

    #[test]
    fn hostile_names_and_places_cannot_add_calendar_properties() {
        let start = Utc.with_ymd_and_hms(2030, 3, 4, 9, 0, 0).unwrap();
        let m = MeetingView {
            id: 7,
            application_id: 1,
            candidate_id: 1,
            candidate: "Claire \"Dr\"; ROLE=CHAIR\r\nATTENDEE:mailto:pirate@example.org".into(),
            candidate_email: "claire@exemple.fr".into(),
            kind: "Entretien",
            kind_code: "entretien",
            starts_at: start,
            ends_at: start + Duration::minutes(45),
            duration_minutes: 45,
            duration: "45 min".into(),
            place: "Salle 2\r\nMETHOD:CANCEL".into(),
            location: String::new(),
            participants: String::new(),
            note: String::new(),
            sequence: 3,
            cancelled: false,
            answer: None,
            answer_code: None,
            answered_at: None,
        };
        let organiser = Organiser {
            domain: "vocation.test",
            installation: "0123abcd",
            service: "Service, « recrutement »; test",
            address: "rh@vocation.test",
        };
        let ics = ics(&m, &organiser, CalendarMethod::Request, start);
        assert!(!ics.replace("\r\n", "").contains(['\r', '\n']), "{ics}");
        let ics = ics.replace("\r\n ", "");
        let lines: Vec<&str> = ics.split("\r\n").collect();
        let starting = |p: &str| lines.iter().filter(|l| l.starts_with(p)).count();
        assert_eq!(starting("ATTENDEE"), 1, "{ics}");
        assert_eq!(starting("METHOD"), 1, "{ics}");
        assert_eq!(starting("METHOD:REQUEST"), 1, "{ics}");
        assert_eq!(starting("SEQUENCE:3"), 1, "{ics}");
        assert_eq!(
            starting("UID:rendez-vous-7.0123abcd@vocation.test"),
            1,
            "{ics}"
        );
        assert_eq!(starting(&format!("PRODID:{PRODID}")), 1, "{ics}");
        assert_eq!(starting("DTSTAMP:20300304T090000Z"), 1, "{ics}");
        let attendee = lines.iter().find(|l| l.starts_with("ATTENDEE")).unwrap();
        assert_eq!(attendee.matches("ROLE=").count(), 2, "{attendee}");
        assert!(
            attendee.contains("CN=\"Claire Dr; ROLE=CHAIRATTENDEE:mailto:pirate@example.org\""),
            "{attendee}"
        );
        assert!(attendee.contains(";ROLE=REQ-PARTICIPANT"), "{attendee}");
        assert!(attendee.contains("RSVP=TRUE"), "{attendee}");
        // A CN with ; or , is quoted.
        assert!(
            ics.contains("CN=\"Service, « recrutement »; test\""),
            "{ics}"
        );
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
