//! Text encodings of flat files: UTF-8 (BOM optional), UTF-16 (by BOM or by name), and the legacy
//! single-byte code pages of ERP exports, all decoded to UTF-8 while streaming.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::Encoding;
use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

use super::SourceError;

/// The encodings a job's `encoding` may name (WHATWG labels, as encoding_rs reads them). Other
/// labels of the same encodings work too (`latin1`, `cp1252`, `mac`, `sjis`, ...). As in every
/// browser, `iso-8859-1`, `latin1` and `ascii` read as windows-1252, which agrees with ISO-8859-1
/// on every byte real text uses; the bytes windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90,
/// 0x9D) are refused rather than read as control characters.
pub fn supported_encodings() -> &'static [&'static str] {
    &[
        "utf-8",
        "utf-16le",
        "utf-16be",
        "windows-1252",
        "iso-8859-1",
        "macintosh",
        "windows-1250",
        "windows-1251",
        "windows-1253",
        "windows-1254",
        "windows-1255",
        "windows-1256",
        "windows-1257",
        "windows-1258",
        "windows-874",
        "iso-8859-2",
        "iso-8859-3",
        "iso-8859-4",
        "iso-8859-5",
        "iso-8859-6",
        "iso-8859-7",
        "iso-8859-8",
        "iso-8859-8-i",
        "iso-8859-10",
        "iso-8859-13",
        "iso-8859-14",
        "iso-8859-15",
        "iso-8859-16",
        "ibm866",
        "koi8-r",
        "koi8-u",
        "x-mac-cyrillic",
        "shift_jis",
        "euc-jp",
        "iso-2022-jp",
        "euc-kr",
        "gbk",
        "gb18030",
        "big5",
    ]
}

/// Find an encoding by the names people write in job files (WHATWG labels: `windows-1252`,
/// `latin1`, `iso-8859-1`, `utf-16le`, `macintosh`, `shift_jis`, ...). `None` means UTF-8.
pub fn resolve_encoding(label: Option<&str>) -> Result<Option<&'static Encoding>, String> {
    match label {
        None => Ok(None),
        Some(l) if l.eq_ignore_ascii_case("utf-8") || l.eq_ignore_ascii_case("utf8") => Ok(None),
        Some(l) => match Encoding::for_label(l.trim().as_bytes()) {
            // Not encodings of text: `replacement` turns every file into one error character.
            Some(e) if e == encoding_rs::REPLACEMENT || e == encoding_rs::X_USER_DEFINED => Err(unknown(l)),
            Some(e) if e == encoding_rs::UTF_8 => Ok(None),
            Some(e) => Ok(Some(e)),
            None => Err(unknown(l)),
        },
    }
}

fn unknown(label: &str) -> String {
    format!(
        "unknown encoding {label:?}; supported: {}",
        supported_encodings().join(", ")
    )
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
pub type Decoder = DecodeReaderBytes<Counting<io::Take<File>>, Vec<u8>>;

/// What a file is when its first bytes show it is not text (compressed, an archive, a program),
/// and what to do; `None` for anything that may be text. `declared` is the encoding the job names:
/// UTF-16 (declared, by its byte-order mark or by its zero bytes) is judged by its characters.
pub fn binary_kind(head: &[u8], declared: Option<&'static Encoding>) -> Option<(&'static str, &'static str)> {
    if let Some(kind) = magic(head) {
        return Some(kind);
    }
    // Text holds few control characters. UTF-16 text is judged once decoded: as bytes, the high
    // byte of every Cyrillic letter is 0x04, a control byte.
    let (reading, body) = match Encoding::for_bom(head) {
        Some((e, len)) => (e, &head[len..]),
        None => (
            declared.or_else(|| looks_utf16(head)).unwrap_or(encoding_rs::UTF_8),
            head,
        ),
    };
    let sample = &body[..body.len().min(4096)];
    if is_utf16(reading) {
        let text = reading.decode_without_bom_handling(sample).0;
        return mostly_controls(text.chars())
            .then_some(("binary data (one character in ten is a control character)", ""));
    }
    if !mostly_controls(sample.iter().map(|&b| char::from(b))) {
        return None;
    }
    // Text in a non-Latin script written as UTF-16 without a byte-order mark has no zero bytes to
    // show it: when the bytes read as such text, the way out is to say so.
    let todo = match declared {
        None if reads_as_utf16(sample, encoding_rs::UTF_16LE) => {
            ", or UTF-16 text without a byte-order mark: if so, set encoding = \"utf-16le\" in [source]"
        }
        None if reads_as_utf16(sample, encoding_rs::UTF_16BE) => {
            ", or UTF-16 text without a byte-order mark: if so, set encoding = \"utf-16be\" in [source]"
        }
        _ => "",
    };
    Some(("binary data (one byte in ten is a control character)", todo))
}

/// The first bytes of compressed files, archives, workbooks and programs. Each is matched as far
/// as its format fixes the bytes (gzip's method and reserved flags, bzip2's block size and block
/// magic, a PDF's version), so that text starting with the same letters (a header `BZh_code`) is
/// not taken for one.
fn magic(head: &[u8]) -> Option<(&'static str, &'static str)> {
    const DECOMPRESS: &str = ": decompress it first and point the job at the result";
    const ZIP: &str = " (an .xlsx or .ods workbook is one: read it with kind = \"excel\"; otherwise unzip it first)";
    Some(match head {
        // Deflate is gzip's only method; the top three flag bits are reserved (zero).
        [0x1f, 0x8b, 0x08, flags, ..] if flags & 0xe0 == 0 => ("gzip-compressed", DECOMPRESS),
        // A block size 1-9, then a block (pi in BCD) or, for an empty stream, the end (sqrt pi).
        [b'B', b'Z', b'h', b'1'..=b'9', rest @ ..]
            if rest.starts_with(b"1AY&SY") || rest.starts_with(b"\x17\x72\x45\x38\x50\x90") =>
        {
            ("bzip2-compressed", DECOMPRESS)
        }
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => ("xz-compressed", DECOMPRESS),
        // The frame header descriptor's reserved bit is zero.
        [0x28, 0xb5, 0x2f, 0xfd, descriptor, ..] if descriptor & 0x08 == 0 => ("zstd-compressed", DECOMPRESS),
        [b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c, ..] => ("a 7-Zip archive", DECOMPRESS),
        [b'P', b'K', 0x03, 0x04, ..] | [b'P', b'K', 0x07, 0x08, ..] => ("a zip archive", ZIP),
        [b'P', b'K', 0x05, 0x06, ..] => ("an empty zip archive", ""),
        [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, ..] => (
            "an old-style Office document (an .xls workbook)",
            ": read it with kind = \"excel\"",
        ),
        // 32- or 64-bit, little- or big-endian.
        [0x7f, b'E', b'L', b'F', 1 | 2, 1 | 2, ..] => ("a program (ELF)", ""),
        [b'%', b'P', b'D', b'F', b'-', b'1'..=b'9', b'.', b'0'..=b'9', ..] => ("a PDF document", ""),
        _ => return None,
    })
}

/// Whether one character in ten is a control character no text holds (tab, line breaks, form
/// feed and the DOS end-of-file mark are text's), in a sample long enough to judge.
fn mostly_controls(chars: impl Iterator<Item = char>) -> bool {
    let (mut all, mut control) = (0usize, 0usize);
    for c in chars {
        all += 1;
        control += usize::from(c < ' ' && !matches!(c, '\t' | '\n' | '\r' | '\x0c' | '\x1a'));
    }
    all >= 64 && control * 10 > all
}

/// Whether bytes read as lines of UTF-16 text in this byte order: no invalid sequence (but one
/// character cut off at the end of the sample), a line break, few control characters.
fn reads_as_utf16(sample: &[u8], utf16: &'static Encoding) -> bool {
    let (text, _) = utf16.decode_without_bom_handling(sample);
    let text = text.strip_suffix('\u{fffd}').unwrap_or(&text);
    !text.contains('\u{fffd}') && text.contains('\n') && !mostly_controls(text.chars())
}

/// Whether an encoding is UTF-16 (either byte order).
pub fn is_utf16(e: &'static Encoding) -> bool {
    e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE
}

/// Open a file for reading as UTF-8 text; returns the reader and its byte counter. Refused here,
/// each with the way out: a file read as UTF-8 whose first bytes are UTF-16 without a byte-order
/// mark (a zero beside every ASCII character), rather than read as columns of NULs; a file
/// declared UTF-16 with no zero byte at all, rather than read as CJK characters; a file declared
/// in a legacy encoding that is UTF-8 text. A DOS end-of-file mark ending the file is not read.
pub fn open_decoded(path: &Path, label: Option<&str>) -> Result<(Decoder, Arc<AtomicU64>), SourceError> {
    let encoding = resolve_encoding(label).map_err(SourceError::Config)?;
    let file = File::open(path).map_err(|e| SourceError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let io = |e| SourceError::Io {
        path: path.display().to_string(),
        source: e,
    };
    // The file's first bytes, read once for every check below.
    let mut head = Vec::with_capacity(65536);
    (&file).take(65536).read_to_end(&mut head).map_err(io)?;
    if let Some((what, todo)) = binary_kind(&head, encoding) {
        return Err(SourceError::NotText {
            path: path.display().to_string(),
            what,
            todo,
        });
    }
    let bom = Encoding::for_bom(&head).map(|(e, _)| e);
    let refused = |encoding: String, hint: String, guess: Option<String>| SourceError::Encoding {
        path: path.display().to_string(),
        line: 1,
        encoding,
        hint,
        guess,
    };
    match encoding {
        Some(declared) if !is_utf16(declared) => {
            if let Some(why) = reads_as_utf8(&head, declared) {
                let hint = format!(
                    "; {why}, which a {} file does not: remove encoding from [source] (UTF-8 is the default)",
                    label_of(declared)
                );
                return Err(refused(label_of(declared), hint, Some("utf-8".into())));
            }
        }
        // Every UTF-16 file of rows holds ASCII line breaks, delimiters or digits, each a zero
        // byte beside its code: bytes without one are 8-bit text, which read as UTF-16 pairs into
        // CJK characters.
        Some(declared) if bom.is_none() && !head.is_empty() && !head.contains(&0) => {
            let (hint, guess) = not_utf16(&head);
            return Err(refused(label_of(declared), hint, guess));
        }
        Some(_) => {}
        None => {
            if let Some(utf16) = looks_utf16(&head) {
                return Err(refused("UTF-8".into(), utf16_hint(utf16), Some(label_of(utf16))));
            }
        }
    }
    let reading = bom.or(encoding).unwrap_or(encoding_rs::UTF_8);
    let end = text_end(&file, reading).map_err(io)?;
    (&file).seek(SeekFrom::Start(0)).map_err(io)?;
    let count = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: file.take(end),
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

/// How many bytes of the file are text: all of them but a DOS end-of-file mark (^Z, 0x1A) that is
/// the file's very last byte, which DOS-era exporters append and which is not a row. A 0x1A
/// anywhere else is a control character like any other. (In UTF-16 the mark would be two bytes;
/// an odd last byte there is not text.)
fn text_end(file: &File, reading: &'static Encoding) -> io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 || is_utf16(reading) {
        return Ok(u64::MAX);
    }
    let mut last = [0u8];
    let mut file = file;
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    Ok(if last[0] == 0x1a { len - 1 } else { u64::MAX })
}

/// The hint and guess for a file declared UTF-16 whose first bytes hold no zero byte.
fn not_utf16(head: &[u8]) -> (String, Option<String>) {
    let why = format!(
        "; the file does not look like UTF-16: its first {} bytes hold no zero byte, and UTF-16 holds one in every \
         line break, delimiter and digit",
        head.len()
    );
    if utf8_prefix(head).is_some() {
        return (
            format!("{why}: remove encoding from [source] (the bytes read as UTF-8, the default)"),
            Some("utf-8".into()),
        );
    }
    let candidates = legacy_candidates(head);
    let guess = candidates.first().map(|e| label_of(e));
    (format!("{why}{}", candidates_hint(&candidates, None)), guess)
}

/// The first bytes of a file as UTF-8 text, when they are: a character cut off at the end of the
/// sample does not count against them.
fn utf8_prefix(head: &[u8]) -> Option<&str> {
    match std::str::from_utf8(head) {
        Ok(text) => Some(text),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    }
}

/// Why the first bytes of a file declared in a legacy encoding are UTF-8: a UTF-8 byte-order
/// mark, or characters beyond ASCII that all form UTF-8 sequences (in a legacy file an accented
/// letter is one byte, which is never a whole UTF-8 sequence; read as the legacy encoding, UTF-8's
/// `ü` becomes `Ã¼`).
///
/// Two legacy bytes can form a UTF-8 sequence by chance: Mac Roman's `’é` (0xD5 0x8E) is U+054E,
/// an Armenian letter. A file double-declared holds text its declared encoding could write, so
/// UTF-8 is only what the file means when at least one of its characters beyond ASCII could be
/// written in the declared encoding; when none could, the declaration is trusted. (A UTF-8 file
/// of `Müller` and `Dvořák` under windows-1252 is still refused: `ü` and `á` are windows-1252's.)
fn reads_as_utf8(head: &[u8], declared: &'static Encoding) -> Option<&'static str> {
    if head.starts_with(b"\xEF\xBB\xBF") {
        return Some("the file starts with a UTF-8 byte-order mark");
    }
    let text = utf8_prefix(head)?;
    let mut beyond_ascii = text.chars().filter(|c| !c.is_ascii()).peekable();
    beyond_ascii.peek()?;
    let mut buf = [0u8; 4];
    let writable = beyond_ascii.any(|c| !declared.encode(c.encode_utf8(&mut buf)).2);
    writable.then_some("its characters beyond ASCII are all UTF-8 sequences")
}

/// UTF-16 without a byte-order mark: most bytes at one parity are zero (the high byte of ASCII
/// characters) and few at the other. A file with a byte-order mark is not asked about.
pub fn looks_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    if Encoding::for_bom(bytes).is_some() {
        return None;
    }
    let sample = &bytes[..bytes.len().min(4096)];
    let half = sample.len() / 2;
    if half < 2 {
        return None;
    }
    let zeros = |offset: usize| sample.iter().skip(offset).step_by(2).filter(|b| **b == 0).count();
    let (even, odd) = (zeros(0), zeros(1));
    if odd * 10 > half * 3 && even * 10 < half {
        return Some(encoding_rs::UTF_16LE);
    }
    if even * 10 > half * 3 && odd * 10 < half {
        return Some(encoding_rs::UTF_16BE);
    }
    None
}

fn utf16_hint(e: &'static Encoding) -> String {
    format!(
        "; the file looks like UTF-16 without a byte-order mark: set encoding = \"{}\" in [source]",
        label_of(e)
    )
}

/// The label a job file would use for an encoding.
pub fn label_of(e: &'static Encoding) -> String {
    e.name().to_ascii_lowercase()
}

/// The first character of decoded text that shows the bytes were not in the encoding named: a
/// C1 control (U+0080 to U+009F: what WHATWG decoders give for the bytes windows-1252 and its
/// kin leave undefined, and what no real text holds) or U+FFFD (a byte sequence the decoder could
/// not read). Only asked of text decoded from an encoding other than UTF-8.
pub fn undecodable(text: &str) -> Option<char> {
    text.chars()
        .find(|c| ('\u{80}'..='\u{9f}').contains(c) || *c == '\u{fffd}')
}

/// The legacy single-byte encodings a guess chooses from, most common first.
const LEGACY: [&Encoding; 2] = [encoding_rs::WINDOWS_1252, encoding_rs::MACINTOSH];

/// The legacy encodings that decode `bytes` (no C1 control, no U+FFFD), the likeliest first:
/// windows-1252 and Mac Roman put different characters at the same bytes, so each decoding is
/// scored by how much it reads like text (letters whose case fits the word around them, the
/// usual symbols) and a tie goes to windows-1252.
pub fn legacy_candidates(bytes: &[u8]) -> Vec<&'static Encoding> {
    let mut scored: Vec<(i64, usize, &'static Encoding)> = LEGACY
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let (text, _) = e.decode_without_bom_handling(bytes);
            if undecodable(&text).is_some() {
                return None;
            }
            Some((plausibility(&text), i, *e))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, _, e)| e).collect()
}

/// How much decoded text reads like words: +1 for each non-ASCII letter, -2 for a capital inside a
/// lowercase word (`CafŽ`), -1 for an unusual symbol (`M¸ller`).
fn plausibility(text: &str) -> i64 {
    const USUAL: &str = "°±µ²³¼½¾«»‘’‚“”„–—…€£¥¢©®™·×÷§¶¿¡\u{a0}";
    let mut score = 0i64;
    let mut prev = ' ';
    for c in text.chars() {
        if !c.is_ascii() {
            score += if c.is_alphabetic() {
                if prev.is_lowercase() && c.is_uppercase() { -2 } else { 1 }
            } else if USUAL.contains(c) {
                0
            } else {
                -1
            };
        }
        prev = c;
    }
    score
}

/// The hint for text that is not valid in the encoding it was read in: what the bytes look like.
pub fn guess_hint(bytes: &[u8]) -> String {
    if let Some(utf16) = looks_utf16(bytes) {
        return utf16_hint(utf16);
    }
    if !bytes.iter().any(|&b| b >= 0x80) {
        return String::new();
    }
    candidates_hint(&legacy_candidates(bytes), None)
}

/// The likeliest encoding of bytes that are not UTF-8, when one decodes them.
pub fn guess_legacy(bytes: &[u8]) -> Option<String> {
    if let Some(utf16) = looks_utf16(bytes) {
        return Some(label_of(utf16));
    }
    legacy_candidates(bytes).first().map(|e| label_of(e))
}

/// The hint for text decoded from `declared` that holds a character showing it was not (see
/// [`undecodable`]): the bytes again, and the encodings that do decode them.
pub fn declared_hint(declared: &'static Encoding, decoded: &str) -> (String, Option<String>) {
    if is_utf16(declared) {
        return (
            "; a byte sequence there is not UTF-16 (an unpaired surrogate, or an odd byte at the end)".into(),
            None,
        );
    }
    let (bytes, _, _) = declared.encode(decoded);
    let undefined: Vec<String> = decoded
        .chars()
        .filter(|c| ('\u{80}'..='\u{9f}').contains(c))
        .map(|c| format!("0x{:02X}", c as u32))
        .take(5)
        .collect();
    let what = if undefined.is_empty() {
        "; a byte sequence there is not defined in it".to_string()
    } else {
        format!("; byte {} is not defined in it", undefined.join(", "))
    };
    let candidates: Vec<&'static Encoding> = legacy_candidates(&bytes)
        .into_iter()
        .filter(|e| *e != declared)
        .collect();
    let guess = candidates.first().map(|e| label_of(e));
    (format!("{what}{}", candidates_hint(&candidates, Some(declared))), guess)
}

fn candidates_hint(candidates: &[&'static Encoding], declared: Option<&'static Encoding>) -> String {
    let Some((best, others)) = candidates.split_first() else {
        return format!(
            "; no common legacy code page decodes these bytes: set encoding to the one the file was exported \
             in (supported: {})",
            supported_encodings().join(", ")
        );
    };
    let others: Vec<String> = others.iter().map(|e| format!("\"{}\"", label_of(e))).collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!(" (or {})", others.join(", "))
    };
    let lead = if declared.is_some() {
        "the bytes decode as"
    } else {
        "the file looks like a legacy code page"
    };
    format!(
        "; {lead}: set encoding = \"{}\"{also} in [source], or the encoding the file was exported in",
        label_of(best)
    )
}

#[cfg(test)]
#[path = "encoding_tests.rs"]
mod tests;
