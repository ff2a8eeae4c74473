//! Where quotes open and close in a delimited file, followed beside the csv crate's parser.
//!
//! The csv crate reads a quote that is never closed as a field running to the end of the file,
//! and a quoted field followed by more text (`"5" gauze`) as the two glued together (`5 gauze`);
//! neither is an error there. Both lose or garble rows without a word, so [`Quotes`] follows the
//! same bytes with the same rules as csv_core's reader (a quote opens a quoted field only at the
//! start of a field, `""` inside one is a quote, a quote elsewhere is text) and notes, with their
//! byte offsets and lines, the two shapes the parser lets through. The reader matches them to the
//! records it reads by offset. Line breaks are `\n` only: the text has been through
//! [`super::csv::LineFeeds`].

use std::collections::VecDeque;

/// A quoted field followed by text before the next delimiter or line break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextAfterQuote {
    /// Byte offset of the first character after the closing quote.
    pub offset: u64,
    /// Line where the quoted field opened.
    pub opened: u64,
    /// Line of the closing quote.
    pub closed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// Just after a quote inside a quoted field: it closes the field, or doubles as `""`.
    QuoteInQuoted,
}

/// Follows quoting through the text, a chunk at a time.
#[derive(Debug)]
pub struct Quotes {
    quote: u8,
    delimiter: u8,
    state: State,
    offset: u64,
    line: u64,
    /// Offset and line of the quote that opened the current quoted field.
    open: (u64, u64),
    /// Text after a closing quote, not yet matched to a record.
    pub after_quote: VecDeque<TextAfterQuote>,
    /// Offset and line of each record's first byte, not yet matched to a record. The csv crate
    /// reports a record at the line where it started looking for it, before the blank lines it
    /// skips; this is where the record really starts.
    pub record_starts: VecDeque<(u64, u64)>,
    at_record_start: bool,
    /// The whole text has been seen.
    pub ended: bool,
}

impl Quotes {
    pub fn new(delimiter: u8, quote: u8) -> Self {
        Quotes {
            quote,
            delimiter,
            state: State::FieldStart,
            offset: 0,
            line: 1,
            open: (0, 0),
            after_quote: VecDeque::new(),
            record_starts: VecDeque::new(),
            at_record_start: true,
            ended: false,
        }
    }

    /// Offset and line of a quote still open at the end of the text.
    pub fn unclosed(&self) -> Option<(u64, u64)> {
        (self.ended && self.state == State::Quoted).then_some(self.open)
    }

    /// Follow the next chunk of text: up to each quote outside a quoted field a line at a time,
    /// from there with the state machine until the text is outside quotes again.
    pub fn scan(&mut self, buf: &[u8]) {
        let mut i = 0;
        while i < buf.len() {
            if matches!(self.state, State::FieldStart | State::Unquoted) {
                let end = memchr::memchr(self.quote, &buf[i..]).map_or(buf.len(), |k| i + k);
                self.scan_unquoted(&buf[i..end]);
                i = end;
                if i == buf.len() {
                    break;
                }
            }
            i += self.run(&buf[i..], true);
        }
    }

    /// [`Quotes::scan`] the slow way, the state machine over the whole chunk (for tests).
    #[cfg(test)]
    fn scan_all(&mut self, buf: &[u8]) {
        self.run(buf, false);
    }

    /// The state machine a field at a time over `buf`, or (`stop_outside`) until the text is
    /// outside quotes again; returns the bytes followed.
    fn run(&mut self, buf: &[u8], stop_outside: bool) -> usize {
        let mut i = 0;
        while i < buf.len() {
            if stop_outside && i > 0 && matches!(self.state, State::FieldStart | State::Unquoted) {
                break;
            }
            match self.state {
                State::FieldStart | State::QuoteInQuoted => {
                    let b = buf[i];
                    if self.at_record_start && b != b'\n' {
                        self.record_starts.push_back((self.offset + i as u64, self.line));
                        self.at_record_start = false;
                    }
                    let after_quote = self.state == State::QuoteInQuoted;
                    self.state = if b == self.quote {
                        if !after_quote {
                            self.open = (self.offset + i as u64, self.line);
                        }
                        State::Quoted
                    } else if b == self.delimiter {
                        State::FieldStart
                    } else if b == b'\n' {
                        self.line += 1;
                        self.at_record_start = true;
                        State::FieldStart
                    } else {
                        if after_quote {
                            self.after_quote.push_back(TextAfterQuote {
                                offset: self.offset + i as u64,
                                opened: self.open.1,
                                closed: self.line,
                            });
                        }
                        State::Unquoted
                    };
                    i += 1;
                }
                State::Unquoted => match memchr::memchr2(self.delimiter, b'\n', &buf[i..]) {
                    None => i = buf.len(),
                    Some(k) => {
                        if buf[i + k] == b'\n' {
                            self.line += 1;
                            self.at_record_start = true;
                        }
                        self.state = State::FieldStart;
                        i += k + 1;
                    }
                },
                State::Quoted => match memchr::memchr2(self.quote, b'\n', &buf[i..]) {
                    None => i = buf.len(),
                    Some(k) => {
                        if buf[i + k] == b'\n' {
                            self.line += 1;
                        } else {
                            self.state = State::QuoteInQuoted;
                        }
                        i += k + 1;
                    }
                },
            }
        }
        self.offset += i as u64;
        i
    }

    /// [`Quotes::scan`] for a chunk without a quote, outside a quoted field (most chunks of most
    /// files): only line breaks matter, a line at a time rather than a field at a time.
    fn scan_unquoted(&mut self, buf: &[u8]) {
        let mut i = 0;
        for p in memchr::memchr_iter(b'\n', buf) {
            if self.at_record_start && p > i {
                self.record_starts.push_back((self.offset + i as u64, self.line));
            }
            self.line += 1;
            self.at_record_start = true;
            i = p + 1;
        }
        if i < buf.len() {
            if self.at_record_start {
                self.record_starts.push_back((self.offset + i as u64, self.line));
                self.at_record_start = false;
            }
            self.state = if buf[buf.len() - 1] == self.delimiter {
                State::FieldStart
            } else {
                State::Unquoted
            };
        } else if !buf.is_empty() {
            self.state = State::FieldStart;
        }
        self.offset += buf.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follow(text: &str, chunk: usize) -> Quotes {
        let mut q = Quotes::new(b',', b'"');
        for part in text.as_bytes().chunks(chunk.max(1)) {
            q.scan(part);
        }
        q.ended = true;
        q
    }

    /// Every string of up to 8 bytes over `a , " \n`, in chunks of 1 to 3 bytes: the line-at-a-time
    /// way for chunks without a quote notes what the field-at-a-time way notes.
    #[test]
    fn chunks_without_quotes_are_followed_as_the_state_machine_follows_them() {
        let alphabet = [b'a', b',', b'"', b'\n'];
        for len in 0..=8u32 {
            for mut code in 0..4usize.pow(len) {
                let mut text = Vec::new();
                for _ in 0..len {
                    text.push(alphabet[code % 4]);
                    code /= 4;
                }
                for chunk in 1..=3 {
                    let (mut fast, mut slow) = (Quotes::new(b',', b'"'), Quotes::new(b',', b'"'));
                    for part in text.chunks(chunk) {
                        fast.scan(part);
                        slow.scan_all(part);
                    }
                    let seen = |q: &Quotes| {
                        (
                            q.state,
                            q.line,
                            q.offset,
                            q.record_starts.clone(),
                            q.after_quote.clone(),
                            q.open,
                        )
                    };
                    assert_eq!(
                        seen(&fast),
                        seen(&slow),
                        "{:?} in chunks of {chunk}",
                        String::from_utf8_lossy(&text)
                    );
                }
            }
        }
    }

    #[test]
    fn a_quote_left_open_is_found_with_its_line() {
        for chunk in [1, 3, 100] {
            let q = follow("code,name\nA,a\nB,\"unclosed\nC,c\nD,d\n", chunk);
            assert_eq!(q.unclosed(), Some((16, 3)), "chunk {chunk}");
            assert!(q.after_quote.is_empty());
        }
    }

    #[test]
    fn closed_and_doubled_quotes_are_not_open() {
        let q = follow("a,\"x\"\"y\",\"two\nlines\"\n\"\",b\n", 2);
        assert_eq!(q.unclosed(), None);
        assert!(q.after_quote.is_empty());
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_is_text() {
        let q = follow("a,5\" gauze\nb,\"c\n", 4);
        assert_eq!(q.unclosed(), Some((13, 2)));
    }

    #[test]
    fn records_start_after_blank_lines() {
        let q = follow("a,b\n\n1,\"x\ny\"\n\n\n2,z", 2);
        assert_eq!(
            q.record_starts.iter().copied().collect::<Vec<_>>(),
            [(0, 1), (5, 3), (15, 7)]
        );
    }

    #[test]
    fn text_after_a_closing_quote_is_noted() {
        let q = follow("a,\"5\" gauze\nb,\"x\ny\"z\n", 1);
        assert_eq!(
            q.after_quote.iter().copied().collect::<Vec<_>>(),
            [
                TextAfterQuote {
                    offset: 5,
                    opened: 1,
                    closed: 1
                },
                TextAfterQuote {
                    offset: 19,
                    opened: 2,
                    closed: 3
                }
            ]
        );
    }
}
