//! Demo mail exchanged with candidates (issue 20): a doctor's answer not yet read, a
//! recruiter's answer, an out-of-office, a meeting accepted from a calendar, and a stranger's
//! question waiting on « Courriels non reconnus ». Dated relative to `now`.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::db::schema::{applications, candidate_messages, candidates, inbound_messages, meetings};

pub(super) fn demo_conversations(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<()> {
    // Interviews planned with three candidates at the interview stage, in the coming days, at
    // 10:00 or 14:00 UTC (the agenda and the calendar answers need some).
    let interviewed: Vec<i64> = applications::table
        .filter(applications::stage.eq("entretien"))
        .order(applications::id)
        .select(applications::id)
        .limit(3)
        .load(conn)?;
    let day = now.date_naive();
    for (n, application) in interviewed.into_iter().enumerate() {
        let hour = if n % 2 == 0 { 10 } else { 14 };
        let starts = (day + Duration::days(2 + n as i64))
            .and_hms_opt(hour, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(now);
        diesel::insert_into(meetings::table)
            .values((
                meetings::application_id.eq(application),
                meetings::kind.eq("entretien"),
                meetings::starts_at.eq(starts),
                meetings::duration_minutes.eq(60),
                meetings::location.eq("Salle de réunion du centre"),
                meetings::participants.eq("Dr Anne Dupuy, directrice médicale"),
                meetings::note.eq(""),
                meetings::created_at.eq(now - Duration::days(4)),
            ))
            .execute(conn)?;
    }
    let met: Vec<(i64, i64, String, String)> = meetings::table
        .inner_join(applications::table.inner_join(candidates::table))
        .filter(meetings::cancelled_at.is_null())
        .order(meetings::id)
        .select((
            meetings::id,
            candidates::id,
            candidates::first_name,
            candidates::email,
        ))
        .limit(2)
        .load(conn)?;
    for (n, (meeting, candidate, first, email)) in met.into_iter().enumerate() {
        let at = |hours: i64| now - Duration::hours(hours);
        let message = |direction: &str, automatic: bool, subject: &str, body: &str, hours: i64| {
            (
                candidate_messages::candidate_id.eq(candidate),
                candidate_messages::direction.eq(direction.to_owned()),
                candidate_messages::automatic.eq(automatic),
                candidate_messages::from_address.eq(if direction == "recu" {
                    email.clone()
                } else {
                    "recrutement@exemple.test".to_owned()
                }),
                candidate_messages::subject.eq(subject.to_owned()),
                candidate_messages::body_text.eq(body.to_owned()),
                candidate_messages::read_at
                    .eq((direction == "envoye" || automatic || n > 0).then(|| at(hours))),
                candidate_messages::created_at.eq(at(hours)),
            )
        };
        diesel::insert_into(candidate_messages::table)
            .values(vec![
                message(
                    "recu",
                    true,
                    "Réponse automatique : Votre candidature",
                    "Je suis en congés jusqu'à lundi ; je vous répondrai à mon retour.",
                    72,
                ),
                message(
                    "recu",
                    false,
                    "Re: Votre candidature",
                    &format!(
                        "Bonjour,\n\nMerci pour votre message. Je serai dans le Gers la semaine \
                         prochaine : pourrions-nous visiter le centre de santé mardi ?\n\n\
                         Bien cordialement,\n{first}"
                    ),
                    30,
                ),
                message(
                    "envoye",
                    false,
                    "Re: Votre candidature",
                    "Bonjour,\n\nMardi nous convient. Nous vous attendons à 10 h au centre.\n\n\
                     L'équipe de recrutement",
                    26,
                ),
            ])
            .execute(conn)?;
        diesel::update(meetings::table.find(meeting))
            .set((
                meetings::answer.eq("accepte"),
                meetings::answered_at.eq(at(20)),
            ))
            .execute(conn)?;
    }
    let raw = "From: Dr Jean Inconnu <jean.inconnu@exemple.test>\r\n\
               To: recrutement@exemple.test\r\nSubject: Un poste à temps partiel ?\r\n\r\n\
               Bonjour, je suis médecin généraliste à Toulouse : proposez-vous des postes à \
               mi-temps à Condom ?\r\n";
    diesel::insert_into(inbound_messages::table)
        .values((
            inbound_messages::mailbox.eq("demo"),
            inbound_messages::uid_validity.eq(1),
            inbound_messages::uid.eq(1),
            inbound_messages::size_bytes.eq(raw.len() as i64),
            inbound_messages::claimed_until.eq(now - Duration::hours(5)),
            inbound_messages::kind.eq("non_reconnu"),
            inbound_messages::folder.eq(crate::mailbox::FOLDER_UNKNOWN),
            inbound_messages::detail.eq("courriel sans candidat reconnu"),
            inbound_messages::processed_at.eq(now - Duration::hours(5)),
            inbound_messages::moved_at.eq(now - Duration::hours(5)),
            inbound_messages::created_at.eq(now - Duration::hours(5)),
            inbound_messages::raw.eq(raw.as_bytes()),
            inbound_messages::from_address.eq("jean.inconnu@exemple.test"),
            inbound_messages::subject.eq("Un poste à temps partiel ?"),
            inbound_messages::excerpt.eq(
                "Bonjour, je suis médecin généraliste à Toulouse : proposez-vous des postes \
                 à mi-temps à Condom ?",
            ),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}
