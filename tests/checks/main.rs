//! `opsync validate` and `opsync test` driven through the real binary. Most tests run from the
//! repository root on the files under `tests/fixtures/checks/`, so paths in the output are
//! stable; those that need a scratch folder filter its path out of snapshots.

mod fixture_cases;
mod validate;

use std::path::Path;

/// What one run of the binary did.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `opsync ARGS` in `dir`.
pub fn opsync_in(dir: &Path, args: &[&str]) -> Outcome {
    let out = assert_cmd::cargo::cargo_bin_cmd!("opsync")
        .args(args)
        .current_dir(dir)
        .env_remove("OPSYNC_LEDGER")
        .output()
        .expect("the opsync binary runs");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run `opsync ARGS` from the repository root.
pub fn opsync(args: &[&str]) -> Outcome {
    opsync_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// The fixtures folder, relative to the repository root.
pub const FIXTURES: &str = "tests/fixtures/checks";

/// Parse a JUnit report, failing the test when it is not well-formed; (tests, failures).
pub fn junit_counts(xml: &str) -> (usize, usize) {
    assert!(xml.starts_with("<?xml"), "{xml}");
    let report = quick_junit::Report::deserialize_from_str(xml).unwrap_or_else(|e| panic!("bad JUnit XML: {e}\n{xml}"));
    (report.tests, report.failures)
}
