//! Text encodings of flat files: UTF-8 (BOM optional), UTF-16 (by BOM or by name), and the legacy
//! single-byte code pages of ERP exports, all decoded to UTF-8 while streaming.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::Encoding;
use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

use super::SourceError;

/// Find an encoding by the names people write in job files (WHATWG labels: `windows-1252`,
/// `latin1`, `iso-8859-1`, `utf-16le`, `shift_jis`, ...). `None` means UTF-8.
pub fn resolve_encoding(label: Option<&str>) -> Result<Option<&'static Encoding>, String> {
    match label {
        None => Ok(None),
        Some(l) if l.eq_ignore_ascii_case("utf-8") || l.eq_ignore_ascii_case("utf8") => Ok(None),
        Some(l) => Encoding::for_label(l.trim().as_bytes()).map(Some).ok_or_else(|| {
            format!("unknown encoding {l:?}; use utf-8, windows-1252, iso-8859-1, utf-16le or utf-16be")
        }),
    }
}

/// Counts the bytes read from the file underneath, for progress reporting.
pub struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A file decoded to UTF-8 as it is read; a BOM is honoured and removed.
pub type Decoder = DecodeReaderBytes<Counting<File>, Vec<u8>>;

/// Open a file for reading as UTF-8 text; returns the reader and its byte counter.
pub fn open_decoded(path: &Path, label: Option<&str>) -> Result<(Decoder, Arc<AtomicU64>), SourceError> {
    let encoding = resolve_encoding(label).map_err(SourceError::Config)?;
    let file = File::open(path).map_err(|e| SourceError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let count = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: file,
        count: count.clone(),
    };
    let reader = DecodeReaderBytesBuilder::new()
        .encoding(encoding)
        .utf8_passthru(true)
        .bom_override(true)
        .strip_bom(true)
        .build(counting);
    Ok((reader, count))
}

/// The hint for a file that is not valid UTF-8: which legacy encoding the bytes look like.
pub fn guess_hint(bytes: &[u8]) -> String {
    let has_high = bytes.iter().any(|&b| b >= 0x80);
    if bytes.len() >= 2
        && bytes
            .iter()
            .step_by(2)
            .chain(bytes.iter().skip(1).step_by(2))
            .filter(|&&b| b == 0)
            .count()
            * 4
            > bytes.len()
    {
        return "; the file looks like UTF-16 without a byte-order mark: set encoding = \"utf-16le\" (or \"utf-16be\") in [source]".into();
    }
    if has_high {
        return "; the file looks like a legacy code page: set encoding = \"windows-1252\" (or the encoding it was exported in) in [source]".into();
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_resolve() {
        assert!(resolve_encoding(None).unwrap().is_none());
        assert!(resolve_encoding(Some("UTF-8")).unwrap().is_none());
        assert_eq!(
            resolve_encoding(Some("latin1")).unwrap().unwrap().name(),
            "windows-1252"
        );
        assert_eq!(resolve_encoding(Some("utf-16le")).unwrap().unwrap().name(), "UTF-16LE");
        assert!(resolve_encoding(Some("klingon")).is_err());
    }
}
