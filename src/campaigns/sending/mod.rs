//! The campaign senders: the delivery ledger's workers, in four parts.
//!
//! - [`ledger`]: the ledger's SQL, claims under a lease with `FOR UPDATE SKIP LOCKED`, pacing,
//!   outcomes recorded in one UPDATE, deliveries given back (crates.io's worker keeps its
//!   queue's SQL apart the same way, in `storage.rs`);
//! - [`smtp`]: the SMTP session written over lettre's connection (pipelining, one write per
//!   message), or `.eml` files;
//! - [`message`]: one recipient's message, rendered, encoded and DKIM-signed;
//! - [`worker`]: the tasks, connections, recorder and coordinator (crates.io's `runner.rs`).
//!
//! A delivery goes from the coordinator, which starts due runs (`runs::lifecycle`), to a
//! connection task's claim, its message, the relay and the recorder. No database connection is
//! held while talking SMTP, and a crash repeats at most the message each connection had in
//! flight (at-least-once).

mod ledger;
mod message;
mod smtp;
mod worker;

pub use ledger::{
    claim, record, release, Claim, ClaimedDelivery, Outcome, OutcomeKind, RelayCap, RunContext,
};
pub use message::{list_headers, list_id, public_host, unsubscribe_mailto, Composer};
pub use worker::{CampaignSender, SenderHandle};
