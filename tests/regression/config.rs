//! Job and mapping configuration: one validated plan for run and validate, the reference, the model.

#[allow(unused_imports)]
use crate::common::*;
