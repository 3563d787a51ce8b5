//! Recording a stage move: a recruiter's checked request, or a move already decided elsewhere
//! (an offer, the doctor's own withdrawal), appended to the history, never rewritten.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::rules::{check_move, MoveError, MoveRequest};
use crate::db::enums::Stage;
use crate::db::schema::{applications, candidates, stage_history};
use crate::domain::ids::{ApplicationId, CandidateId};
use crate::staff::audit::audit;

/// The stage an application is in, if it exists.
pub fn current_stage(conn: &mut PgConnection, application_id: i64) -> QueryResult<Option<Stage>> {
    applications::table
        .find(application_id)
        .select(applications::stage)
        .first(conn)
        .optional()
}

/// Moves an application: locks it, checks the rules, updates its stage and appends the history.
/// When `email` is given it is queued in the same transaction, so it goes out if and only if
/// the move is recorded. The rules are `rules::check_move`'s: never by hand into a stage of the
/// offer flow.
pub fn move_application(
    conn: &mut PgConnection,
    actor_id: i64,
    req: &MoveRequest,
    email: Option<crate::mail::outbox::NewOutboundEmail>,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<(), MoveError>> {
    Ok(move_for_candidate(conn, actor_id, req, email, now)?.map(|_| ()))
}

/// [`move_application`], answering with the id of the candidate whose application moved (the
/// page they go back to).
pub fn move_for_candidate(
    conn: &mut PgConnection,
    actor_id: i64,
    req: &MoveRequest,
    email: Option<crate::mail::outbox::NewOutboundEmail>,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<i64, MoveError>> {
    conn.transaction(|conn| {
        let found: Option<(Stage, i64)> = applications::table
            .find(req.application_id)
            .select((applications::stage, applications::candidate_id))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((current, candidate_id)) = found else {
            return Ok(Err(MoveError::NotFound));
        };
        if let Err(e) = check_move(current, req) {
            return Ok(Err(e));
        }
        let reason = match req.to {
            Stage::Refused | Stage::Withdrawn => req.reason.as_deref(),
            _ => None,
        };
        record_move(
            conn,
            &RecordedMove {
                application_id: ApplicationId(req.application_id),
                candidate_id: CandidateId(candidate_id),
                from: current,
                to: req.to,
                actor_id: Some(actor_id),
                reason,
                note: req.note.as_deref(),
                follow_up_on: req.follow_up_on.filter(|_| req.to == Stage::Pool),
            },
            now,
        )?;
        if let Some(mut email) = email {
            email.candidate_id = Some(candidate_id);
            email.application_id = Some(req.application_id);
            crate::mail::outbox::enqueue(conn, &[email])?;
        }
        audit(
            conn,
            Some(actor_id),
            "changement_etape",
            "application",
            Some(req.application_id),
            &format!("{} -> {}", current.code(), req.to.code()),
        )?;
        Ok(Ok(candidate_id))
    })
}

/// A move already decided (by a recruiter's checked request, or by an offer being sent,
/// accepted or started): the application's stage, its history and the candidate's activity.
pub struct RecordedMove<'a> {
    pub application_id: ApplicationId,
    pub candidate_id: CandidateId,
    pub from: Stage,
    pub to: Stage,
    pub actor_id: Option<i64>,
    pub reason: Option<&'a str>,
    pub note: Option<&'a str>,
    pub follow_up_on: Option<NaiveDate>,
}

/// Writes a move; the caller holds the application's row lock and has checked the move.
pub fn record_move(
    conn: &mut PgConnection,
    m: &RecordedMove<'_>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(applications::table.find(m.application_id))
        .set((
            applications::stage.eq(m.to),
            applications::stage_entered_at.eq(now),
            applications::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::insert_into(stage_history::table)
        .values((
            stage_history::application_id.eq(m.application_id),
            stage_history::from_stage.eq(Some(m.from)),
            stage_history::to_stage.eq(m.to),
            stage_history::actor_id.eq(m.actor_id),
            stage_history::reason.eq(m.reason),
            stage_history::note.eq(m.note.filter(|n| !n.trim().is_empty())),
            stage_history::follow_up_on.eq(m.follow_up_on),
            stage_history::created_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(candidates::table.find(m.candidate_id))
        .set(candidates::last_activity_at.eq(now))
        .execute(conn)?;
    Ok(())
}
