//! The pipeline's rules: the forward path of an application, the coded reasons for leaving it
//! (refusal, withdrawal), which moves are allowed, and checking a recruiter's move.

use chrono::NaiveDate;

use crate::db::enums::Stage;

/// The forward path of an application.
pub const FORWARD: [Stage; 7] = [
    Stage::New,
    Stage::FirstContact,
    Stage::Interview,
    Stage::SiteVisit,
    Stage::Offer,
    Stage::Accepted,
    Stage::Recruited,
];

/// Coded reasons for a refusal by the département.
pub const REFUSAL_REASONS: &[(&str, &str)] = &[
    ("profil_inadapte", "Profil ne correspondant pas aux besoins"),
    ("specialite", "Spécialité non recherchée"),
    ("diplome", "Diplôme ou autorisation d'exercice manquant"),
    ("disponibilite", "Disponibilité incompatible"),
    ("poste_pourvu", "Poste déjà pourvu"),
    ("autre", "Autre raison"),
];

/// The withdrawal reason recorded when a doctor withdraws from their private page.
pub const SELF_WITHDRAWAL: &str = "retrait_candidat";

/// Coded reasons for a doctor's withdrawal.
pub const WITHDRAWAL_REASONS: &[(&str, &str)] = &[
    ("remuneration", "Rémunération"),
    ("distance", "Distance, trajets"),
    ("temps_travail", "Temps de travail proposé"),
    ("gardes", "Permanence des soins (gardes)"),
    ("emploi_conjoint", "Emploi du conjoint"),
    ("autre_offre", "Autre offre acceptée"),
    ("personnel", "Raisons personnelles"),
    ("sans_reponse", "Sans nouvelles du candidat"),
    (
        SELF_WITHDRAWAL,
        "Retrait par le candidat (page « Mes données »)",
    ),
    ("autre", "Autre raison"),
];

pub fn reason_label(stage: Stage, code: &str) -> Option<&'static str> {
    let list = match stage {
        Stage::Refused => REFUSAL_REASONS,
        Stage::Withdrawn => WITHDRAWAL_REASONS,
        _ => return None,
    };
    list.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

/// Stages reached only through the offer flow (`crate::offers`): sending an offer moves the
/// application to « Proposition », the doctor's acceptance to « Acceptée », the start of the
/// placement to « Recrutée ». No recruiter's move may enter them, so that every recruitment
/// has an offer and a placement behind it and every figure agrees.
pub const OFFER_FLOW_STAGES: [Stage; 3] = [Stage::Offer, Stage::Accepted, Stage::Recruited];

/// Stages an application in `from` may move to by any path: a recruiter's move or the offer
/// flow. The offer flow checks its own preconditions (an offer sent, accepted, started); a
/// recruiter may only choose among [`allowed_manual_targets`].
pub fn allowed_targets(from: Stage) -> Vec<Stage> {
    if from.is_open() {
        let i = FORWARD.iter().position(|s| *s == from).unwrap_or(0);
        let mut targets: Vec<Stage> = FORWARD[i + 1..].to_vec();
        targets.extend([Stage::Refused, Stage::Withdrawn, Stage::Pool]);
        targets
    } else if from == Stage::Pool {
        // A pool candidate is contacted again when a need arises.
        vec![Stage::FirstContact, Stage::Refused, Stage::Withdrawn]
    } else {
        Vec::new()
    }
}

/// Stages a recruiter may move an application in `from` to by hand (the candidate page, the
/// board, the API): [`allowed_targets`] without the stages of the offer flow. From
/// « Proposition » or « Acceptée » the exits (refusal, withdrawal, pool) stay possible.
pub fn allowed_manual_targets(from: Stage) -> Vec<Stage> {
    allowed_targets(from)
        .into_iter()
        .filter(|s| !OFFER_FLOW_STAGES.contains(s))
        .collect()
}

/// A move asked for by a recruiter.
#[derive(Debug, Clone)]
pub struct MoveRequest {
    pub application_id: i64,
    /// The stage the recruiter saw: if it changed meanwhile, the move is refused.
    pub expected_from: Stage,
    pub to: Stage,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub follow_up_on: Option<NaiveDate>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("Cette candidature n'existe pas.")]
    NotFound,
    #[error("La candidature a changé d'étape entre-temps (elle est maintenant « {0} ») : rechargez la page.")]
    Stale(&'static str),
    #[error("Impossible de passer de « {0} » à « {1} ».")]
    NotAllowed(&'static str, &'static str),
    /// « Proposition », « Acceptée » and « Recrutée » are reached through an offer.
    #[error("L'étape « {0} » ne se choisit pas à la main : elle suit la proposition (« Proposition » à son envoi, « Acceptée » à la réponse du médecin, « Recrutée » à la prise de poste). Préparez une proposition depuis la fiche de la candidature.")]
    OfferFlowOnly(&'static str),
    #[error("Choisissez le motif dans la liste.")]
    ReasonRequired,
    #[error("Indiquez la date à laquelle recontacter ce candidat.")]
    FollowUpRequired,
}

/// Checks a recruiter's move against the rules, without the database.
pub fn check_move(current: Stage, req: &MoveRequest) -> Result<(), MoveError> {
    if current != req.expected_from {
        return Err(MoveError::Stale(current.label()));
    }
    if OFFER_FLOW_STAGES.contains(&req.to) {
        return Err(MoveError::OfferFlowOnly(req.to.label()));
    }
    if !allowed_manual_targets(current).contains(&req.to) {
        return Err(MoveError::NotAllowed(current.label(), req.to.label()));
    }
    match req.to {
        Stage::Refused | Stage::Withdrawn => {
            let ok = req
                .reason
                .as_deref()
                .and_then(|r| reason_label(req.to, r))
                .is_some();
            if !ok {
                return Err(MoveError::ReasonRequired);
            }
        }
        Stage::Pool if req.follow_up_on.is_none() => return Err(MoveError::FollowUpRequired),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(from: Stage, to: Stage) -> MoveRequest {
        MoveRequest {
            application_id: 1,
            expected_from: from,
            to,
            reason: None,
            note: None,
            follow_up_on: None,
        }
    }

    #[test]
    fn forward_moves_are_allowed_and_backward_ones_are_not() {
        assert!(check_move(Stage::New, &req(Stage::New, Stage::FirstContact)).is_ok());
        assert!(check_move(Stage::New, &req(Stage::New, Stage::Interview)).is_ok());
        assert!(matches!(
            check_move(Stage::Interview, &req(Stage::Interview, Stage::New)),
            Err(MoveError::NotAllowed(..))
        ));
        assert!(matches!(
            check_move(Stage::Recruited, &req(Stage::Recruited, Stage::Refused)),
            Err(MoveError::NotAllowed(..))
        ));
    }

    #[test]
    fn exits_need_a_coded_reason_and_the_pool_a_date() {
        assert_eq!(
            check_move(Stage::Interview, &req(Stage::Interview, Stage::Withdrawn)),
            Err(MoveError::ReasonRequired)
        );
        let mut r = req(Stage::Interview, Stage::Withdrawn);
        r.reason = Some("bogus".into());
        assert_eq!(
            check_move(Stage::Interview, &r),
            Err(MoveError::ReasonRequired)
        );
        r.reason = Some("distance".into());
        assert!(check_move(Stage::Interview, &r).is_ok());
        assert_eq!(
            check_move(Stage::New, &req(Stage::New, Stage::Pool)),
            Err(MoveError::FollowUpRequired)
        );
    }

    #[test]
    fn a_stale_form_is_refused() {
        assert_eq!(
            check_move(Stage::Interview, &req(Stage::New, Stage::FirstContact)),
            Err(MoveError::Stale("Entretien"))
        );
    }

    #[test]
    fn the_stages_of_the_offer_flow_are_never_chosen_by_hand() {
        for from in [
            Stage::New,
            Stage::FirstContact,
            Stage::Interview,
            Stage::SiteVisit,
            Stage::Offer,
            Stage::Accepted,
            Stage::Pool,
        ] {
            for to in OFFER_FLOW_STAGES {
                assert!(
                    !allowed_manual_targets(from).contains(&to),
                    "{from:?} -> {to:?}"
                );
                assert!(matches!(
                    check_move(from, &req(from, to)),
                    Err(MoveError::OfferFlowOnly(_))
                ));
            }
        }
        // The offer flow itself still goes forward.
        assert!(allowed_targets(Stage::Offer).contains(&Stage::Accepted));
        assert!(allowed_targets(Stage::Accepted).contains(&Stage::Recruited));
    }

    #[test]
    fn an_offer_or_an_acceptance_can_still_end_by_hand() {
        for from in [Stage::Offer, Stage::Accepted] {
            assert_eq!(
                allowed_manual_targets(from),
                vec![Stage::Refused, Stage::Withdrawn, Stage::Pool]
            );
            let mut r = req(from, Stage::Withdrawn);
            r.reason = Some("distance".into());
            assert!(check_move(from, &r).is_ok());
        }
        assert_eq!(
            allowed_manual_targets(Stage::New),
            vec![
                Stage::FirstContact,
                Stage::Interview,
                Stage::SiteVisit,
                Stage::Refused,
                Stage::Withdrawn,
                Stage::Pool
            ]
        );
        assert!(allowed_manual_targets(Stage::Recruited).is_empty());
    }

    #[test]
    fn a_pool_candidate_can_be_contacted_again() {
        assert!(check_move(Stage::Pool, &req(Stage::Pool, Stage::FirstContact)).is_ok());
    }
}
