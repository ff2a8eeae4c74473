//! Files that are not what the job says they are.

use crate::common::*;
use crate::state::ok;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // A gzip member as `gzip -n` writes it: the magic, then deflate data (stored here).
    let mut out = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0x01];
    let len = bytes.len() as u16;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(bytes);
    out.extend_from_slice(&[0; 8]);
    out
}

#[test]
fn a_compressed_file_named_as_csv_is_called_compressed_not_sent_round_the_encodings() {
    let d = Dir::new();
    d.write(
        "items.csv",
        gzip("code,name,cost,gtin,uom\nA1,Gauze \u{e9},1.25,,EA\n".as_bytes()),
    );
    for encoding in ["", "encoding = \"windows-1252\"\n", "encoding = \"macintosh\"\n"] {
        let job = item_job("items", "items.csv", "", ITEM_FIELDS)
            .replace("path = \"items.csv\"\n", &format!("path = \"items.csv\"\n{encoding}"));
        d.write("items.job.toml", job);
        let o = d.run(&["run", "items.job.toml"]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("the file is gzip-compressed, not text: decompress it first"),
            "{encoding}: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("set encoding"), "{}", stderr(&o));
    }
    let o = d.run(&["inspect", "items.csv"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("gzip-compressed, not text"), "{}", stderr(&o));
}

#[test]
fn a_workbook_named_as_csv_is_told_to_use_the_excel_kind() {
    let d = Dir::new();
    d.write(
        "items.csv",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00rest of a zip file".as_slice(),
    );
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("kind = \"excel\""), "{}", stderr(&o));
}

#[test]
fn out_naming_a_fifo_or_a_symbolic_link_writes_through_it_rather_than_replacing_it() {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let d = Dir::new();
    d.write("items.csv", "code,name,cost,gtin,uom\nA1,Gauze,1.25,,EA\n");
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    // A FIFO stands for every file that is not a plain file (`--out /dev/null` replaced the
    // device with a plain file when run as root); a reader is open before opsync writes.
    let fifo = d.join("out.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let o = d.run(&["extract", "items.job.toml", "--out", "out.fifo"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    let mut got = String::new();
    reader.read_to_string(&mut got).unwrap();
    assert!(got.contains("\"code\":\"A1\""), "{got}");
    // A link stays a link; the file it names gets the output.
    d.write("real.jsonl", "old\n");
    std::os::unix::fs::symlink(d.join("real.jsonl"), d.join("link.jsonl")).unwrap();
    let o = d.run(&["transform", "items.job.toml", "--out", "link.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        std::fs::symlink_metadata(d.join("link.jsonl"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let real = std::fs::read_to_string(d.join("real.jsonl")).unwrap();
    assert!(real.contains("\"item_id\":\"A1\""), "{real}");
}

/// A folder with an item CSV and its job (an SQLite target, `target.db`).
fn item_dir() -> Dir {
    let d = Dir::new();
    d.write("items.csv", "code,name,cost,gtin,uom\nA1,Gauze,1.25,,EA\n");
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    d
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn out_naming_its_own_stdout_appends_to_the_redirected_log_instead_of_replacing_it() {
    let d = item_dir();
    // `opsync transform --out /dev/stdout >> log.txt` (through /proc: tests never touch /dev).
    let log = d.write("log.txt", "EXISTING\n");
    std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let append = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    // assert_cmd captures standard output: the plain Command gives it the file instead.
    let o = std::process::Command::new(assert_cmd::cargo::cargo_bin("opsync"))
        .args(["transform", "items.job.toml", "--out", "/proc/self/fd/1"])
        .current_dir(d.path())
        .env("OPSYNC_LEDGER", d.join("opsync.db"))
        .env_remove("OPSYNC_TARGET")
        .stdout(append)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("EXISTING\n{"), "{text}");
    assert!(text.contains("\"item_id\":\"A1\""), "{text}");
    assert_eq!(mode(&log), 0o644);
    // Another process's descriptor (this test's) names nothing opsync can safely replace.
    let other = format!("/proc/{}/fd/1", std::process::id());
    let o = d.run(&["transform", "items.job.toml", "--out", &other]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("an open file of another process"), "{}", stderr(&o));
    assert_eq!(d.count("opsync.db", "SELECT count(*) FROM runs"), 1);
}

#[test]
fn out_naming_the_ledger_the_target_or_the_source_is_refused_before_any_work() {
    let d = item_dir();
    ok(&d, &["run", "items.job.toml"]);
    std::os::unix::fs::symlink("opsync.db", d.join("ledger-link")).unwrap();
    d.write("raw.jsonl", "");
    let cases: [(&[&str], &str); 7] = [
        (
            &["transform", "items.job.toml", "--out", "opsync.db"],
            "is the run ledger",
        ),
        (
            &["extract", "items.job.toml", "--out", "opsync.db"],
            "is the run ledger",
        ),
        (
            &["transform", "items.job.toml", "--out", "ledger-link"],
            "is the run ledger",
        ),
        (
            &["transform", "items.job.toml", "--out", "target.db"],
            "is the target database",
        ),
        (
            &["transform", "items.job.toml", "--out", "items.csv"],
            "is the job's source file",
        ),
        (
            &["extract", "items.job.toml", "--out", "items.job.toml"],
            "is the job file",
        ),
        (
            &["transform", "items.job.toml", "--in", "raw.jsonl", "--out", "raw.jsonl"],
            "is the --in file",
        ),
    ];
    for (args, what) in cases {
        let o = d.run(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(what), "{args:?}: {err}");
        assert!(err.contains(&format!("--out {}", args[args.len() - 1])), "{err}");
    }
    // Nothing was replaced, and no run was started.
    assert_eq!(d.count("opsync.db", "SELECT count(*) FROM runs"), 1);
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 1);
    assert!(
        std::fs::read_to_string(d.join("items.csv"))
            .unwrap()
            .starts_with("code,")
    );
}

#[test]
fn out_naming_a_folder_is_refused_before_the_run_and_a_failed_rename_fails_the_run() {
    let d = item_dir();
    std::fs::create_dir(d.join("adir")).unwrap();
    for (out, what) in [
        ("adir", "--out adir: it is a folder"),
        ("nodir/out.jsonl", "--out nodir/out.jsonl: folder nodir does not exist"),
    ] {
        let o = d.run(&["transform", "items.job.toml", "--out", out]);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains(what), "{}", stderr(&o));
    }
    assert!(!d.join("opsync.db").exists(), "no run is recorded for a refused --out");
    // The rename at the end fails: the run is recorded as failed, and nothing is left behind.
    let o = d
        .cmd(&["transform", "items.job.toml", "--out", "out.jsonl"])
        .env("OPSYNC_FAILPOINT", "out_rename:1:error")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("out.jsonl: cannot put the finished output in place"),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.query("opsync.db", "SELECT status FROM runs"), [["failed"]]);
    let mut left: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("out.jsonl"))
        .collect();
    left.sort();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn out_through_a_dangling_link_keeps_the_link_and_files_keep_their_modes() {
    let d = item_dir();
    let umask_mode = {
        let probe = d.write("probe", "");
        mode(&probe)
    };
    std::fs::create_dir(d.join("sub")).unwrap();
    std::os::unix::fs::symlink("sub/new.jsonl", d.join("dangling")).unwrap();
    ok(&d, &["transform", "items.job.toml", "--out", "dangling"]);
    assert!(
        std::fs::symlink_metadata(d.join("dangling"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let made = std::fs::read_to_string(d.join("sub/new.jsonl")).unwrap();
    assert!(made.contains("\"item_id\":\"A1\""), "{made}");
    assert_eq!(mode(&d.join("sub/new.jsonl")), umask_mode);
    // A replaced file keeps its permission bits.
    let kept = d.write("kept.jsonl", "old\n");
    std::fs::set_permissions(&kept, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    ok(&d, &["extract", "items.job.toml", "--out", "kept.jsonl"]);
    assert_eq!(mode(&kept), 0o640);
    // A link into a missing folder, and a loop, are errors; the links stay as they were.
    std::os::unix::fs::symlink("nodir/x.jsonl", d.join("nowhere")).unwrap();
    std::os::unix::fs::symlink("loop2", d.join("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", d.join("loop2")).unwrap();
    for (out, what) in [
        ("nowhere", "nodir does not exist"),
        ("loop1", "the symbolic links loop (loop1 -> loop2 -> loop1)"),
    ] {
        let o = d.run(&["transform", "items.job.toml", "--out", out]);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains(what), "{}", stderr(&o));
        assert!(std::fs::symlink_metadata(d.join(out)).unwrap().file_type().is_symlink());
    }
}

#[test]
fn a_file_target_entity_file_that_is_a_link_is_written_where_it_points() {
    let d = Dir::new();
    d.write("items.csv", "code,name,cost,gtin,uom\nA1,Gauze,1.25,,EA\n");
    let job = item_job("items", "items.csv", "", ITEM_FIELDS).replace(
        "kind = \"sqlite\"\npath = \"target.db\"",
        "kind = \"csv\"\ndir = \"tgt\"",
    );
    d.write("items.job.toml", job);
    let shared = d.write("shared/item.csv", "item_id,description\n");
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o664)).unwrap();
    std::fs::create_dir(d.join("tgt")).unwrap();
    std::os::unix::fs::symlink("../shared/item.csv", d.join("tgt/item.csv")).unwrap();
    ok(&d, &["run", "items.job.toml"]);
    assert!(
        std::fs::symlink_metadata(d.join("tgt/item.csv"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&shared).unwrap();
    assert!(text.contains("A1,Gauze"), "{text}");
    assert_eq!(mode(&shared), 0o664);
    // A link to a missing file in an existing folder: the file is created there.
    std::fs::remove_file(&shared).unwrap();
    ok(&d, &["run", "items.job.toml"]);
    assert!(std::fs::read_to_string(&shared).unwrap().contains("A1,Gauze"));
    // A loop is an error naming the file, not a plain file in the link's place.
    std::fs::remove_file(d.join("tgt/item.csv")).unwrap();
    std::os::unix::fs::symlink("item.csv", d.join("tgt/item.csv")).unwrap();
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("tgt/item.csv: the symbolic links loop"),
        "{}",
        stderr(&o)
    );
    assert!(
        std::fs::symlink_metadata(d.join("tgt/item.csv"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn out_naming_a_fifo_that_nobody_reads_is_an_error_not_a_hang() {
    let d = item_dir();
    let fifo = d.join("out.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let o = d
        .cmd(&["transform", "items.job.toml", "--out", "out.fifo"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "no process is reading the FIFO {}",
            std::fs::canonicalize(&fifo).unwrap().display()
        )),
        "{}",
        stderr(&o)
    );
}
