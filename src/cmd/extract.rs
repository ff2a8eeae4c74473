use std::path::Path;
use crate::output::Output;
pub fn run(_out: &Output, _job: &Path, _file: Option<&Path>, _limit: Option<u64>) -> anyhow::Result<u8> {
    anyhow::bail!("extract: in progress")
}
