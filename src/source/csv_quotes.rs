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

    /// Follow the next chunk of text.
    pub fn scan(&mut self, buf: &[u8]) {
        let mut i = 0;
        while i < buf.len() {
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
