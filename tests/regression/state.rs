//! Targets, state and the ledger: what is loaded, skipped, deleted and counted.

#[allow(unused_imports)]
use crate::common::*;
