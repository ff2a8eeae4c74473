//! One test per bug found by people outside the team (real exports, a new user, a code review, an
//! attack), named after what broke, as ripgrep's `tests/regression.rs` does. Each module holds
//! one area; every test here failed on the code before its fix.

#[path = "../common/mod.rs"]
mod common;

mod accounting;
mod config;
mod convert;
mod excel;
mod files;
mod ledger;
mod load;
mod mapping;
mod masking;
mod sources;
mod state;
mod text;
