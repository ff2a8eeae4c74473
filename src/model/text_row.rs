//! A row of a flat file: its text values by column position, held in one buffer.
//!
//! One buffer and a list of ends instead of a string per column: a reader copies a row's text
//! once, a recycled row keeps both allocations, and the mapping thread reads a row's values from
//! one place in memory instead of a dozen (the `csv` crate's `StringRecord` is made the same way).

use std::fmt;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct TextRow {
    text: String,
    /// Where each value ends in `text`; a value starts where the one before it ends.
    ends: Vec<usize>,
}

impl TextRow {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Remove every value, keeping the allocations.
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// Add a value after the last one.
    pub fn push(&mut self, value: &str) {
        self.text.push_str(value);
        self.ends.push(self.text.len());
    }

    /// Replace every value with `values`, which are `text` cut at `ends` (each end a character
    /// boundary of `text`, in order): a reader that holds a row as one text copies it once.
    /// `None` (and the row left empty) when the ends do not cut `text` that way.
    pub fn fill(&mut self, text: &str, ends: impl IntoIterator<Item = usize>) -> Option<()> {
        self.clear();
        self.text.push_str(text);
        let mut start = 0;
        for end in ends {
            if end < start || !self.text.is_char_boundary(end) || end > self.text.len() {
                self.clear();
                return None;
            }
            self.ends.push(end);
            start = end;
        }
        if start != self.text.len() {
            self.clear();
            return None;
        }
        Some(())
    }

    /// The value at position `i`.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start..end)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.ends.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// The values as strings of their own.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }
}

impl fmt::Debug for TextRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> FromIterator<S> for TextRow {
    fn from_iter<I: IntoIterator<Item = S>>(values: I) -> Self {
        let mut row = TextRow::new();
        for v in values {
            row.push(v.as_ref());
        }
        row
    }
}

impl From<Vec<String>> for TextRow {
    fn from(values: Vec<String>) -> Self {
        values.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_as_pushed_including_empty_ones() {
        let row: TextRow = ["a", "", "ção", ""].into_iter().collect();
        assert_eq!(row.len(), 4);
        assert_eq!(row.iter().collect::<Vec<_>>(), ["a", "", "ção", ""]);
        assert_eq!(row.get(2), Some("ção"));
        assert_eq!(row.get(4), None);
        assert_eq!(row.to_vec(), vec!["a", "", "ção", ""]);
    }

    #[test]
    fn a_cleared_row_is_empty_and_refills() {
        let mut row = TextRow::from(vec!["x".to_string(), "y".to_string()]);
        row.clear();
        assert!(row.is_empty());
        assert_eq!(row.get(0), None);
        row.push("z");
        assert_eq!(row.iter().collect::<Vec<_>>(), ["z"]);
    }

    #[test]
    fn fill_cuts_one_text_at_its_ends() {
        let mut row = TextRow::new();
        assert_eq!(row.fill("abcdé", [1, 1, 3, 6]), Some(()));
        assert_eq!(row.iter().collect::<Vec<_>>(), ["a", "", "bc", "dé"]);
        // An end inside a character, past the text, going back, or short of the text's end.
        for ends in [vec![5], vec![7], vec![3, 2, 6], vec![3]] {
            assert_eq!(row.fill("abcdé", ends.clone()), None, "{ends:?}");
            assert!(row.is_empty());
        }
    }
}
