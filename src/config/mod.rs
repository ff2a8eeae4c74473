//! Job and mapping files: TOML read with every error placed at file:line:column.
//!
//! Stage one is the raw serde structs of [`job`] and [`mapping`]; `crate::mapping::compile` turns
//! a loaded mapping into the plan that `run`, `validate`, `preview`, `test` and `explain` share.

pub mod diagnostic;
pub mod job;
pub mod mapping;
pub mod project;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use diagnostic::{ConfigError, Diagnostic, closest};
pub use job::{JobFile, LoadMode, SourceConfig, TargetConfig, UnkeyedRejects};
pub use mapping::MappingFile;

/// A mapping file with its text and content hash (the hash names the mapping version in the ledger).
#[derive(Debug)]
pub struct LoadedMapping {
    pub path: PathBuf,
    pub text: String,
    pub hash: String,
    pub file: MappingFile,
}

impl LoadedMapping {
    /// The folder that relative lookup paths start from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// `version` of the mapping, or the first 12 characters of its hash.
    pub fn version_label(&self) -> String {
        match &self.file.version {
            Some(v) => v.clone(),
            None => format!("sha:{}", &self.hash[..12]),
        }
    }
}

/// A job file with its mapping loaded and paths resolved against the job file's folder.
#[derive(Debug)]
pub struct LoadedJob {
    pub path: PathBuf,
    /// The job file's text, for checks that place problems in it.
    pub text: String,
    pub name: String,
    pub file: JobFile,
    pub mapping: LoadedMapping,
}

impl LoadedJob {
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Resolve a path written in the job file.
    pub fn resolve(&self, p: &str) -> PathBuf {
        resolve(self.dir(), p)
    }

    pub fn source(&self) -> &SourceConfig {
        self.file.source.get_ref()
    }

    pub fn target(&self) -> &TargetConfig {
        self.file.target.get_ref()
    }
}

/// A path relative to `dir` unless absolute.
pub fn resolve(dir: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() || dir.as_os_str().is_empty() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

/// Hex content hash of a configuration text.
pub fn text_hash(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex().to_string()
}

/// Read a file as UTF-8 text, as a diagnostic on failure.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| Diagnostic::file(path, format!("cannot read: {e}")).into())
}

/// Deserialize TOML, turning a serde error into a placed diagnostic with a hint.
pub fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, Diagnostic> {
    toml::from_str(text).map_err(|e| {
        let full = e.message().trim().to_string();
        let hint = typo_hint(&full);
        let span = e
            .span()
            .map(|span| unknown_key_span(text, &full, &span).unwrap_or(span));
        // "unknown field `x`, expected one of ..." keeps its first clause; the hint names the fix.
        let message = match (&hint, full.split_once(", expected")) {
            (Some(_), Some((head, _))) => head.to_string(),
            _ => full,
        };
        Diagnostic::at(path, text, span, message).with_hint_opt(hint)
    })
}

/// serde loses the place of an unknown key inside an internally tagged table (`[source]`,
/// `[target]`, a step): the error points at the whole table. Find the key's own place in it.
fn unknown_key_span(text: &str, message: &str, span: &Range<usize>) -> Option<Range<usize>> {
    let key = message.strip_prefix("unknown field `")?.split('`').next()?;
    let table = text.get(span.clone())?;
    let is_key_at = |line: &str| {
        line.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(['=', '.']))
    };
    if table.starts_with('{') {
        // An inline table: the key follows `{` or `,`.
        let at = table
            .match_indices(key)
            .map(|(i, _)| i)
            .find(|&i| table[..i].trim_end().ends_with(['{', ',']) && is_key_at(&table[i..]))?;
        return Some(span.start + at..span.start + at + key.len());
    }
    let name = table.strip_prefix('[')?.trim_matches(['[', ']', ' ']);
    let mut offset = span.end;
    for line in text[span.end..].split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(header) = trimmed.strip_prefix('[') {
            // Sub-tables (`[[source.columns]]`) still belong to the table; any other header ends it.
            if !header
                .trim_start_matches('[')
                .trim_start()
                .starts_with(&format!("{name}."))
            {
                return None;
            }
        } else if is_key_at(trimmed) {
            let start = offset + (line.len() - trimmed.len());
            return Some(start..start + key.len());
        }
        offset += line.len();
    }
    None
}

/// "did you mean" for serde's "unknown field `x`, expected one of `a`, `b`" messages.
fn typo_hint(message: &str) -> Option<String> {
    let unknown = message.split('`').nth(1)?;
    if !(message.starts_with("unknown field") || message.starts_with("unknown variant")) {
        return None;
    }
    let expected: Vec<&str> = message
        .split_once("expected")
        .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
        .unwrap_or_default();
    match closest(unknown, expected.iter().copied()) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if !expected.is_empty() => Some(format!("expected one of: {}", expected.join(", "))),
        None => None,
    }
}

/// Load a mapping file.
pub fn load_mapping(path: &Path) -> Result<LoadedMapping, ConfigError> {
    let text = read_text(path)?;
    let file: MappingFile = parse_toml(path, &text)?;
    Ok(LoadedMapping {
        path: path.to_path_buf(),
        hash: text_hash(&text),
        text,
        file,
    })
}

/// Load a job file and the mapping it names (or carries inline).
pub fn load_job(path: &Path) -> Result<LoadedJob, ConfigError> {
    let text = read_text(path)?;
    let mut file: JobFile = parse_toml(path, &text)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mapping = match (&file.mapping, file.has_inline_mapping()) {
        (Some(_), true) => {
            return Err(
                Diagnostic::file(path, "the job names a mapping file and also has [[entity]] tables")
                    .with_hint("keep one: `mapping = \"...\"` or inline [[entity]] tables")
                    .into(),
            );
        }
        (Some(m), false) => {
            let mpath = resolve(dir, m.get_ref());
            if !mpath.is_file() {
                return Err(Diagnostic::at(
                    path,
                    &text,
                    Some(m.span()),
                    format!("mapping file {} not found", mpath.display()),
                )
                .with_hint("paths are relative to the job file")
                .into());
            }
            load_mapping(&mpath)?
        }
        (None, true) => {
            let inline = file.take_inline_mapping();
            LoadedMapping {
                path: path.to_path_buf(),
                hash: text_hash(&text),
                text: text.clone(),
                file: inline,
            }
        }
        (None, false) => {
            return Err(Diagnostic::file(path, "the job has no mapping")
                .with_hint("add `mapping = \"my.mapping.toml\"` or [[entity]] tables")
                .into());
        }
    };
    let name = file.job.name.get_ref().clone();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(Diagnostic::at(
            path,
            &text,
            Some(file.job.name.span()),
            format!("job name {name:?} is not valid"),
        )
        .with_hint("use letters, digits, '-', '_' and '.': the name is used for the job's lock file")
        .into());
    }
    Ok(LoadedJob {
        path: path.to_path_buf(),
        text,
        name,
        file,
        mapping,
    })
}

/// What a TOML file is, judged by its top-level tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Job,
    Mapping,
}

/// Tell a job file from a mapping file: a job has `[job]`.
pub fn file_kind(text: &str) -> FileKind {
    match text.parse::<toml::Table>() {
        Ok(t) if t.contains_key("job") => FileKind::Job,
        Ok(_) => FileKind::Mapping,
        Err(_) if text.lines().any(|l| l.trim() == "[job]") => FileKind::Job,
        Err(_) => FileKind::Mapping,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_hint_names_the_closest_key() {
        let msg = "unknown field `dlimiter`, expected one of `path`, `delimiter`, `quote`";
        assert_eq!(typo_hint(msg).as_deref(), Some("did you mean `delimiter`?"));
    }

    #[test]
    fn unknown_key_in_a_tagged_table_is_placed_at_the_key() {
        let text = "mapping = \"m.toml\"\n[job]\nname = \"x\"\n[source]\nkind = \"csv\"\npath = \"a.csv\"\n\
                    dlimiter = \";\"\n[target]\nkind = \"sqlite\"\npath = \"t.db\"\n";
        let err = parse_toml::<JobFile>(Path::new("j.toml"), text).unwrap_err();
        assert_eq!((err.line, err.column), (7, 1), "{err}");
        let inline = text.replace("[source]\nkind = \"csv\"\npath = \"a.csv\"\ndlimiter = \";\"\n", "");
        let inline = format!("source = {{ kind = \"csv\", path = \"a.csv\", dlimiter = \";\" }}\n{inline}");
        let err = parse_toml::<JobFile>(Path::new("j.toml"), &inline).unwrap_err();
        assert_eq!((err.line, err.column), (1, 42), "{err}");
        let columns = "mapping = \"m.toml\"\n[job]\nname = \"x\"\n[source]\nkind = \"fixed_width\"\npath = \"a\"\n\
                       [[source.columns]]\nname = \"A\"\nstart = 1\nlenght = 2\n[target]\nkind = \"csv\"\ndir = \"o\"\n";
        let err = parse_toml::<JobFile>(Path::new("j.toml"), columns).unwrap_err();
        assert_eq!((err.line, err.column), (10, 1), "{err}");
    }

    #[test]
    fn unknown_step_is_placed_with_a_hint() {
        let text =
            "[[entity]]\nname = \"item\"\n[entity.fields.item_id]\nfrom = \"A\"\nsteps = [{ step = \"trimm\" }]\n";
        let err = parse_toml::<MappingFile>(Path::new("m.toml"), text).unwrap_err();
        assert_eq!(err.line, 5, "{err}");
        assert!(err.message.contains("trimm"), "{err}");
        assert_eq!(err.hint.as_deref(), Some("did you mean `trim`?"));
    }
}
