//! opsync: batch synchronization of healthcare operations data through one canonical model.
//!
//! Data flows one way: a [`source`] yields raw records with lineage, a [`mapping`] turns them into
//! canonical records or rejects, a [`target`] stores the records, and the [`ledger`] records every
//! run, reject and change beside each step. [`pipeline`] drives that flow; only `cmd` prints.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod check;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod inspect;
pub mod ledger;
pub mod mapping;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod reconcile;
pub mod reference;
pub mod source;
pub mod target;
