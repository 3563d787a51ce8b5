//! The staff home's « À faire »: what waits for the signed-in member today, by role. Each
//! section holds a count, the first few items (oldest or most urgent first), each with the link
//! to the page where it is done, and a link to the whole list when there are more.
//!
//! Every query is bounded (a count on an index, then `LIMIT`), so that the page stays fast with
//! tens of thousands of candidates.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Int4, Nullable, Text, Timestamptz};
use serde::Serialize;

use crate::db::enums::{CampaignStatus, OfferStatus, RunStatus, Stage};
use crate::pipeline::meetings::MeetingKind;

use crate::domain::french::{self, count_label, days_ago, thousands};

/// How many items a section shows before its « Voir les N » link.
pub const SHOWN: i64 = 5;

/// What the member may do, which decides the sections shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Roles {
    pub recruiting: bool,
    pub approving: bool,
    pub communication: bool,
    /// A mailbox is read: doctors' answers have their section even when none waits.
    pub reads_mail: bool,
}

/// The « À faire » of one member: its sections, in the order shown.
#[derive(Debug, Clone, Serialize)]
pub struct Todo {
    pub sections: Vec<Section>,
    /// Items waiting in all sections (for the page's first sentence).
    pub total: i64,
}

/// One kind of work waiting.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// The anchor of the section (`#a-faire-<key>`) and the key tests look for.
    pub key: &'static str,
    pub title: &'static str,
    pub count: i64,
    /// The count as written in the heading (« 1 234 »).
    pub count_text: String,
    /// The sentence shown when nothing waits.
    pub empty: &'static str,
    pub items: Vec<Item>,
    /// « Voir les 12 candidatures » and where, when more wait than are shown (or a list exists).
    pub more: Option<Link>,
}

/// One thing to do, one click from where it is done.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub href: String,
    pub label: String,
    pub detail: String,
    /// A word that says why it presses (« En retard », « Expire bientôt »), shown as a tag.
    pub flag: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub href: String,
    pub text: String,
}

/// Builds the « À faire » of a member with `roles`, on `today` (Paris) at `now`.
pub fn todo(
    conn: &mut PgConnection,
    roles: Roles,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> QueryResult<Todo> {
    let mut sections = Vec::new();
    if roles.approving {
        sections.push(approvals(conn)?);
    }
    if roles.recruiting {
        if let Some(answers) = answers_to_read(conn, roles.reads_mail)? {
            sections.push(answers);
        }
        sections.push(new_applications(conn, today)?);
        sections.push(follow_ups(conn, today)?);
        sections.push(approved_to_send(conn)?);
        sections.push(offers_waiting(conn, today)?);
        sections.push(meetings_of_the_week(conn, today, now)?);
    }
    if roles.communication {
        sections.push(campaigns(conn)?);
        sections.push(last_import(conn)?);
    }
    let total = sections.iter().map(|s| s.count).sum();
    Ok(Todo { sections, total })
}

fn section(
    key: &'static str,
    title: &'static str,
    count: i64,
    empty: &'static str,
    items: Vec<Item>,
    more: Option<Link>,
) -> Section {
    Section {
        key,
        title,
        count,
        count_text: thousands(count),
        empty,
        items,
        more,
    }
}

/// « Voir les 12 candidatures » when more than the items shown wait.
fn more_link(count: i64, shown: usize, href: &str, one: &str, many: &str) -> Option<Link> {
    (count > shown as i64).then(|| Link {
        href: href.to_owned(),
        text: format!("Voir les {}", count_label(count, one, many)),
    })
}

/// The first midnight (Paris) of `day`, as an instant.
fn paris_midnight(day: NaiveDate) -> DateTime<Utc> {
    chrono_tz::Europe::Paris
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)))
}

fn paris_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&chrono_tz::Europe::Paris).date_naive()
}

fn date_fr(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(
    conn: &mut PgConnection,
    query: diesel::query_builder::BoxedSqlQuery<
        '_,
        diesel::pg::Pg,
        diesel::query_builder::SqlQuery,
    >,
) -> QueryResult<i64> {
    Ok(query.get_result::<Count>(conn)?.n)
}

// ---------------------------------------------------------------------------------------------
// Recruiters

/// Doctors' answers read from the mailbox and not yet seen (a candidate's page marks them
/// read), then the mail that matched no candidate and waits for someone to attach it.
/// Without a mailbox read and with nothing waiting, the section is left out.
fn answers_to_read(conn: &mut PgConnection, reads_mail: bool) -> QueryResult<Option<Section>> {
    use crate::db::schema::{candidate_messages, candidates};
    let unread = || {
        candidate_messages::table
            .filter(candidate_messages::direction.eq("recu"))
            .filter(candidate_messages::read_at.is_null())
            .filter(candidate_messages::automatic.eq(false))
    };
    let count: i64 = unread().count().get_result(conn)?;
    let waiting = crate::mailbox::unrecognised::count(conn)?;
    if !reads_mail && count + waiting == 0 {
        return Ok(None);
    }
    let rows: Vec<(i64, String, String, String, DateTime<Utc>)> = unread()
        .inner_join(candidates::table)
        .order(candidate_messages::created_at.asc())
        .limit(SHOWN)
        .select((
            candidates::id,
            candidates::first_name,
            candidates::last_name,
            candidate_messages::subject,
            candidate_messages::created_at,
        ))
        .load(conn)?;
    let mut items: Vec<Item> = rows
        .into_iter()
        .map(|(id, first, last, subject, at)| Item {
            href: format!("/recrutement/candidats/{id}#echanges"),
            label: format!("{first} {last}"),
            detail: format!(
                "« {} », reçu le {}",
                if subject.is_empty() {
                    "sans objet"
                } else {
                    &subject
                },
                date_fr(paris_day(at))
            ),
            flag: None,
        })
        .collect();
    if waiting > 0 {
        items.push(Item {
            href: "/recrutement/courriels-non-reconnus".to_owned(),
            label: "Courriels non reconnus".to_owned(),
            detail: format!(
                "{} à rattacher à une fiche ou à écarter",
                count_label(waiting, "courriel", "courriels")
            ),
            flag: Some("À trier"),
        });
    }
    Ok(Some(section(
        "reponses",
        "Réponses de candidats",
        count + waiting,
        "Aucune réponse de candidat à lire.",
        items,
        None,
    )))
}

#[derive(QueryableByName)]
struct WaitingApplication {
    #[diesel(sql_type = BigInt)]
    application_id: i64,
    #[diesel(sql_type = BigInt)]
    candidate_id: i64,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Text)]
    specialty: String,
    #[diesel(sql_type = Timestamptz)]
    since: DateTime<Utc>,
}

/// How many days an application may stay « Nouvelle » before it shows as waiting too long.
const NEW_APPLICATION_DAYS: i64 = 3;

fn new_applications(conn: &mut PgConnection, today: NaiveDate) -> QueryResult<Section> {
    let n = count(
        conn,
        diesel::sql_query("SELECT count(*) AS n FROM applications WHERE stage = $1")
            .into_boxed()
            .bind::<Text, _>(Stage::New.code()),
    )?;
    let rows: Vec<WaitingApplication> = diesel::sql_query(
        "SELECT a.id AS application_id, c.id AS candidate_id, c.first_name, c.last_name, \
                s.label AS specialty, a.stage_entered_at AS since \
         FROM applications a \
         JOIN candidates c ON c.id = a.candidate_id \
         JOIN specialties s ON s.code = c.specialty_code \
         WHERE a.stage = $1 \
         ORDER BY a.stage_entered_at, a.id \
         LIMIT $2",
    )
    .bind::<Text, _>(Stage::New.code())
    .bind::<BigInt, _>(SHOWN)
    .load(conn)?;
    let items: Vec<Item> = rows
        .into_iter()
        .map(|r| {
            let waited = (today - paris_day(r.since)).num_days();
            Item {
                href: format!(
                    "/recrutement/candidats/{}#candidature-{}",
                    r.candidate_id, r.application_id
                ),
                label: format!("{} {}", r.first_name, r.last_name),
                detail: format!(
                    "{} · candidature n° {} reçue {}",
                    r.specialty,
                    r.application_id,
                    days_ago(waited)
                ),
                flag: (waited > NEW_APPLICATION_DAYS).then_some("En attente"),
            }
        })
        .collect();
    let more = more_link(
        n,
        items.len(),
        "/recrutement#col-nouvelle",
        "candidature",
        "candidatures",
    );
    Ok(section(
        "candidatures",
        "Nouvelles candidatures à lire",
        n,
        "Aucune candidature à lire.",
        items,
        more,
    ))
}

#[derive(QueryableByName)]
struct DueFollowUp {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    application_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    candidate_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    first_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_name: Option<String>,
    #[diesel(sql_type = Nullable<Date>)]
    follow_up_on: Option<NaiveDate>,
}

/// A due follow-up, once its columns are known to be there.
struct FollowUpRow {
    application_id: i64,
    candidate_id: i64,
    first_name: String,
    last_name: String,
    follow_up_on: NaiveDate,
}

fn follow_ups(conn: &mut PgConnection, today: NaiveDate) -> QueryResult<Section> {
    // One pass over the pool for the count and the first rows; the names joined last.
    let found: Vec<DueFollowUp> = diesel::sql_query(include_str!("follow_ups.sql"))
        .bind::<Text, _>(Stage::Pool.code())
        .bind::<Date, _>(today)
        .bind::<BigInt, _>(SHOWN)
        .load(conn)?;
    let n = found.first().map(|r| r.total).unwrap_or(0);
    let rows: Vec<FollowUpRow> = found
        .into_iter()
        .filter_map(|r| {
            Some(FollowUpRow {
                application_id: r.application_id?,
                candidate_id: r.candidate_id?,
                first_name: r.first_name?,
                last_name: r.last_name?,
                follow_up_on: r.follow_up_on?,
            })
        })
        .collect();
    let items: Vec<Item> = rows
        .into_iter()
        .map(|r| {
            let late = (today - r.follow_up_on).num_days();
            Item {
                href: format!(
                    "/recrutement/candidats/{}#candidature-{}",
                    r.candidate_id, r.application_id
                ),
                label: format!("{} {}", r.first_name, r.last_name),
                detail: if late == 0 {
                    "à recontacter aujourd'hui".to_owned()
                } else {
                    format!(
                        "à recontacter depuis le {} ({})",
                        date_fr(r.follow_up_on),
                        count_label(late, "jour", "jours")
                    )
                },
                flag: (late > 0).then_some("En retard"),
            }
        })
        .collect();
    let more = more_link(
        n,
        items.len(),
        "/recrutement/relances",
        "relance",
        "relances",
    );
    Ok(section(
        "relances",
        "Relances à faire",
        n,
        "Aucune relance à faire aujourd'hui.",
        items,
        more,
    ))
}

#[derive(QueryableByName)]
struct OfferRow {
    #[diesel(sql_type = BigInt)]
    offer_id: i64,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Date)]
    expires_on: NaiveDate,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
}

/// Sent offers waiting for the doctor's answer, and those that expired unanswered while the
/// application still stands at « Proposition » (nothing done since).
const OFFERS_WAITING: &str = "FROM offers o \
     JOIN applications a ON a.id = o.application_id \
     WHERE o.status = $1 OR (o.status = $2 AND a.stage = $3 AND o.superseded_by IS NULL)";

/// An offer expiring within this many days shows as urgent.
const EXPIRY_WARNING_DAYS: i64 = 7;

fn offers_waiting(conn: &mut PgConnection, today: NaiveDate) -> QueryResult<Section> {
    let n = count(
        conn,
        diesel::sql_query(format!("SELECT count(*) AS n {OFFERS_WAITING}"))
            .into_boxed()
            .bind::<Text, _>(OfferStatus::Sent.code())
            .bind::<Text, _>(OfferStatus::Expired.code())
            .bind::<Text, _>(Stage::Offer.code()),
    )?;
    let rows: Vec<OfferRow> = diesel::sql_query(format!(
        "SELECT o.id AS offer_id, o.status, o.expires_on, c.first_name, c.last_name \
         {} ORDER BY o.expires_on, o.id LIMIT $4",
        OFFERS_WAITING.replacen(
            "JOIN applications a ON a.id = o.application_id",
            "JOIN applications a ON a.id = o.application_id \
             JOIN candidates c ON c.id = a.candidate_id",
            1
        )
    ))
    .bind::<Text, _>(OfferStatus::Sent.code())
    .bind::<Text, _>(OfferStatus::Expired.code())
    .bind::<Text, _>(Stage::Offer.code())
    .bind::<BigInt, _>(SHOWN)
    .load(conn)?;
    let items: Vec<Item> = rows
        .into_iter()
        .map(|r| {
            let left = (r.expires_on - today).num_days();
            let expired = r.status == OfferStatus::Expired.code() || left < 0;
            let detail = if expired {
                format!(
                    "proposition n° {} expirée le {} sans réponse",
                    r.offer_id,
                    date_fr(r.expires_on)
                )
            } else if left == 0 {
                format!(
                    "proposition n° {} : réponse attendue aujourd'hui",
                    r.offer_id
                )
            } else {
                format!(
                    "proposition n° {} : réponse attendue avant le {} (dans {})",
                    r.offer_id,
                    date_fr(r.expires_on),
                    count_label(left, "jour", "jours")
                )
            };
            Item {
                href: format!("/recrutement/propositions/{}", r.offer_id),
                label: format!("{} {}", r.first_name, r.last_name),
                detail,
                flag: if expired {
                    Some("Expirée")
                } else {
                    (left <= EXPIRY_WARNING_DAYS).then_some("Expire bientôt")
                },
            }
        })
        .collect();
    Ok(section(
        "propositions",
        "Propositions en attente de réponse",
        n,
        "Aucune proposition en attente de réponse.",
        items,
        None,
    ))
}

#[derive(QueryableByName)]
struct MeetingRow {
    #[diesel(sql_type = BigInt)]
    application_id: i64,
    #[diesel(sql_type = BigInt)]
    candidate_id: i64,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Timestamptz)]
    starts_at: DateTime<Utc>,
    #[diesel(sql_type = Int4)]
    duration_minutes: i32,
    #[diesel(sql_type = Nullable<Text>)]
    centre: Option<String>,
    #[diesel(sql_type = Text)]
    location: String,
}

/// How many meetings the section lists (a week rarely holds more).
const MEETINGS_SHOWN: i64 = 10;

fn meetings_of_the_week(
    conn: &mut PgConnection,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> QueryResult<Section> {
    // From the start of today (a meeting of this morning is still the day's) to 7 days on.
    let from = paris_midnight(today).min(now);
    let to = paris_midnight(today + Duration::days(7));
    let n = count(
        conn,
        diesel::sql_query(
            "SELECT count(*) AS n FROM meetings WHERE starts_at >= $1 AND starts_at < $2",
        )
        .into_boxed()
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to),
    )?;
    let rows: Vec<MeetingRow> = diesel::sql_query(
        "SELECT a.id AS application_id, c.id AS candidate_id, c.first_name, c.last_name, \
                m.kind, m.starts_at, m.duration_minutes, ce.name AS centre, m.location \
         FROM meetings m \
         JOIN applications a ON a.id = m.application_id \
         JOIN candidates c ON c.id = a.candidate_id \
         LEFT JOIN centres ce ON ce.id = m.centre_id \
         WHERE m.starts_at >= $1 AND m.starts_at < $2 \
         ORDER BY m.starts_at, m.id LIMIT $3",
    )
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .bind::<BigInt, _>(MEETINGS_SHOWN)
    .load(conn)?;
    let items: Vec<Item> = rows
        .into_iter()
        .map(|r| {
            let kind = MeetingKind::from_code(&r.kind).unwrap_or(MeetingKind::Interview);
            let local = r.starts_at.with_timezone(&chrono_tz::Europe::Paris);
            let place = match (r.centre, r.location.trim()) {
                (Some(centre), "") => centre,
                (Some(centre), extra) => format!("{centre} – {extra}"),
                (None, extra) => extra.to_owned(),
            };
            let mut detail = format!(
                "{} {}, {}",
                french::weekday_date(local.date_naive()),
                french::time_of_day(local.time()),
                french::duration(r.duration_minutes)
            );
            if !place.is_empty() {
                detail.push_str(" · ");
                detail.push_str(&place);
            }
            Item {
                href: format!(
                    "/recrutement/candidats/{}#candidature-{}",
                    r.candidate_id, r.application_id
                ),
                label: format!("{} – {} {}", kind.label(), r.first_name, r.last_name),
                detail,
                flag: None,
            }
        })
        .collect();
    let more = more_link(
        n,
        items.len(),
        "/recrutement/agenda",
        "rendez-vous",
        "rendez-vous",
    );
    Ok(section(
        "rendez-vous",
        "Entretiens et visites des 7 prochains jours",
        n,
        "Aucun entretien ni visite dans les 7 prochains jours.",
        items,
        more,
    ))
}

// ---------------------------------------------------------------------------------------------
// Approvers

/// Drafts whose approval was asked and not yet given (the offers module's own list).
fn approvals(conn: &mut PgConnection) -> QueryResult<Section> {
    let waiting = crate::offers::waiting_for_approval(conn)?;
    let n = waiting.len() as i64;
    let items: Vec<Item> = waiting
        .into_iter()
        .take(SHOWN as usize)
        .map(|w| {
            let day = date_fr(paris_day(w.requested_at));
            let asked = match w.requested_by {
                Some(who) => format!(", demandée par {who} le {day}"),
                None => format!(", demandée le {day}"),
            };
            Item {
                href: format!("/recrutement/propositions/{}", w.offer_id),
                label: w.candidate,
                detail: format!("proposition n° {} à approuver{asked}", w.offer_id),
                flag: None,
            }
        })
        .collect();
    Ok(section(
        "approbations",
        "Propositions à approuver",
        n,
        "Aucune proposition à approuver.",
        items,
        None,
    ))
}

/// Drafts an approver approved: the recruiter sends them (one click to the offer page).
fn approved_to_send(conn: &mut PgConnection) -> QueryResult<Section> {
    let approved = crate::offers::approved_to_send(conn)?;
    let n = approved.len() as i64;
    let items: Vec<Item> = approved
        .into_iter()
        .take(SHOWN as usize)
        .map(|a| {
            let day = date_fr(paris_day(a.approved_at));
            let by = match a.approved_by {
                Some(who) => format!(" par {who}"),
                None => String::new(),
            };
            Item {
                href: format!("/recrutement/propositions/{}", a.offer_id),
                label: a.candidate,
                detail: format!(
                    "proposition n° {} validée{by} le {day}, à envoyer",
                    a.offer_id
                ),
                flag: None,
            }
        })
        .collect();
    Ok(section(
        "a-envoyer",
        "Propositions validées, à envoyer",
        n,
        "Aucune proposition validée en attente d'envoi.",
        items,
        None,
    ))
}

// ---------------------------------------------------------------------------------------------
// Communications

#[derive(QueryableByName)]
struct CampaignRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    to_confirm: i64,
}

/// Campaigns sending or paused, and those with an occurrence waiting for confirmation.
const CAMPAIGNS_ACTIVE: &str = "FROM campaigns ca \
     CROSS JOIN LATERAL (SELECT count(*) AS to_confirm FROM campaign_runs r \
         WHERE r.campaign_id = ca.id AND r.status = $3) w \
     WHERE ca.status IN ($1, $2) OR w.to_confirm > 0";

fn campaigns(conn: &mut PgConnection) -> QueryResult<Section> {
    let rows: Vec<CampaignRow> = diesel::sql_query(format!(
        "SELECT ca.id, ca.name, ca.status, w.to_confirm {CAMPAIGNS_ACTIVE} \
         ORDER BY w.to_confirm DESC, ca.id DESC"
    ))
    .bind::<Text, _>(CampaignStatus::Running.code())
    .bind::<Text, _>(CampaignStatus::Paused.code())
    .bind::<Text, _>(RunStatus::AwaitingConfirmation.code())
    .load(conn)?;
    let n = rows.len() as i64;
    let items: Vec<Item> = rows
        .into_iter()
        .take(SHOWN as usize)
        .map(|r| {
            let status = CampaignStatus::from_code(&r.status)
                .map(|s| s.label().to_lowercase())
                .unwrap_or_default();
            let detail = if r.to_confirm > 0 {
                format!(
                    "{} à confirmer (campagne {status})",
                    count_label(r.to_confirm, "envoi", "envois")
                )
            } else {
                format!("campagne {status}")
            };
            Item {
                href: format!("/campagnes/{}", r.id),
                label: r.name,
                detail,
                flag: (r.to_confirm > 0).then_some("À confirmer"),
            }
        })
        .collect();
    let more = more_link(n, items.len(), "/campagnes", "campagne", "campagnes");
    Ok(section(
        "campagnes",
        "Campagnes en cours ou à confirmer",
        n,
        "Aucune campagne en cours ni à confirmer.",
        items,
        more,
    ))
}

#[derive(QueryableByName)]
struct ImportRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    list_name: String,
    #[diesel(sql_type = Text)]
    filename: String,
    #[diesel(sql_type = Timestamptz)]
    applied_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    rejected: i64,
}

fn last_import(conn: &mut PgConnection) -> QueryResult<Section> {
    let last: Option<ImportRow> = diesel::sql_query(
        "SELECT i.id, l.name AS list_name, i.filename, i.applied_at, \
                COALESCE((i.report -> 'counts' ->> 'rejected')::bigint, 0) AS rejected \
         FROM contact_imports i JOIN contact_lists l ON l.id = i.list_id \
         WHERE i.applied_at IS NOT NULL \
         ORDER BY i.applied_at DESC, i.id DESC LIMIT 1",
    )
    .get_result(conn)
    .optional()?;
    let (n, items) = match last {
        Some(r) if r.rejected > 0 => (
            r.rejected,
            vec![Item {
                href: format!("/contacts/import/{}", r.id),
                label: format!(
                    "{} dans la liste « {} »",
                    count_label(r.rejected, "ligne refusée", "lignes refusées"),
                    r.list_name
                ),
                detail: format!(
                    "import n° {} du fichier {} le {}",
                    r.id,
                    r.filename,
                    date_fr(paris_day(r.applied_at))
                ),
                flag: None,
            }],
        ),
        _ => (0, Vec::new()),
    };
    Ok(section(
        "import",
        "Lignes refusées au dernier import de contacts",
        n,
        "Aucune ligne refusée au dernier import.",
        items,
        None,
    ))
}
