use crate::cli::{Global, TableFormat};
pub fn run(_g: &Global, _entity: &str, _key: &str, _format: TableFormat) -> anyhow::Result<u8> {
    anyhow::bail!("explain: in progress")
}
