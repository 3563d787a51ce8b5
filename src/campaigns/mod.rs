//! Mailing campaigns: audiences (contacts, lists, organisations), the global suppression list,
//! templates, campaigns, their runs and the per-recipient ledger of deliveries.
//!
//! The guarantees (design.md, « Mailing: what must hold ») live in [`runs`] (one run per
//! campaign and scheduled time, deliveries materialised once, every status transition in
//! `runs::lifecycle`) and [`sending`] (claims with `FOR UPDATE SKIP LOCKED` and a lease, no
//! database connection held during SMTP).

pub mod actions;
pub mod blanks;
pub mod channels;
pub mod contacts;
pub mod directory;
pub mod form;
pub mod import;
pub mod letters;
pub mod library;
pub mod links;
pub mod organisations;
pub mod preview;
pub mod progress;
pub mod qr;
pub mod runs;
pub mod sending;
pub mod suppression;
pub mod template;

#[cfg(test)]
mod sql_codes;
