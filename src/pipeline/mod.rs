//! The recruiters' pipeline: which stage moves are allowed and why an application leaves it
//! ([`rules`]), recording a move ([`moves`]), the board's queries ([`board`]), the stage e-mails,
//! meetings and pool follow-ups.

pub mod board;
pub mod emails;
pub mod evaluation;
pub mod followups;
pub mod meetings;
pub mod moves;
pub mod rules;

pub use board::{
    applications_page, board, candidate_ids_page, export, neutralize_cell, BoardFilter, Card,
    Column, ExportRow, CARDS_PER_COLUMN,
};
pub use moves::{current_stage, move_application, record_move, RecordedMove};
pub use rules::{
    allowed_manual_targets, allowed_targets, check_move, reason_label, MoveError, MoveRequest,
    FORWARD, OFFER_FLOW_STAGES, REFUSAL_REASONS, SELF_WITHDRAWAL, WITHDRAWAL_REASONS,
};
