//! Applying a mapping: expressions, dependent records, sensitive values.

#[allow(unused_imports)]
use crate::common::*;
