//! `opsync validate`: every problem of every job and mapping file, each at file:line:column.
//!
//! A mapping file is loaded and compiled; a job file gets the static checks of its own tables,
//! then its mapping is compiled for the job's source kind. A problem found twice (a mapping
//! checked on its own and again through a job) is reported once, in the file it is in.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{FileSet, job, mapping_is_json};
use crate::config::{
    self, Diagnostic, FileKind, JobFile, LoadedMapping, file_kind, load_job, load_mapping, parse_toml, read_text,
};
use crate::mapping::compile;

/// One checked file and the problems placed in it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckedFile {
    /// The file as named on the command line (or found below a folder).
    pub path: PathBuf,
    /// `job`, `mapping`, or `unreadable`.
    pub kind: &'static str,
    /// Problems placed in this file (or in a file it refers to that is not checked itself).
    pub problems: Vec<Diagnostic>,
}

/// The outcome of `opsync validate`: the files in the order checked.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    /// Every file checked, in order.
    pub files: Vec<CheckedFile>,
}

impl Validation {
    /// Problems in all files.
    pub fn problem_count(&self) -> usize {
        self.files.iter().map(|f| f.problems.len()).sum()
    }

    /// Whether no file has a problem.
    pub fn is_ok(&self) -> bool {
        self.problem_count() == 0
    }
}

/// Check every file, collecting every problem.
pub fn validate(files: &[PathBuf]) -> Validation {
    let set = FileSet::new(files);
    let mut out: Vec<CheckedFile> = files
        .iter()
        .map(|p| CheckedFile {
            path: p.clone(),
            kind: "mapping",
            problems: Vec::new(),
        })
        .collect();
    let mut seen = HashSet::new();
    for (i, path) in files.iter().enumerate() {
        let (kind, found) = check_file(path, &set);
        out[i].kind = kind;
        for mut d in found {
            d.file = set.shown(&d.file);
            if !seen.insert((d.file.clone(), d.line, d.column, d.message.clone())) {
                continue;
            }
            let owner = set.index_of(&d.file).unwrap_or(i);
            out[owner].problems.push(d);
        }
    }
    for f in &mut out {
        // The file's own problems first, in text order; then those of files it refers to.
        let own = f.path.clone();
        f.problems.sort_by(|a, b| {
            (a.file != own, &a.file, a.line, a.column).cmp(&(b.file != own, &b.file, b.line, b.column))
        });
    }
    Validation { files: out }
}

fn check_file(path: &Path, set: &FileSet) -> (&'static str, Vec<Diagnostic>) {
    let text = match read_text(path) {
        Ok(t) => t,
        Err(e) => return ("unreadable", e.0),
    };
    match file_kind(&text) {
        FileKind::Mapping => ("mapping", check_mapping(path)),
        FileKind::Job => ("job", check_job(path, &text, set)),
    }
}

fn compile_problems(m: &LoadedMapping, json: bool) -> Vec<Diagnostic> {
    match compile(m, json) {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    }
}

fn check_mapping(path: &Path) -> Vec<Diagnostic> {
    match load_mapping(path) {
        Ok(m) => compile_problems(&m, mapping_is_json(&m.file)),
        Err(e) => e.0,
    }
}

fn check_job(path: &Path, text: &str, set: &FileSet) -> Vec<Diagnostic> {
    let mut file: JobFile = match parse_toml(path, text) {
        Ok(f) => f,
        Err(d) => return vec![d],
    };
    let mut problems = job::check(path, text, &file);
    let json = file.source.get_ref().is_json();
    match load_job(path) {
        Ok(mut loaded) => {
            if loaded.mapping.path != loaded.path {
                loaded.mapping.path = set.shown(&loaded.mapping.path);
            }
            problems.extend(compile_problems(&loaded.mapping, json));
        }
        Err(e) => {
            problems.extend(e.0);
            // `load_job` stops at its first problem; the mapping may still be worth compiling.
            if let Some(m) = fallback_mapping(path, text, &mut file, set) {
                problems.extend(compile_problems(&m, json));
            }
        }
    }
    problems
}

/// The job's mapping, loaded without the job's other checks.
fn fallback_mapping(path: &Path, text: &str, file: &mut JobFile, set: &FileSet) -> Option<LoadedMapping> {
    match (&file.mapping, file.has_inline_mapping()) {
        (Some(m), false) => {
            let mpath = config::resolve(path.parent().unwrap_or(Path::new(".")), m.get_ref());
            // A parse error here was already reported by `load_job`.
            load_mapping(&set.shown(&mpath)).ok()
        }
        (None, true) => Some(LoadedMapping {
            path: path.to_path_buf(),
            text: text.to_string(),
            hash: config::text_hash(text),
            file: file.take_inline_mapping(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const MAPPING: &str = "[[entity]]\nname = \"item\"\n[entity.fields.item_id]\nfrom = \"ID\"\n\
                           [entity.fields.description]\nfrom = \"Name\"\nvalidate = [{ rule = \"pattern\", regex = \"(\" }]\n";

    #[test]
    fn a_shared_mapping_is_reported_once_in_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("jobs")).unwrap();
        let m = write(dir.path(), "items.toml", MAPPING);
        let job = "mapping = \"../items.toml\"\n[job]\nname = \"j\"\n[source]\nkind = \"csv\"\npath = \"x.csv\"\n\
                   [target]\nkind = \"sqlite\"\npath = \"t.db\"\n";
        let j = write(&dir.path().join("jobs"), "j.toml", job);
        let v = validate(&[j.clone(), m.clone()]);
        assert_eq!(v.problem_count(), 1, "{v:#?}");
        assert!(v.files[0].problems.is_empty());
        assert_eq!(v.files[1].problems[0].file, m);
        assert_eq!((v.files[1].problems[0].line, v.files[1].problems[0].column), (7, 13));
    }

    #[test]
    fn a_job_with_a_bad_name_still_has_its_mapping_compiled() {
        let dir = tempfile::tempdir().unwrap();
        let job = format!(
            "[job]\nname = \"bad name\"\n[source]\nkind = \"csv\"\npath = \"x.csv\"\n\
             [target]\nkind = \"sqlite\"\npath = \"t.db\"\n{MAPPING}"
        );
        let j = write(dir.path(), "j.toml", &job);
        let v = validate(std::slice::from_ref(&j));
        let messages: Vec<&str> = v.files[0].problems.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("job name"), "{messages:?}");
        assert!(messages[1].contains("bad regular expression"), "{messages:?}");
    }

    #[test]
    fn syntax_errors_stop_only_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.toml", "[[entity]\n");
        let b = write(dir.path(), "b.toml", MAPPING);
        let v = validate(&[a, b]);
        assert_eq!(v.files[0].problems.len(), 1);
        assert_eq!(v.files[1].problems.len(), 1);
        assert!(!v.is_ok());
    }
}
