//! Text to typed values: decimals, integers, dates, rounding, unit conversions.

#[allow(unused_imports)]
use crate::common::*;
