use crate::output::Output;
use std::path::Path;
pub fn run(
    _out: &Output,
    _file: &Path,
    _sheet: Option<&str>,
    _enc: Option<&str>,
    _rows: usize,
    _m: Option<&Path>,
) -> anyhow::Result<u8> {
    anyhow::bail!("inspect: in progress")
}
