//! Integration tests: every request goes through the real router (and a few through a
//! real socket), and every answer is checked for its exact status and JSON.

// Test code fails loudly on purpose; the deny lints guard the request paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod harness;

mod auth;
mod contract;
mod errors;
mod events;
mod group_people;
mod groups_crud;
mod guests;
mod hostile;
mod isolation;
mod limits;
mod listing;
mod logos;
mod members;
mod people_in_groups;
mod read_cache;
mod socket;
mod trash_and_expiry;
mod validation;
mod versions;
mod webhooks;
