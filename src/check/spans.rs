//! Places in a TOML text by key path. serde gives spans only where a struct asks for
//! `Spanned`; the static checks of a job file find the key they complain about here instead.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a key path: a table key or an array position.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The byte span of the value at `path` (`source.columns[2].start`), if the text has it.
pub fn find(text: &str, path: &[Seg<'_>]) -> Option<Range<usize>> {
    let root = DeValue::Table(DeTable::parse(text).ok()?.into_inner());
    let (first, rest) = path.split_first()?;
    let mut value = step(&root, *first)?;
    for seg in rest {
        value = step(value.get_ref(), *seg)?;
    }
    Some(value.span())
}

fn step<'a, 'i>(value: &'a DeValue<'i>, seg: Seg<'_>) -> Option<&'a Spanned<DeValue<'i>>> {
    match (seg, value) {
        (Seg::Key(k), DeValue::Table(t)) => t.iter().find(|(key, _)| key.get_ref() == k).map(|(_, v)| v),
        (Seg::Index(i), DeValue::Array(a)) => a.get(i),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::line_col;

    const TEXT: &str = "[source]\nkind = \"fixed_width\"\npath = \"a.txt\"\n\n[[source.columns]]\nname = \"A\"\nstart = 1\n\n[[source.columns]]\nname = \"B\"\nstart = 0\n";

    fn at(path: &[Seg<'_>]) -> Option<(usize, usize)> {
        find(TEXT, path).map(|s| line_col(TEXT, s.start))
    }

    #[test]
    fn keys_and_positions_are_found() {
        assert_eq!(at(&[Seg::Key("source"), Seg::Key("path")]), Some((3, 8)));
        assert_eq!(
            at(&[
                Seg::Key("source"),
                Seg::Key("columns"),
                Seg::Index(1),
                Seg::Key("start")
            ]),
            Some((11, 9))
        );
        assert_eq!(at(&[Seg::Key("source"), Seg::Key("encoding")]), None);
        assert_eq!(at(&[Seg::Key("source"), Seg::Key("columns"), Seg::Index(5)]), None);
    }
}
