//! Fixed-width text files, the format of legacy ERP and mainframe extracts: each column is a
//! 1-based character position and a length; values are trimmed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::encoding::{Decoder, guess_hint, open_decoded};
use super::{Source, SourceError};
use crate::config::job::{FixedWidthColumn, FixedWidthSource};
use crate::model::{Lineage, RawRecord, RawValues};

/// Streams a fixed-width file line by line.
pub struct FixedWidthReader {
    lines: BufReader<Decoder>,
    layout: Vec<FixedWidthColumn>,
    columns: Vec<String>,
    name: Arc<str>,
    encoding: String,
    buf: Vec<u8>,
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
        let (decoder, bytes) = open_decoded(path, config.encoding.as_deref())?;
        if path.metadata().map(|m| m.len() == 0).unwrap_or(false) {
            return Err(SourceError::Empty { path: name.to_string() });
        }
        let mut me = FixedWidthReader {
            lines: BufReader::with_capacity(64 * 1024, decoder),
            columns: config.columns.iter().map(|c| c.name.clone()).collect(),
            layout: config.columns.clone(),
            name,
            encoding: config.encoding.clone().unwrap_or_else(|| "UTF-8".into()),
            buf: Vec::new(),
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
        self.buf.clear();
        let n = self
            .lines
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| SourceError::Io {
                path: self.name.to_string(),
                source: e,
            })?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Ok(true)
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
        })?;
        let chars: Vec<char> = text.chars().collect();
        let values = self
            .layout
            .iter()
            .map(|c| {
                let start = (c.start - 1).min(chars.len());
                let end = (start + c.length).min(chars.len());
                chars[start..end].iter().collect::<String>().trim().to_string()
            })
            .collect();
        self.row += 1;
        Ok(Some(RawRecord {
            values: RawValues::Row(values),
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
