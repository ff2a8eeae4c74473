//! The CSV reader against the csv crate's own strict reading of the same bytes (property tests).
//!
//! Random text is built from the pieces that break CSV readers (quotes, doubled quotes,
//! delimiters, CR, LF, CRLF, empty fields, non-ASCII, a byte-order mark, NUL). The oracle reads it
//! with `csv::ReaderBuilder` left strict (`flexible(false)`, default quoting), so a record with
//! another number of fields than the first is an error there. opsync's reader must then yield,
//! record for record, exactly what the oracle yields, or refuse (a reject for that record, or an
//! error that ends the file); it must never yield a record the oracle does not, nor end early
//! without an error.
//!
//! What opsync does on purpose, and the oracle is brought in line with: a byte-order mark at the
//! very start of the file is removed (the decoder does it), line breaks inside values are `\n`
//! (CR and CRLF become LF, see `LineFeeds`), and a line holding only `""` is a blank line.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;

/// What the strict csv crate reads: each data record, or `None` where it reports an error.
fn oracle(text: &str) -> Vec<Option<Vec<String>>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .from_reader(text.as_bytes());
    let mut record = ByteRecord::new();
    let mut out = Vec::new();
    let mut first = true;
    loop {
        let result = reader.read_byte_record(&mut record);
        // On a field-count error the record is filled all the same: a blank `""` line is told apart.
        let fields: Vec<String> = record
            .iter()
            .map(|f| String::from_utf8_lossy(f).replace("\r\n", "\n").replace('\r', "\n"))
            .collect();
        match result {
            Ok(false) => break,
            Ok(true) | Err(_) if first => first = false,
            _ if fields == [""] => {}
            Ok(true) => out.push(Some(fields)),
            Err(e) if matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) => out.push(None),
            Err(e) => panic!("the oracle failed: {e}"),
        }
    }
    out
}

/// What opsync's reader does with the same bytes: each record, a reject (`Err(false)`), or an
/// error that ends the file (`Err(true)`, always last).
fn opsync(text: &str) -> Vec<Result<Vec<String>, bool>> {
    read_with(text, "path = \"in.csv\"")
}

/// The same with a `[source]` table of its own.
fn read_with(text: &str, source: &str) -> Vec<Result<Vec<String>, bool>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    std::fs::write(&path, text).unwrap();
    let config: CsvSource = toml::from_str(source).unwrap();
    let mut reader = match CsvReader::open(&config, &path, Arc::from("in.csv")) {
        Ok(r) => r,
        Err(_) => return vec![Err(true)],
    };
    let mut out = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(r)) => match r.values {
                RawValues::Row(v) => out.push(Ok(v.to_vec())),
                RawValues::Json(_) => unreachable!("a CSV row"),
            },
            Ok(None) => break,
            Err(e) if !e.is_fatal() => out.push(Err(false)),
            Err(_) => {
                out.push(Err(true));
                break;
            }
        }
    }
    out
}

fn agree(text: &str) -> Result<(), TestCaseError> {
    let expected = oracle(text);
    let got = opsync(text);
    let mut i = 0;
    for g in &got {
        match g {
            Err(true) => return Ok(()),
            Err(false) => {
                prop_assert!(
                    i < expected.len(),
                    "a reject past the oracle's last record: {got:?} vs {expected:?}"
                );
            }
            Ok(values) => {
                prop_assert_eq!(
                    expected.get(i),
                    Some(&Some(values.clone())),
                    "record {} of {:?}",
                    i,
                    text
                );
            }
        }
        i += 1;
    }
    prop_assert_eq!(
        i,
        expected.len(),
        "opsync ended early without an error: {:?} vs {:?}",
        got,
        expected
    );
    // Without quotes, NULs or byte-order marks there is nothing to refuse but a ragged row.
    if !text.contains(['"', '\0', '\u{feff}']) {
        for (g, e) in got.iter().zip(&expected) {
            prop_assert_eq!(g.is_ok(), e.is_some(), "{:?}", text);
        }
    }
    Ok(())
}

fn csv_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a", "b7", "é", "日本", " ", "\"", "\"\"", ",", ",", "\r", "\n", "\n", "\r\n", "\u{feff}", "\0", "x y",
    ]);
    prop::collection::vec(pieces, 0..48).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn every_record_is_the_csv_crates_or_refused(text in csv_text()) {
        agree(&text)?;
    }

    /// Well-formed files (every field quoted or not as RFC 4180 says) read exactly alike.
    #[test]
    fn well_formed_files_read_alike(rows in prop::collection::vec(
        prop::collection::vec("[a-z\"\r\n, é]{0,6}", 3), 1..8)
    ) {
        let text: String = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\r\n"
            })
            .collect();
        // Quoted line breaks followed by a delimiter are refused unless the job trusts them.
        let got = read_with(&text, "path = \"in.csv\"\ntrust_multiline = true");
        prop_assert!(got.iter().all(Result::is_ok), "{:?} from {:?}", got, text);
        let got: Vec<_> = got.into_iter().map(Result::ok).collect();
        prop_assert_eq!(got, oracle(&text));
        agree(&text)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// One quote opened at the start of a field and never closed: the rows before it are read,
    /// then the file is refused; the rows after it are never swallowed into one value (the csv
    /// crate alone would hand out that value, so this is checked against the rows as written).
    #[test]
    fn a_quote_left_open_is_refused_not_swallowed(
        rows in prop::collection::vec(prop::collection::vec("[a-z é]{0,4}", 3), 2..8),
        at in any::<prop::sample::Index>(),
        field in 0usize..3,
        ending in prop::sample::select(vec!["\n", "\r\n", "\r"]),
    ) {
        let bad = 1 + at.index(rows.len() - 1);
        let text: String = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut r = r.clone();
                if i == bad {
                    r[field].insert(0, '"');
                }
                r.join(",") + ending
            })
            .collect();
        let got = opsync(&text);
        // Three fields joined by two commas: no row is a blank line.
        let expected: Vec<Result<Vec<String>, bool>> =
            rows[1..bad].iter().cloned().map(Ok).chain([Err(true)]).collect();
        prop_assert_eq!(got, expected, "{:?}", text);
    }
}

#[test]
fn known_shapes() {
    for text in [
        "a,b\n1,\"x\n2,y\n",
        "a,b\n\"1,x\n2,y\n",
        "a,b\n1,\"x\"y\n2,z\n",
        "a,b\n1,\"x\n2\"y\n",
        "a,b\r1,\"x\r\ny\"\r2,z",
        "\u{feff}\"a\",b\n1,2\n",
        "a,b\n\"\"\n1,2\n",
    ] {
        agree(text).unwrap();
    }
}
