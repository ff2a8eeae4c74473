//! Reading sources: CSV shapes, encodings, JSON, workbooks, fixed width, globs.

#[allow(unused_imports)]
use crate::common::*;
