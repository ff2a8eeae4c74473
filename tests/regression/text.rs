//! Telling text from not-text, and one encoding from another: control characters in fixed-width
//! lines, UTF-16 declared or not, magic numbers, legacy bytes that look like UTF-8, the DOS
//! end-of-file mark.

use crate::common::*;

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
