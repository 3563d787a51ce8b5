//! Personal data (RGPD): the candidate's private link to their data, what it shows and exports,
//! withdrawing an application, erasure on request, and the daily retention job that anonymises
//! candidates kept too long and offers pool candidates to renew their consent.
//!
//! Anonymising keeps the statistics: the candidate row (specialty, situation, working time,
//! wished centres), their applications with stages and dates, and the stage history. It blanks
//! names, e-mail, phone, RPPS and availability, empties free text (the doctor's message, notes of
//! stage moves and meetings), and deletes what cannot be made anonymous: documents (rows and
//! files), recruiters' notes about the person (free text that names them) and the e-mails sent
//! to them (their bodies carry names and addresses).

mod erasure;
mod held;
mod links;
mod retention;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

pub use erasure::{erase, keep_reasons, remove_files, Erasure, KeepReason};
pub use held::{is_live, personal_data};
pub use links::{check_link, link_url, link_url_until, send_new_links, Link};
pub use retention::{apply_retention, run_daily, RunReport};

use crate::db::enums::Stage;
use crate::db::schema::{applications, candidates};
use crate::domain::ids::{ApplicationId, CandidateId};
use crate::pipeline::SELF_WITHDRAWAL;
use crate::staff::audit::audit;

// ---------------------------------------------------------------------------------------------
// Withdrawing, consent

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    Done,
    /// The application is already closed (or was never this candidate's).
    NotOpen,
}

/// Moves one of the candidate's applications to `desistement`, as the doctor asked, with no
/// staff actor. Recruiters see it on the board and in the history.
pub fn withdraw(
    conn: &mut PgConnection,
    candidate_id: CandidateId,
    application_id: ApplicationId,
    now: DateTime<Utc>,
) -> QueryResult<Withdrawal> {
    conn.transaction(|conn| {
        let current: Option<Stage> = applications::table
            .filter(applications::id.eq(application_id))
            .filter(applications::candidate_id.eq(candidate_id))
            .select(applications::stage)
            .for_update()
            .first(conn)
            .optional()?;
        let Some(current) = current else {
            return Ok(Withdrawal::NotOpen);
        };
        if !crate::pipeline::allowed_targets(current).contains(&Stage::Withdrawn) {
            return Ok(Withdrawal::NotOpen);
        }
        crate::pipeline::record_move(
            conn,
            &crate::pipeline::RecordedMove {
                application_id,
                candidate_id,
                from: current,
                to: Stage::Withdrawn,
                actor_id: None,
                reason: Some(SELF_WITHDRAWAL),
                note: Some("Retrait demandé par le candidat depuis sa page « Mes données »."),
                follow_up_on: None,
            },
            now,
        )?;
        audit(
            conn,
            None,
            "desistement_candidat",
            "application",
            Some(application_id.0),
            &format!("{} -> {}", current.code(), Stage::Withdrawn.code()),
        )?;
        Ok(Withdrawal::Done)
    })
}

/// Gives (or renews) the pool consent, which counts as an action of the candidate, or withdraws
/// it.
pub fn set_pool_consent(
    conn: &mut PgConnection,
    candidate_id: i64,
    consent: bool,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        if consent {
            diesel::update(candidates::table.find(candidate_id))
                .set((
                    candidates::pool_consent_at.eq(now),
                    candidates::last_activity_at.eq(now),
                    candidates::updated_at.eq(now),
                ))
                .execute(conn)?;
        } else {
            diesel::update(candidates::table.find(candidate_id))
                .set((
                    candidates::pool_consent_at.eq(None::<DateTime<Utc>>),
                    candidates::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        audit(
            conn,
            None,
            if consent {
                "consentement_vivier_renouvele"
            } else {
                "consentement_vivier_retire"
            },
            "candidate",
            Some(candidate_id),
            "par le candidat (page « Mes données »)",
        )
    })
}
