//! Files that are not what the job says they are.

use crate::common::*;

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
