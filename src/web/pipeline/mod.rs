//! The recruiters' pages: the board and its export, a candidate's page and record, stage moves,
//! meetings, the agenda and the pool's follow-ups.

mod board;
mod candidate;
mod edit;
mod meetings;
mod moves;
pub mod unrecognised;

use serde::Serialize;

pub use board::{board, export_csv, move_card, move_card_page, selection};
pub use candidate::{add_note, answer, candidate, download_document, merge};
pub use edit::{edit_candidate, update_candidate};
pub use meetings::{
    add_meeting, agenda, cancel_meeting, follow_ups, meeting_edit, meeting_ics, move_meeting,
};
pub use moves::move_stage;

/// One choice of a select list, selected when it is the value chosen.
#[derive(Debug, Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn option(value: &str, label: &str, chosen: &str) -> Choice {
    Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        selected: value == chosen,
    }
}
