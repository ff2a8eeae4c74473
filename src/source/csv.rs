//! Delimited text files (CSV, TSV, pipe): header or none, skipped banner lines, any encoding.
//!
//! Fields are split by the csv crate (RFC 4180 quoting: a quote opens a quoted field only at the
//! start of a field, `""` inside one is a quote; a quote inside an unquoted field, as in
//! `5" gauze`, is text). What it lets through that would lose or garble rows is caught here, with
//! [`Quotes`] following the same bytes:
//! - a quote never closed: its field runs to the end of the file, swallowing every row after it.
//!   That is an error naming the line where the quote opened, and the run stops: nothing after
//!   it can be trusted (in snapshot mode, nothing is marked deleted);
//! - a quoted field that spans lines is a legitimate multi-line value when the record then has
//!   the header's number of fields; with another number of fields, or with text after its closing
//!   quote, it is an unbalanced quote that swallowed rows: an error too;
//! - a quoted field followed by text on the same line (`"5" gauze`, which the csv crate reads
//!   `5 gauze`) is a malformed row: a reject, and the rest of the file is read;
//! - a NUL character or a byte-order mark (U+FEFF) in a value is a malformed row (a damaged file,
//!   or two files joined together): a reject, never loaded;
//! - a file cut off mid-line is read as far as it goes: a row left short is ragged (a reject), a
//!   cut inside quotes is an unclosed quote (an error). A last line without a line ending is read
//!   like any other, as many exporters write it that way.
//!
//! CR, LF and CRLF line endings are all read (see [`LineFeeds`]).

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use csv::{ByteRecord, ReaderBuilder};
use encoding_rs::Encoding;

use super::csv_quotes::Quotes;
use super::encoding::{Decoder, declared_hint, guess_hint, guess_legacy, open_decoded, resolve_encoding, undecodable};
use super::names::{SharedName, unique_names};
use super::{Source, SourceError};
use crate::config::job::CsvSource;
use crate::model::{Lineage, RawRecord, RawValues, TextRow};

/// Streams one delimited file, one reused byte record at a time.
pub struct CsvReader {
    reader: csv::Reader<Tracked<LineFeeds<Decoder>>>,
    columns: Vec<String>,
    shared: Vec<SharedName>,
    name: Arc<str>,
    encoding: String,
    /// The encoding named in the job, when it is not UTF-8: decoded text is checked against it.
    legacy: Option<&'static Encoding>,
    record: ByteRecord,
    /// A first data record read early to count the columns of a header-less file.
    pending: Option<(ByteRecord, QuoteCheck, u64)>,
    /// The values of a record handed back by [`Source::recycle`], refilled in place.
    spare: TextRow,
    row: u64,
    /// Line where the record just read starts.
    record_line: u64,
    bytes: Arc<AtomicU64>,
    delimiter: char,
    trust_multiline: bool,
}

/// What reading one record found about its quotes.
#[derive(Debug, Clone, Copy)]
enum QuoteCheck {
    Fine,
    /// A quoted field followed by text on its own line: the row alone is in doubt.
    TextAfterQuote,
}

impl CsvReader {
    pub fn open(config: &CsvSource, path: &Path, name: Arc<str>) -> Result<Self, SourceError> {
        check_config(config)?;
        let legacy = resolve_encoding(config.encoding.as_deref()).map_err(SourceError::Config)?;
        let (decoder, bytes) = open_decoded(path, config.encoding.as_deref())?;
        let (delimiter, quote) = (config.delimiter as u8, config.quote as u8);
        let reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .quote(quote)
            .from_reader(Tracked {
                inner: LineFeeds::new(decoder),
                quotes: Quotes::new(delimiter, quote),
            });
        let encoding = config.encoding.clone().unwrap_or_else(|| "UTF-8".into());
        let mut me = CsvReader {
            reader,
            columns: Vec::new(),
            shared: Vec::new(),
            name,
            encoding,
            legacy,
            record: ByteRecord::new(),
            pending: None,
            spare: TextRow::new(),
            row: 0,
            record_line: 0,
            bytes,
            delimiter: config.delimiter,
            trust_multiline: config.trust_multiline,
        };
        for _ in 0..config.skip_rows {
            if !me.read_raw()? {
                return Err(SourceError::Empty {
                    path: me.name.to_string(),
                });
            }
            // A banner line is not data: text after a quote there garbles nothing.
            me.check_quotes()?;
        }
        if config.header {
            if !me.read_raw()? {
                return Err(SourceError::Empty {
                    path: me.name.to_string(),
                });
            }
            me.check_quotes()?;
            let line = me.line();
            let raw = me
                .record
                .iter()
                .map(|f| me.header_text(f, line))
                .collect::<Result<Vec<_>, _>>()?;
            (me.columns, me.shared) = unique_names(raw);
        } else if !config.columns.is_empty() {
            let (_, shared) = unique_names(config.columns.clone());
            if let Some(s) = shared.first() {
                return Err(SourceError::Config(format!(
                    "columns names {:?} {} times: each column needs its own name",
                    s.name,
                    s.positions.len()
                )));
            }
            me.columns = config.columns.clone();
        } else {
            if !me.read_raw()? {
                return Err(SourceError::Empty {
                    path: me.name.to_string(),
                });
            }
            let check = me.check_quotes()?;
            me.columns = (1..=me.record.len()).map(|i| format!("column_{i}")).collect();
            me.pending = Some((me.record.clone(), check, me.record_line));
        }
        Ok(me)
    }

    fn read_raw(&mut self) -> Result<bool, SourceError> {
        self.reader
            .read_byte_record(&mut self.record)
            .map_err(|e| self.csv_error(e))
    }

    /// Match what [`Quotes`] noted to the record just read (the bytes up to the reader's
    /// position). An unclosed quote, or text after a quote that closed on a later line, is an
    /// error: the rows after it cannot be trusted.
    fn check_quotes(&mut self) -> Result<QuoteCheck, SourceError> {
        let end = self.reader.position().byte();
        let quotes = &mut self.reader.get_mut().quotes;
        self.record_line = self.record.position().map_or(0, |p| p.line());
        while let Some(&(offset, line)) = quotes.record_starts.front() {
            if offset >= end {
                break;
            }
            quotes.record_starts.pop_front();
            self.record_line = line;
        }
        if let Some((offset, line)) = quotes.unclosed()
            && offset < end
        {
            return Err(SourceError::Malformed {
                path: self.name.to_string(),
                line,
                message: format!(
                    "unclosed quote: the quoted field opened on line {line} runs to the end of the file, \
                     swallowing every row after it; close the quote, or double a quote inside a value (\"\"); \
                     nothing of the file after line {line} was read"
                ),
            });
        }
        let mut check = QuoteCheck::Fine;
        while let Some(t) = quotes.after_quote.front().copied() {
            if t.offset >= end {
                break;
            }
            quotes.after_quote.pop_front();
            if t.closed > t.opened {
                return Err(SourceError::Malformed {
                    path: self.name.to_string(),
                    line: t.opened,
                    message: format!(
                        "unbalanced quote: the quoted field opened on line {} closes on line {} and is followed \
                         by more text, so the rows between were read as one value; close the quote on line {}, \
                         or double a quote inside a value (\"\")",
                        t.opened, t.closed, t.opened
                    ),
                });
            }
            check = QuoteCheck::TextAfterQuote;
        }
        Ok(check)
    }

    fn line(&self) -> u64 {
        self.record_line
    }

    /// A header name, trimmed; a NUL or a byte-order mark in it means the bytes are not the text
    /// they seem.
    fn header_text(&self, field: &[u8], line: u64) -> Result<String, SourceError> {
        let text = std::str::from_utf8(field).map_err(|_| self.encoding_error(field, line))?;
        self.check_decoded(text, line)?;
        if let Some(what) = super::odd_character(text) {
            return Err(SourceError::Malformed {
                path: self.name.to_string(),
                line,
                message: format!(
                    "the header holds {what}: the file is damaged, joined from two files, or in another encoding{}",
                    guess_hint(field)
                ),
            });
        }
        Ok(text.trim().to_string())
    }

    /// Text decoded from a legacy encoding must not hold what that encoding cannot decode.
    fn check_decoded(&self, text: &str, line: u64) -> Result<(), SourceError> {
        if let Some(enc) = self.legacy
            && undecodable(text).is_some()
        {
            let (hint, guess) = declared_hint(enc, text);
            return Err(SourceError::Encoding {
                path: self.name.to_string(),
                line,
                encoding: self.encoding.clone(),
                hint,
                guess,
            });
        }
        Ok(())
    }

    fn encoding_error(&self, field: &[u8], line: u64) -> SourceError {
        SourceError::Encoding {
            path: self.name.to_string(),
            line,
            encoding: self.encoding.clone(),
            hint: guess_hint(field),
            guess: guess_legacy(field),
        }
    }

    fn csv_error(&self, e: csv::Error) -> SourceError {
        let line = e.position().map_or(0, |p| p.line());
        match e.into_kind() {
            csv::ErrorKind::Io(source) => SourceError::Io {
                path: self.name.to_string(),
                source,
            },
            csv::ErrorKind::Utf8 { .. } => SourceError::Encoding {
                path: self.name.to_string(),
                line,
                encoding: self.encoding.clone(),
                hint: String::new(),
                guess: None,
            },
            other => SourceError::Malformed {
                path: self.name.to_string(),
                line,
                message: format!("{other:?}"),
            },
        }
    }

    fn ragged(&self, line: u64, reason: String, row: &TextRow) -> SourceError {
        SourceError::Ragged {
            path: self.name.to_string(),
            line,
            row: self.row,
            reason,
            values: row.to_vec(),
        }
    }
}

/// Delimiter and quote the csv crate can use and that cannot be mistaken for a line break.
fn check_config(config: &CsvSource) -> Result<(), SourceError> {
    let (d, q) = (config.delimiter, config.quote);
    if !d.is_ascii() || !q.is_ascii() {
        return Err(SourceError::Config(
            "delimiter and quote must be ASCII characters".into(),
        ));
    }
    if d == q || [d, q].iter().any(|c| matches!(c, '\n' | '\r')) {
        return Err(SourceError::Config(format!(
            "delimiter {d:?} and quote {q:?} must differ, and neither may be a line break"
        )));
    }
    Ok(())
}

impl Source for CsvReader {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn shared_names(&self) -> &[SharedName] {
        &self.shared
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        let quotes = match self.pending.take() {
            Some((r, check, line)) => {
                self.record = r;
                self.record_line = line;
                check
            }
            None => loop {
                if !self.read_raw()? {
                    return Ok(None);
                }
                let check = self.check_quotes()?;
                // A blank line between records is not a record.
                if !(self.record.len() == 1 && self.record[0].is_empty()) {
                    break check;
                }
            },
        };
        self.row += 1;
        let line = self.line();
        let mut row = std::mem::take(&mut self.spare);
        // The record's text is checked once, whole: valid UTF-8, and no character that no exported
        // value holds (then each field is searched, to name it).
        let bytes = self.record.as_slice();
        let whole = std::str::from_utf8(bytes).ok();
        let suspect = whole.is_none() || memchr::memchr2(0, 0xEF, bytes).is_some();
        let multiline = memchr::memchr(b'\n', bytes).is_some();
        let mut odd = None;
        let copied = match (suspect, whole) {
            // The common case: the whole record's text copied at once.
            (false, Some(all)) => row
                .fill(
                    all,
                    (0..self.record.len()).map(|i| self.record.range(i).map_or(usize::MAX, |r| r.end)),
                )
                .is_some(),
            _ => false,
        };
        if !copied {
            row.clear();
            for (i, field) in self.record.iter().enumerate() {
                let Ok(text) = std::str::from_utf8(field) else {
                    return Err(self.encoding_error(field, line));
                };
                if odd.is_none()
                    && let Some(what) = super::odd_character(text)
                {
                    odd = Some((i, what));
                }
                row.push(text);
            }
        }
        if self.legacy.is_some() {
            for v in row.iter() {
                self.check_decoded(v, line)?;
            }
        }
        if row.len() != self.columns.len() {
            // A quoted field that swallowed line breaks and then the wrong number of fields is an
            // unbalanced quote: everything after it is in doubt, so the run stops here.
            if let Some(v) = row.iter().find(|v| v.contains('\n')) {
                let lines = v.matches('\n').count();
                return Err(SourceError::Malformed {
                    path: self.name.to_string(),
                    line,
                    message: format!(
                        "unbalanced quote: a quoted field opened on line {line} runs over {lines} line breaks \
                         and the record has {} fields, the header has {}; close the quote or escape it as \"\"",
                        row.len(),
                        self.columns.len()
                    ),
                });
            }
            let reason = format!("row has {} fields, the header has {}", row.len(), self.columns.len());
            return Err(self.ragged(line, reason, &row));
        }
        if let Some((i, what)) = odd {
            let reason = format!(
                "column {:?} holds {what}, which no exported value holds: the file is damaged or joined from two \
                 files",
                self.columns[i]
            );
            return Err(self.ragged(line, reason, &row));
        }
        if multiline
            && !self.trust_multiline
            && let Some((i, _)) = row.iter().enumerate().find(|(_, v)| {
                v.split_once('\n')
                    .is_some_and(|(_, after)| after.contains(self.delimiter))
            })
        {
            let reason = format!(
                "column {:?} holds a quoted value running over a line break into text with the delimiter {:?}, \
                 which is how a quote left open swallows the next row; if values really hold such line breaks, \
                 set trust_multiline = true in [source]",
                self.columns.get(i).map(String::as_str).unwrap_or("?"),
                self.delimiter
            );
            return Err(self.ragged(line, reason, &row));
        }
        if let QuoteCheck::TextAfterQuote = quotes {
            let reason = "a quoted value is followed by more text before the next delimiter (as in \"5\" gauze): \
                          quote the whole value and double the quotes inside it (\"5\"\" gauze\")"
                .to_string();
            return Err(self.ragged(line, reason, &row));
        }
        Ok(Some(RawRecord {
            values: RawValues::Row(row),
            lineage: Lineage {
                source: self.name.clone(),
                locator: None,
                row: self.row,
                line,
            },
        }))
    }

    fn bytes_read(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn recycle(&mut self, record: RawRecord) {
        if let RawValues::Row(row) = record.values {
            self.spare = row;
        }
    }
}

/// The text the csv crate parses, followed by [`Quotes`] as it goes by.
pub struct Tracked<R> {
    inner: R,
    quotes: Quotes,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        if n == 0 {
            self.quotes.ended = true;
        } else {
            self.quotes.scan(&out[..n]);
        }
        Ok(n)
    }
}

/// Turns CRLF and lone CR line endings into LF before the CSV parser sees them.
///
/// The csv crate counts lines by `\n` and leaves the `\n` of a CRLF unread after a record, so in a
/// CRLF file every record's start line comes out one short (BurntSushi/rust-csv#395) and rejects
/// would point at the line above the row. Line breaks inside quoted values become `\n` too.
pub struct LineFeeds<R> {
    inner: R,
    after_cr: bool,
}

impl<R> LineFeeds<R> {
    pub fn new(inner: R) -> Self {
        LineFeeds { inner, after_cr: false }
    }
}

impl<R: Read> Read for LineFeeds<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.inner.read(out)?;
            if n == 0 {
                return Ok(0);
            }
            // Runs without a CR are moved (or left) in place a run at a time, found by memchr:
            // an LF file passes through untouched and a CRLF file costs one search per line.
            let mut r = 0;
            if self.after_cr && out[0] == b'\n' {
                r = 1;
            }
            self.after_cr = false;
            let mut w = 0;
            while r < n {
                let run = memchr::memchr(b'\r', &out[r..n]).unwrap_or(n - r);
                if w != r {
                    out.copy_within(r..r + run, w);
                }
                w += run;
                r += run;
                if r == n {
                    break;
                }
                out[w] = b'\n';
                w += 1;
                r += 1;
                if r == n {
                    self.after_cr = true;
                } else if out[r] == b'\n' {
                    r += 1;
                }
            }
            // A chunk holding only the `\n` of a CRLF split across reads gives nothing: read on,
            // since returning 0 would mean the end of the file.
            if w > 0 {
                return Ok(w);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads through `LineFeeds` a few bytes at a time, so CRLF pairs split across reads.
    fn normalized(input: &[u8], chunk: usize) -> Vec<u8> {
        struct Chunks<'a>(&'a [u8], usize);
        impl Read for Chunks<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        LineFeeds::new(Chunks(input, chunk)).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn line_endings_become_line_feeds() {
        for chunk in [1, 2, 3, 64] {
            assert_eq!(
                normalized(b"a,b\r\n1,\"x\r\ny\"\r\n2,z\r3,w\n", chunk),
                b"a,b\n1,\"x\ny\"\n2,z\n3,w\n"
            );
        }
    }

    /// Every string of up to 7 bytes over `a`, CR and LF, read in chunks of 1 to 4 bytes, comes
    /// out as a byte-at-a-time rewrite (the first way this was written) makes it.
    #[test]
    fn line_endings_match_a_byte_at_a_time_rewrite() {
        fn reference(input: &[u8]) -> Vec<u8> {
            let (mut out, mut after_cr) = (Vec::new(), false);
            for &b in input {
                if b == b'\n' && after_cr {
                    after_cr = false;
                    continue;
                }
                after_cr = b == b'\r';
                out.push(if b == b'\r' { b'\n' } else { b });
            }
            out
        }
        for len in 0..=7u32 {
            for mut code in 0..3usize.pow(len) {
                let mut input = Vec::new();
                for _ in 0..len {
                    input.push([b'a', b'\r', b'\n'][code % 3]);
                    code /= 3;
                }
                for chunk in 1..=4 {
                    assert_eq!(
                        normalized(&input, chunk),
                        reference(&input),
                        "{input:?} in chunks of {chunk}"
                    );
                }
            }
        }
    }

    #[test]
    fn crlf_rows_keep_their_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crlf.csv");
        std::fs::write(&path, "code,name\r\nA,\"two\r\nlines\"\r\nB,b\r\n").unwrap();
        let config: CsvSource = toml::from_str(&format!("path = {:?}", path.display().to_string())).unwrap();
        let mut reader = CsvReader::open(&config, &path, Arc::from("crlf.csv")).unwrap();
        let lines: Vec<u64> = std::iter::from_fn(|| reader.next_record().unwrap())
            .map(|r| r.lineage.line)
            .collect();
        assert_eq!(lines, vec![2, 4]);
    }
}

#[cfg(test)]
#[path = "csv_props.rs"]
mod props;
