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

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
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
