//! Fixed-width text files, the format of legacy ERP and mainframe extracts: each column is a
//! 1-based character position and a length; values are trimmed.
//!
//! Lines of another length than the layout:
//! - a line that ends before the start of a column is a malformed row (a reject naming the column
//!   and the line's length, like a ragged CSV row): the column is not there, and padding it would
//!   load an empty value the file never held;
//! - a line that ends inside the last column it reaches is read: values are trimmed, and many
//!   exporters and editors drop trailing spaces, so the missing characters are taken to be the
//!   white space that would have been trimmed anyway;
//! - text past the end of the layout is not read and not reported: a layout often names only the
//!   columns a job needs.
//!
//! Lines end with LF, CRLF or CR alone (a CR-only file is not read as one long line).
//!
//! A control character in a line (a tab, a form feed, a vertical tab, a NUL, ...) is a malformed
//! row: it takes one character but not one position of the layout, so the columns after it would
//! be read shifted. A byte-order mark in a line is a malformed row too; text decoded from a legacy
//! encoding that holds a byte the encoding does not define is an error. A DOS end-of-file mark
//! (^Z) as the file's very last byte is not read (see `open_decoded`).

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::Encoding;

use super::csv::LineFeeds;
use super::encoding::{Decoder, declared_hint, guess_hint, guess_legacy, open_decoded, resolve_encoding, undecodable};
use super::{Source, SourceError};
use crate::config::job::{FixedWidthColumn, FixedWidthSource};
use crate::model::{Lineage, RawRecord, RawValues};

/// Streams a fixed-width file line by line.
pub struct FixedWidthReader {
    /// Lines with CR and CRLF endings turned into LF, so a CR-only file is not one long line.
    lines: BufReader<LineFeeds<Decoder>>,
    layout: Vec<FixedWidthColumn>,
    columns: Vec<String>,
    name: Arc<str>,
    encoding: String,
    legacy: Option<&'static Encoding>,
    buf: Vec<u8>,
    /// Whether the line in `buf` ended with a line break (only the file's last line may not).
    terminated: bool,
    /// Whether a line so far reached the end of the layout's last column (the file pads its lines).
    padded: bool,
    /// Characters up to the end of the layout's last column.
    width: usize,
    line: u64,
    row: u64,
    bytes: Arc<AtomicU64>,
}

impl FixedWidthReader {
    pub fn open(config: &FixedWidthSource, path: &Path, name: Arc<str>) -> Result<Self, SourceError> {
        if config.columns.is_empty() {
            return Err(SourceError::Config(
                "a fixed_width source needs [[source.columns]]".into(),
            ));
        }
        if let Some(c) = config.columns.iter().find(|c| c.start == 0 || c.length == 0) {
            return Err(SourceError::Config(format!(
                "column {:?}: start is 1-based and length must be at least 1",
                c.name
            )));
        }
        let names: Vec<String> = config.columns.iter().map(|c| c.name.clone()).collect();
        if let Some(s) = super::names::unique_names(names).1.first() {
            return Err(SourceError::Config(format!(
                "[[source.columns]] names {:?} {} times: each column needs its own name",
                s.name,
                s.positions.len()
            )));
        }
        let legacy = resolve_encoding(config.encoding.as_deref()).map_err(SourceError::Config)?;
        let (decoder, bytes) = open_decoded(path, config.encoding.as_deref())?;
        if path.metadata().map(|m| m.len() == 0).unwrap_or(false) {
            return Err(SourceError::Empty { path: name.to_string() });
        }
        let mut me = FixedWidthReader {
            lines: BufReader::with_capacity(64 * 1024, LineFeeds::new(decoder)),
            columns: config.columns.iter().map(|c| c.name.clone()).collect(),
            layout: config.columns.clone(),
            name,
            encoding: config.encoding.clone().unwrap_or_else(|| "UTF-8".into()),
            legacy,
            buf: Vec::new(),
            terminated: true,
            padded: false,
            width: config
                .columns
                .iter()
                .map(|c| c.start.saturating_sub(1).saturating_add(c.length))
                .max()
                .unwrap_or(0),
            line: 0,
            row: 0,
            bytes,
        };
        for _ in 0..config.skip_rows {
            me.read_line()?;
        }
        Ok(me)
    }

    fn read_line(&mut self) -> Result<bool, SourceError> {
        let n = super::read_line(&mut self.lines, &mut self.buf, &self.name)?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        self.terminated = matches!(self.buf.last(), Some(b'\n' | b'\r'));
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Ok(true)
    }
}

impl FixedWidthReader {
    /// Why a line holding a control character at `at` (0-based) is not read: a tab, a form feed,
    /// a vertical tab takes one character of the line but not one position of the layout the
    /// file was drawn to (a tab expands, a form feed starts a page), so every column after it is
    /// read shifted, and which way it shifts is a guess.
    fn shifted(&self, at: usize, c: char) -> String {
        let what = match c {
            '\0' => "a NUL character",
            '\t' => "a tab",
            '\u{b}' => "a vertical tab",
            '\u{c}' => "a form feed",
            '\u{1a}' => "a DOS end-of-file mark (^Z)",
            '\u{1b}' => "an escape character",
            '\u{7f}' => "a delete character",
            _ => "a control character",
        };
        let position = at + 1;
        let column = self
            .layout
            .iter()
            .find(|c| c.start <= position && position < c.start.saturating_add(c.length))
            .map(|c| format!(" (column {:?})", c.name))
            .unwrap_or_default();
        format!(
            "the line holds {what} (U+{:04X}) at character {position}{column}: fixed-width positions would shift, so \
             no value of the line can be trusted; remove it from the file or export the file again",
            c as u32
        )
    }

    fn malformed(&self, reason: String, values: Vec<String>) -> SourceError {
        SourceError::Ragged {
            path: self.name.to_string(),
            line: self.line,
            row: self.row,
            reason,
            values,
        }
    }
}

impl Source for FixedWidthReader {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            if !self.buf.iter().all(u8::is_ascii_whitespace) {
                break;
            }
        }
        let text = std::str::from_utf8(&self.buf).map_err(|_| SourceError::Encoding {
            path: self.name.to_string(),
            line: self.line,
            encoding: self.encoding.clone(),
            hint: guess_hint(&self.buf),
            guess: guess_legacy(&self.buf),
        })?;
        if let Some(enc) = self.legacy
            && undecodable(text).is_some()
        {
            let (hint, guess) = declared_hint(enc, text);
            return Err(SourceError::Encoding {
                path: self.name.to_string(),
                line: self.line,
                encoding: self.encoding.clone(),
                hint,
                guess,
            });
        }
        let chars: Vec<char> = text.chars().collect();
        let values: Vec<String> = self
            .layout
            .iter()
            .map(|c| {
                let start = (c.start - 1).min(chars.len());
                let end = start.saturating_add(c.length).min(chars.len());
                chars[start..end].iter().collect::<String>().trim().to_string()
            })
            .collect();
        self.row += 1;
        if let Some(at) = chars.iter().position(|c| c.is_control()) {
            let reason = self.shifted(at, chars[at]);
            return Err(self.malformed(reason, values));
        }
        let short = self.layout.iter().find(|c| c.start > chars.len());
        let odd = super::odd_character(text);
        if let Some(c) = short {
            return Err(self.malformed(
                format!(
                    "the line is {} characters long and ends before column {:?}, which starts at character {}",
                    chars.len(),
                    c.name,
                    c.start
                ),
                values,
            ));
        }
        // A line may end early when its trailing blanks were trimmed, but in a file whose lines
        // are padded to the layout, a last line with no line break that ends inside a column is
        // an extract cut off in the middle of a value.
        let cut = (!self.terminated && self.padded)
            .then(|| {
                self.layout
                    .iter()
                    .find(|c| c.start <= chars.len() && (c.start - 1).saturating_add(c.length) > chars.len())
            })
            .flatten();
        if let Some(c) = cut {
            return Err(self.malformed(
                format!(
                    "the file ends inside column {:?} (the last line has {} characters and no line break; the \
                     column ends at character {}): the extract looks cut off; if the line is complete, end it \
                     with a line break",
                    c.name,
                    chars.len(),
                    (c.start - 1).saturating_add(c.length)
                ),
                values,
            ));
        }
        self.padded |= chars.len() >= self.width;
        if let Some(what) = odd {
            return Err(self.malformed(
                format!(
                    "the line holds {what}, which no exported value holds: the file is damaged or joined from two files"
                ),
                values,
            ));
        }
        Ok(Some(RawRecord {
            values: RawValues::Row(values.into()),
            lineage: Lineage {
                source: self.name.clone(),
                locator: None,
                row: self.row,
                line: self.line,
            },
        }))
    }

    fn bytes_read(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}
