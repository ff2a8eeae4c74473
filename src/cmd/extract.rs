use crate::output::Output;
use std::path::Path;
pub fn run(_out: &Output, _job: &Path, _file: Option<&Path>, _limit: Option<u64>) -> anyhow::Result<u8> {
    anyhow::bail!("extract: in progress")
}
