//! Telling text from not-text, and one encoding from another: control characters in fixed-width
//! lines, UTF-16 declared or not, magic numbers, legacy bytes that look like UTF-8, the DOS
//! end-of-file mark.

use crate::common::*;
use crate::sources::{items, live_items};

/// Run a fixed-width job (code 1-6, name 7-26) over `bytes` as `cc.txt`.
fn run_fixed(d: &Dir, job_extra: &str, source_extra: &str, bytes: impl AsRef<[u8]>) -> std::process::Output {
    d.write("cc.txt", bytes);
    d.write(
        "cc.job.toml",
        format!(
            r#"[job]
name = "cc"
{job_extra}

[source]
kind = "fixed_width"
path = "cc.txt"
{source_extra}
columns = [{{ name = "code", start = 1, length = 6 }}, {{ name = "name", start = 7, length = 20 }}]

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "cost_center"
[entity.fields]
cost_center_id = {{ from = "code" }}
name = {{ from = "name" }}
"#
        ),
    );
    d.run(&["run", "cc.job.toml"])
}

fn cost_centers(d: &Dir) -> Vec<Vec<String>> {
    d.query(
        "target.db",
        "SELECT cost_center_id, name FROM cost_center WHERE _deleted = 0 ORDER BY 1",
    )
}

fn rejects(d: &Dir) -> Vec<Vec<String>> {
    d.query("opsync.db", "SELECT line, message FROM rejects ORDER BY line")
}

#[test]
fn a_control_character_in_a_fixed_width_line_is_a_reject_not_shifted_columns() {
    let d = Dir::new();
    // Before: the form feed took position 1, so line 3 loaded code "CC000", name "3Emergency Room".
    let o = run_fixed(
        &d,
        "",
        "",
        "CC0001Cardiology Ward     \n\
         \x0cCC0003Emergency Room      \n\
         CC0004\tTabbed name        \n\
         CC0005Vertical\x0btab       \n\
         CC0006Mid-file \x1a mark     \n\
         CC0007Pharmacy            \n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        cost_centers(&d),
        [["CC0001", "Cardiology Ward"], ["CC0007", "Pharmacy"]]
    );
    let rejects = rejects(&d);
    let expected = [
        ("2", "a form feed (U+000C) at character 1 (column \"code\")"),
        ("3", "a tab (U+0009) at character 7 (column \"name\")"),
        ("4", "a vertical tab (U+000B) at character 15 (column \"name\")"),
        (
            "5",
            "a DOS end-of-file mark (^Z) (U+001A) at character 16 (column \"name\")",
        ),
    ];
    assert_eq!(rejects.len(), expected.len(), "{rejects:?}");
    for (reject, (line, what)) in rejects.iter().zip(expected) {
        assert_eq!(reject[0], line, "{rejects:?}");
        assert!(
            reject[1].contains(&format!("the line holds {what}: fixed-width positions would shift")),
            "{rejects:?}"
        );
    }
}

const HEADER: &str = "code,name,cost,gtin,uom\n";

fn utf16(text: &str, to_bytes: fn(u16) -> [u8; 2]) -> Vec<u8> {
    text.encode_utf16().flat_map(to_bytes).collect()
}

/// Rows of Cyrillic text: as UTF-16 bytes, one byte in two is 0x04 and none is zero.
fn cyrillic_rows() -> String {
    let rows: String = (1..=30)
        .map(|i| format!("Ж{i:02},Бинт марлевый медицинский нестерильный,{i},,уп\r\n"))
        .collect();
    format!("{HEADER}{rows}")
}

#[test]
fn utf16_without_a_byte_order_mark_in_cyrillic_is_read_not_refused_as_binary() {
    for (label, to_bytes) in [
        ("utf-16le", u16::to_le_bytes as fn(u16) -> [u8; 2]),
        ("utf-16be", u16::to_be_bytes),
    ] {
        let d = Dir::new();
        d.write("items.csv", utf16(&cyrillic_rows(), to_bytes));
        // Before: "the file is binary data (one byte in ten is a control character)".
        let o = items(&d, "items.csv", "", &format!("encoding = \"{label}\""));
        assert_eq!(code(&o), 0, "{label}: {}", stderr(&o));
        let live = live_items(&d);
        assert_eq!(live.len(), 30, "{label}");
        assert_eq!(live[0], ["Ж01", "Бинт марлевый медицинский нестерильный"], "{label}");

        // Undeclared, the file is still refused, but the way out is named.
        let o = items(&d, "items.csv", "", "");
        assert_eq!(code(&o), 1, "{label}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!(
                "or UTF-16 text without a byte-order mark: if so, set encoding = \"{label}\""
            )),
            "{label}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn a_csv_header_starting_with_bzh_is_text_not_bzip2() {
    let d = Dir::new();
    // Before: "the file is bzip2-compressed, not text".
    d.write("items.csv", "BZh_code,name,cost,gtin,uom\nA1,Gauze,1,,EA\n");
    let job = item_job(
        "items",
        "items.csv",
        "",
        &ITEM_FIELDS.replace("\"code\"", "\"BZh_code\""),
    );
    d.write("items.job.toml", job);
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live_items(&d), [["A1", "Gauze"]]);

    // Text that starts like other formats' magic numbers is text too.
    for start in ["PK,name", "%PDF-it,name", "BZh9,name"] {
        let d = Dir::new();
        d.write("items.csv", format!("{start},cost,gtin,uom\nA1,Gauze,1,,EA\n"));
        let o = items(&d, "items.csv", "", "");
        assert!(!stderr(&o).contains("not text"), "{start}: {}", stderr(&o));
    }

    // A real bzip2 stream is still named.
    let d = Dir::new();
    d.write("items.csv", b"BZh91AY&SY\x12\x34\x56\x78rest of the block");
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the file is bzip2-compressed, not text"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_ascii_file_declared_utf16_is_refused_not_read_as_cjk() {
    let d = Dir::new();
    // Before: exit 0, one cost center of CJK characters.
    let o = run_fixed(
        &d,
        "",
        "encoding = \"utf-16le\"",
        "CC0001Cardiology Ward     \nCC0002Radiology           \n",
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("cc.txt:1: text is not valid utf-16le; the file does not look like UTF-16: its first 54 bytes hold no zero byte"),
        "{err}"
    );
    assert!(err.contains("remove encoding from [source]"), "{err}");

    // A header-less CSV, and 8-bit text under utf-16be: the 8-bit encoding is named.
    let d = Dir::new();
    d.write("items.csv", b"A1,Caf\xe9,1,,EA\nA2,Tape,2,,EA\n");
    let o = items(
        &d,
        "items.csv",
        "",
        "header = false\ncolumns = [\"code\", \"name\", \"cost\", \"gtin\", \"uom\"]\nencoding = \"utf-16be\"",
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("the file does not look like UTF-16"), "{err}");
    assert!(err.contains("set encoding = \"windows-1252\""), "{err}");

    // Real UTF-16 without a byte-order mark still reads.
    let d = Dir::new();
    d.write(
        "items.csv",
        utf16(&format!("{HEADER}A1,Gauze,1,,EA\n"), u16::to_le_bytes),
    );
    let o = items(&d, "items.csv", "", "encoding = \"utf-16le\"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live_items(&d), [["A1", "Gauze"]]);
}

#[test]
fn mac_roman_text_whose_accents_form_a_utf8_sequence_loads_as_declared() {
    let d = Dir::new();
    // Mac Roman: 0xD5 is ’ and 0x8E is é; together they are UTF-8 for U+054E, an Armenian letter.
    d.write(
        "items.csv",
        b"code,name,cost,gtin,uom\nA1,Gaze pour l\xd5\x8ecole,1,,EA\n",
    );
    // Before: "its characters beyond ASCII are all UTF-8 sequences ... remove encoding".
    let o = items(&d, "items.csv", "", "encoding = \"macintosh\"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live_items(&d), [["A1", "Gaze pour l’école"]]);

    // UTF-8 text the declared encoding could write, beside text it could not, is still UTF-8.
    let d = Dir::new();
    d.write("items.csv", format!("{HEADER}A1,Müller,1,,EA\nA2,Dvořák,1,,EA\n"));
    let o = items(&d, "items.csv", "", "encoding = \"windows-1252\"");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("remove encoding from [source]"), "{}", stderr(&o));
}

#[test]
fn a_dos_end_of_file_mark_ends_the_file_not_a_malformed_row() {
    let d = Dir::new();
    let rows = |n: usize| -> String { (1..=n).map(|i| format!("I{i:02},Item {i},1,,EA\r\n")).collect() };
    d.write("items.csv", format!("{HEADER}{}", rows(10)));
    let o = items(&d, "items.csv", "mode = \"snapshot\"", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Before: the ^Z was a malformed row, and a malformed row holds back the snapshot's deletes.
    d.write("items.csv", format!("{HEADER}{}\x1a", rows(9)));
    let o = items(&d, "items.csv", "mode = \"snapshot\"", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(rejects(&d).is_empty(), "{:?}", rejects(&d));
    let live = live_items(&d);
    assert_eq!(live.len(), 9, "I10 is deleted: {live:?}");
    assert_eq!(live[8], ["I09", "Item 9"]);

    // Fixed width, the mark right after the last value.
    let d = Dir::new();
    let o = run_fixed(
        &d,
        "mode = \"snapshot\"",
        "",
        "CC0001Cardiology Ward     \r\nCC0002Radiology           \x1a",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(rejects(&d).is_empty(), "{:?}", rejects(&d));
    assert_eq!(
        cost_centers(&d),
        [["CC0001", "Cardiology Ward"], ["CC0002", "Radiology"]]
    );

    // A ^Z that is not the file's last byte is a control character still.
    let d = Dir::new();
    let o = run_fixed(&d, "", "", "CC0001Cardiology Ward     \n\x1a\n");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rejects = rejects(&d);
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(rejects[0][1].contains("^Z"), "{rejects:?}");
}
