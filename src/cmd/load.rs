use crate::cli::Global;
use crate::output::Output;
use std::path::Path;
pub fn run(_g: &Global, _out: &Output, _job: &Path, _input: Option<&Path>) -> anyhow::Result<u8> {
    anyhow::bail!("load: in progress")
}
