//! Vocation: the recruitment campaign of salaried doctors for a French département.

pub mod api_tokens;
pub mod applications;
pub mod campaigns;
pub mod candidates;
pub mod centres;
pub mod config;
pub mod db;
pub mod demo;
pub mod documents;
pub mod domain;
pub mod error;
pub mod mail;
pub mod metrics;
pub mod offers;
pub mod pipeline;
pub mod placements;
pub mod positions;
pub mod privacy;
pub mod reports;
pub mod scheduler;
pub mod specialties;
pub mod staff;
pub mod startup;
pub mod telemetry;
pub mod templates;
pub mod web;
