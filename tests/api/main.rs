//! The integration tests: one binary, one module per area. Each test runs the real server
//! against its own PostgreSQL database and, for mail, a real SMTP server.

mod admin;
mod application_form;
mod board_filters;
#[cfg(feature = "browser")]
mod browser;
#[cfg(feature = "browser")]
mod browser_board;
#[cfg(feature = "browser")]
mod browser_campaigns;
#[cfg(feature = "browser")]
mod browser_candidate;
#[cfg(feature = "browser")]
mod browser_conversations;
#[cfg(feature = "browser")]
mod browser_home;
#[cfg(feature = "browser")]
mod browser_letters;
#[cfg(feature = "browser")]
mod browser_look;
#[cfg(feature = "browser")]
mod browser_routine;
#[cfg(feature = "browser")]
mod browser_workspace_offers;
mod campaign_pages;
mod campaigns;
mod channel_links;
mod cli;
mod contacts;
mod conversations;
mod crash;
mod faults;
mod followups;
mod generator;
mod golden;
mod health;
mod helpers;
mod imap_server;
mod json_api;
mod letters;
mod letters_postal_only;
mod mail;
mod mail_sending;
mod mailbox;
mod metrics;
mod migrations;
mod offers;
mod openapi_strict;
mod operations;
mod partners;
mod personal_data;
mod pipeline;
mod places;
mod positions_web;
mod public_pages;
mod reports;
mod smtp_server;
mod spouse;
mod staff;
mod templates_bounds;
mod totp;
mod trust_inputs;
mod trust_records;
mod trust_staff;
mod workspace_board;
mod workspace_campaigns;
mod workspace_candidate;
mod workspace_home;
mod workspace_look;
mod workspace_offers;
