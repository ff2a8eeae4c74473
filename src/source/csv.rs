//! Delimited text files (CSV, TSV, pipe): header or none, skipped banner lines, any encoding.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use csv::{ByteRecord, ReaderBuilder};

use super::encoding::{Decoder, guess_hint, open_decoded};
use super::{Source, SourceError};
use crate::config::job::CsvSource;
use crate::model::{Lineage, RawRecord, RawValues};

/// Streams one delimited file, one reused byte record at a time.
pub struct CsvReader {
    reader: csv::Reader<LineFeeds<Decoder>>,
    columns: Vec<String>,
    name: Arc<str>,
    encoding: String,
    record: ByteRecord,
    /// A first data record read early to count the columns of a header-less file.
    pending: Option<ByteRecord>,
    /// The values of a record handed back by [`Source::recycle`], refilled in place.
    spare: Vec<String>,
    row: u64,
    bytes: Arc<AtomicU64>,
}

impl CsvReader {
    pub fn open(config: &CsvSource, path: &Path, name: Arc<str>) -> Result<Self, SourceError> {
        let (decoder, bytes) = open_decoded(path, config.encoding.as_deref())?;
        if !config.delimiter.is_ascii() || !config.quote.is_ascii() {
            return Err(SourceError::Config(
                "delimiter and quote must be ASCII characters".into(),
            ));
        }
        let reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(config.delimiter as u8)
            .quote(config.quote as u8)
            .from_reader(LineFeeds::new(decoder));
        let encoding = config.encoding.clone().unwrap_or_else(|| "UTF-8".into());
        let mut me = CsvReader {
            reader,
            columns: Vec::new(),
            name,
            encoding,
            record: ByteRecord::new(),
            pending: None,
            spare: Vec::new(),
            row: 0,
            bytes,
        };
        for _ in 0..config.skip_rows {
            if !me.read_raw()? {
                return Err(SourceError::Empty {
                    path: me.name.to_string(),
                });
            }
        }
        if config.header {
            if !me.read_raw()? {
                return Err(SourceError::Empty {
                    path: me.name.to_string(),
                });
            }
            let line = me.line();
            me.columns = me
                .record
                .iter()
                .map(|f| me.text(f, line).map(|s| s.trim().to_string()))
                .collect::<Result<_, _>>()?;
        } else if !config.columns.is_empty() {
            me.columns = config.columns.clone();
        } else {
            if !me.read_raw()? {
                return Err(SourceError::Empty {
                    path: me.name.to_string(),
                });
            }
            me.columns = (1..=me.record.len()).map(|i| format!("column_{i}")).collect();
            me.pending = Some(me.record.clone());
        }
        Ok(me)
    }

    fn read_raw(&mut self) -> Result<bool, SourceError> {
        self.reader
            .read_byte_record(&mut self.record)
            .map_err(|e| self.csv_error(e))
    }

    fn line(&self) -> u64 {
        self.record.position().map_or(0, |p| p.line())
    }

    fn text(&self, field: &[u8], line: u64) -> Result<String, SourceError> {
        match std::str::from_utf8(field) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => Err(self.encoding_error(field, line)),
        }
    }

    fn encoding_error(&self, field: &[u8], line: u64) -> SourceError {
        SourceError::Encoding {
            path: self.name.to_string(),
            line,
            encoding: self.encoding.clone(),
            hint: guess_hint(field),
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
            },
            other => SourceError::Malformed {
                path: self.name.to_string(),
                line,
                message: format!("{other:?}"),
            },
        }
    }
}

impl Source for CsvReader {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        match self.pending.take() {
            Some(r) => self.record = r,
            None => loop {
                if !self.read_raw()? {
                    return Ok(None);
                }
                // A blank line between records is not a record.
                if !(self.record.len() == 1 && self.record[0].is_empty()) {
                    break;
                }
            },
        }
        self.row += 1;
        let line = self.line();
        let mut values = std::mem::take(&mut self.spare);
        values.truncate(self.record.len());
        for (i, field) in self.record.iter().enumerate() {
            let Ok(text) = std::str::from_utf8(field) else {
                return Err(self.encoding_error(field, line));
            };
            match values.get_mut(i) {
                Some(v) => {
                    v.clear();
                    v.push_str(text);
                }
                None => values.push(text.to_string()),
            }
        }
        if values.len() != self.columns.len() {
            // A quoted field that swallowed line breaks and then the wrong number of fields is an
            // unbalanced quote: everything after it is in doubt, so the run stops here.
            if let Some(v) = values.iter().find(|v| v.contains(['\n', '\r'])) {
                let lines = v.matches('\n').count().max(v.matches('\r').count());
                return Err(SourceError::Malformed {
                    path: self.name.to_string(),
                    line,
                    message: format!(
                        "unbalanced quote: a quoted field opened on line {line} runs over {lines} line breaks \
                         and the record has {} fields, the header has {}; close the quote or escape it as \"\"",
                        values.len(),
                        self.columns.len()
                    ),
                });
            }
            return Err(SourceError::Ragged {
                path: self.name.to_string(),
                line,
                row: self.row,
                found: values.len(),
                expected: self.columns.len(),
                values,
            });
        }
        Ok(Some(RawRecord {
            values: RawValues::Row(values),
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
        if let RawValues::Row(values) = record.values {
            self.spare = values;
        }
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
