//! Workbooks (xlsx, xlsm, xlsb, xls, ods) read through calamine: one sheet, a header row, one raw
//! record per non-empty row below it.
//!
//! calamine has no streaming API common to every format, so the chosen sheet is read into memory
//! when the source opens; what is kept is only the non-empty cells, already turned into text,
//! handed out row by row and freed as they go. For xlsx and xlsb the cells are read one at a time
//! (never as calamine's rectangular range, which a crafted sheet with one cell in `A1` and one in
//! `XFD1048576` would blow up to seventeen billion slots); xls and ods go through calamine's range,
//! which the formats themselves bound (xls: 65,536 rows by 256 columns; ods: calamine caps cells).
//!
//! Zip bombs: xlsx, xlsm, xlsb and ods are zip archives. Before calamine sees one, the sizes its
//! central directory declares are summed and a workbook unpacking to more than
//! [`MAX_UNPACKED_BYTES`] is refused; the zip reader calamine uses fails on any entry that inflates
//! past its declared size, so the declared sizes are a real bound.
//!
//! Shared-string bombs: an xlsx stores each distinct text once and cells point at it, so a small
//! file whose cells all point at one huge string unpacks to little and decodes to a lot. A cell
//! may hold at most [`MAX_CELL_BYTES`] of text (Excel itself stops at 32,767 characters), and the
//! text kept from one sheet at most [`MAX_SHEET_TEXT_BYTES`]; both are checked before the text is
//! copied out of calamine's shared-string table.
//!
//! Header names are made unique as every source makes them (`Category`, `Category (2)`; a blank
//! one is `column_N`). A cell holding a NUL character makes its row a malformed-row reject.
//!
//! Cells become text the way a person reading the sheet would type them: numbers without a
//! trailing `.0`, fractions rounded to Excel's 15 significant digits (so a formula's
//! `2266.1299999999997` reads `2266.13`, as Excel shows it), booleans `TRUE`/`FALSE`, dates as ISO
//! `YYYY-MM-DD` (or `YYYY-MM-DDTHH:MM:SS` when the time is not midnight, `HH:MM:SS` for a time of
//! day), error cells (`#N/A`) as empty text.
//!
//! A cell that reads two ways makes its row a malformed-row reject when the mapping reads its
//! column, as an error cell does: a whole number of more than 15 significant digits (Excel shows
//! 15 of them), and in xlsx a number whose number format pads it with zeros or adds text to it
//! (`00123` or `PO-0045` stored as 123 or 45), or shows another number: rounded to fewer
//! decimals, scaled by commas, without its minus sign, or hidden. See `excel_cell.rs` and
//! `excel_format.rs`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::iter::Peekable;
use std::path::Path;
use std::sync::Arc;

use calamine::{Data, DataRef, Reader, Sheets};
use cell::{TwoReadings, cell_text};
use format::NumberFormat;

use super::{Source, SourceError};
use crate::config::job::{ErrorCells, ExcelSource, SheetRef};
use crate::model::{Lineage, RawRecord, RawValues};

/// Largest total size the entries of a zip-based workbook may unpack to (1 GiB).
pub const MAX_UNPACKED_BYTES: u64 = 1 << 30;

/// Most text one cell may hold (1 MiB; Excel's own limit is 32,767 characters).
pub const MAX_CELL_BYTES: usize = 1 << 20;

/// Most text kept from one sheet (1 GiB, as much as a workbook may unpack to).
pub const MAX_SHEET_TEXT_BYTES: usize = 1 << 30;

/// One non-empty cell: 0-based sheet row and column, and its text. A cell holding an error value
/// has the error's name (`#N/A`) as its text and its place in `ExcelReader::problems`; a cell
/// that reads two ways has the number it stores.
type CellText = (u32, u32, String);

/// Why a cell is no value to load.
#[derive(Debug)]
enum Problem {
    /// An error value (`#N/A`), named by the cell's text.
    Error,
    /// What the cell stores and what Excel shows differ: why, and what to do, in words.
    TwoReadings(TwoReadings),
}

/// The non-empty cells of a sheet, and the places of those that are no value to load.
type SheetCells = (Vec<CellText>, Vec<(u32, u32, Problem)>);

/// Hands out the rows of one sheet, read when the source opens.
pub struct ExcelReader {
    columns: Vec<String>,
    shared: Vec<super::SharedName>,
    /// Column of the sheet that holds the first column of the header.
    first_col: u32,
    cells: Peekable<std::vec::IntoIter<CellText>>,
    /// Places of the cells holding an error value (none with `error_cells = "blank"`) or reading
    /// two ways, sorted.
    problems: Vec<(u32, u32, Problem)>,
    /// The columns a mapping reads, once told: an error cell elsewhere is harmless.
    read: Option<Vec<bool>>,
    total_cells: usize,
    taken_cells: usize,
    file_len: u64,
    name: Arc<str>,
    sheet: Arc<str>,
    row: u64,
}

impl ExcelReader {
    /// Open the workbook, pick the sheet and read its header row.
    pub fn open(config: &ExcelSource, path: &Path, name: Arc<str>) -> Result<Self, SourceError> {
        Self::open_with_limit(config, path, name, MAX_UNPACKED_BYTES)
    }

    fn open_with_limit(config: &ExcelSource, path: &Path, name: Arc<str>, limit: u64) -> Result<Self, SourceError> {
        if config.header_row == 0 {
            return Err(SourceError::Config(
                "header_row is 1-based: the first row of a sheet is 1".into(),
            ));
        }
        let file_len = path
            .metadata()
            .map_err(|e| SourceError::Io {
                path: name.to_string(),
                source: e,
            })?
            .len();
        let kind = sniff(path).map_err(|e| SourceError::Io {
            path: name.to_string(),
            source: e,
        })?;
        if kind == Content::Zip {
            check_unpacked_size(path, limit)
                .and_then(|()| grid::check_references(path))
                .map_err(|message| SourceError::Workbook {
                    path: name.to_string(),
                    message,
                })?;
        }
        let mut workbook = open_sheets(path, kind).map_err(|message| SourceError::Workbook {
            path: name.to_string(),
            message: format!("not a readable workbook (xlsx, xls, xlsb, ods): {message}"),
        })?;
        let sheet = pick_sheet(&workbook.sheet_names(), config.sheet.as_ref(), &name)?;
        let (mut cells, mut problems) = read_cells(&mut workbook, &sheet, MAX_SHEET_TEXT_BYTES, config.error_cells)
            .map_err(|message| SourceError::Workbook {
                path: name.to_string(),
                message: format!("sheet {sheet:?}: {message}"),
            })?;
        drop(workbook);

        // Rows above the header are banners and titles: they are not part of the table.
        let header_idx = u32::try_from(config.header_row - 1).unwrap_or(u32::MAX);
        cells.retain(|c| c.0 >= header_idx);
        cells.sort_by_key(|c| (c.0, c.1));
        // A damaged sheet can write one cell twice (a row repeated): which value is meant cannot
        // be told, so the workbook is refused rather than one of them loaded.
        if let Some(w) = cells.windows(2).find(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1)) {
            return Err(SourceError::Workbook {
                path: name.to_string(),
                message: format!(
                    "sheet {sheet:?}: cell {} is written twice, so which value is meant cannot be told: a damaged \
                     workbook; open it in a spreadsheet and save it again, or export CSV",
                    cell_name(w[0].0, w[0].1)
                ),
            });
        }
        let (Some(first_col), Some(last_col)) = (cells.iter().map(|c| c.1).min(), cells.iter().map(|c| c.1).max())
        else {
            return Err(SourceError::Workbook {
                path: name.to_string(),
                message: format!(
                    "sheet {sheet:?} has nothing at or below row {}: expected the column names there (header_row)",
                    config.header_row
                ),
            });
        };
        if cells.first().is_some_and(|c| c.0 != header_idx) {
            return Err(SourceError::Workbook {
                path: name.to_string(),
                message: format!(
                    "sheet {sheet:?}: row {} is empty, expected the column names there; the first non-empty row is {} \
                     (set header_row)",
                    config.header_row,
                    cells.first().map_or(0, |c| c.0 + 1)
                ),
            });
        }
        // The table spans every used column at or below the header, so a value under a blank
        // header cell is kept (as `column_N`) rather than dropped.
        let width = (last_col - first_col) as usize + 1;
        let mut raw_names = vec![String::new(); width];
        let total_cells = cells.len();
        let mut cells = cells.into_iter().peekable();
        let mut taken_cells = 0;
        while let Some((_, col, text)) = cells.next_if(|c| c.0 == header_idx) {
            taken_cells += 1;
            let trimmed = text.trim();
            if let Some(slot) = raw_names.get_mut((col - first_col) as usize) {
                *slot = trimmed.to_string();
            }
        }
        let (columns, shared) = super::names::unique_names(raw_names);
        Ok(ExcelReader {
            columns,
            shared,
            first_col,
            cells,
            problems: {
                problems.sort_unstable_by_key(|p| (p.0, p.1));
                problems
            },
            read: None,
            total_cells,
            taken_cells,
            file_len,
            name,
            sheet: Arc::from(sheet.as_str()),
            row: 0,
        })
    }
}

impl ExcelReader {
    /// Why a row is refused when one of the cells the mapping reads holds an error value or
    /// reads two ways.
    fn problem_in(&self, sheet_row: u32, values: &[String]) -> Option<String> {
        let at = self.problems.partition_point(|e| e.0 < sheet_row);
        let (col, i, problem) = self.problems[at..]
            .iter()
            .take_while(|e| e.0 == sheet_row)
            .filter_map(|(_, col, problem)| Some((*col, col.checked_sub(self.first_col)? as usize, problem)))
            .find(|&(_, i, _)| {
                self.read
                    .as_ref()
                    .is_none_or(|read| read.get(i).copied().unwrap_or(false))
            })?;
        let place = format!(
            "sheet {:?}: cell {} (column {:?})",
            self.sheet,
            cell_name(sheet_row, col),
            self.columns.get(i).map(String::as_str).unwrap_or("?"),
        );
        Some(match problem {
            Problem::Error => format!(
                "{place} holds the error {}, which is no value: correct the formula in the workbook, or set \
                 error_cells = \"blank\" in [source] to read such cells as blank",
                values.get(i).map(String::as_str).unwrap_or("?"),
            ),
            Problem::TwoReadings(two) => format!(
                "{place} {}: the cell reads two ways, so neither is loaded; {}",
                two.why, two.fix
            ),
        })
    }
}

impl Source for ExcelReader {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn columns_read(&mut self, read: &[bool]) {
        self.read = Some(read.to_vec());
    }

    fn shared_names(&self) -> &[super::SharedName] {
        &self.shared
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        // Only non-empty cells were kept, so a fully empty row never shows up here.
        let Some(&(sheet_row, _, _)) = self.cells.peek() else {
            return Ok(None);
        };
        let mut values = vec![String::new(); self.columns.len()];
        while let Some((_, col, text)) = self.cells.next_if(|c| c.0 == sheet_row) {
            self.taken_cells += 1;
            if let Some(slot) = values.get_mut((col - self.first_col) as usize) {
                *slot = text;
            }
        }
        self.row += 1;
        if let Some(reason) = self.problem_in(sheet_row, &values) {
            return Err(SourceError::Ragged {
                path: self.name.to_string(),
                line: u64::from(sheet_row) + 1,
                row: self.row,
                reason,
                values,
            });
        }
        if let Some(i) = values.iter().position(|v| v.contains('\0')) {
            return Err(SourceError::Ragged {
                path: self.name.to_string(),
                line: u64::from(sheet_row) + 1,
                row: self.row,
                reason: format!(
                    "sheet {:?}: column {:?} holds a NUL character (U+0000), which no real cell holds",
                    self.sheet, self.columns[i]
                ),
                values,
            });
        }
        Ok(Some(RawRecord {
            values: RawValues::Row(values.into()),
            lineage: Lineage {
                source: self.name.clone(),
                locator: Some(self.sheet.clone()),
                row: self.row,
                line: u64::from(sheet_row) + 1,
            },
        }))
    }

    fn bytes_read(&self) -> u64 {
        // The file was read at open; progress is the share of cells handed out.
        if self.total_cells == 0 {
            return self.file_len;
        }
        (self.file_len as u128 * self.taken_cells as u128 / self.total_cells as u128) as u64
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    /// A zip archive: xlsx, xlsm, xlsb or ods.
    Zip,
    /// An OLE compound file: xls (or an encrypted xlsx).
    Compound,
    /// Text starting with `<`: an HTML page or XML saved under a workbook's name.
    Markup,
    /// Other text, most likely CSV.
    Text,
    /// A file of zero bytes.
    Empty,
    /// Anything else.
    Other,
}

fn sniff(path: &Path) -> std::io::Result<Content> {
    let mut head = [0u8; 512];
    let mut file = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let head = &head[..n];
    if head.is_empty() {
        return Ok(Content::Empty);
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Ok(Content::Zip);
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Ok(Content::Compound);
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let trimmed = text.trim_ascii_start();
    if trimmed.starts_with(b"<") {
        return Ok(Content::Markup);
    }
    if text.iter().all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r')) {
        return Ok(Content::Text);
    }
    Ok(Content::Other)
}

/// Refuse a zip whose entries declare more than `limit` bytes in all.
fn check_unpacked_size(path: &Path, limit: u64) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
        format!("not a readable workbook (xlsx, xls, xlsb, ods): the zip archive inside is damaged or truncated ({e})")
    })?;
    let total: u128 = match archive.decompressed_size() {
        Some(total) => total,
        None => {
            let mut total = 0u128;
            for i in 0..archive.len() {
                let entry = archive
                    .by_index_raw(i)
                    .map_err(|e| format!("not a readable workbook (xlsx, xls, xlsb, ods): the zip archive inside is damaged or truncated ({e})"))?;
                total += u128::from(entry.size());
            }
            total
        }
    };
    if total > u128::from(limit) {
        return Err(format!(
            "the workbook unpacks to {total} bytes, more than the {limit} bytes opsync reads from one workbook \
             (a zip bomb, or a sheet too large for a workbook: export it as CSV)"
        ));
    }
    Ok(())
}

/// Open by extension as calamine does; when the extension lies (an xlsx saved as `.xls`, say),
/// try the format the content shows. Errors are explained in words a user can act on.
fn open_sheets(path: &Path, kind: Content) -> Result<Sheets<BufReader<File>>, String> {
    let first = match calamine::open_workbook_auto(path) {
        Ok(sheets) => return Ok(sheets),
        Err(e) => e,
    };
    let retry = match kind {
        Content::Zip => calamine::open_workbook(path)
            .map(Sheets::Xlsx)
            .map_err(calamine::Error::Xlsx)
            .or_else(|_| {
                calamine::open_workbook(path)
                    .map(Sheets::Ods)
                    .map_err(calamine::Error::Ods)
            })
            .or_else(|_| {
                calamine::open_workbook(path)
                    .map(Sheets::Xlsb)
                    .map_err(calamine::Error::Xlsb)
            }),
        Content::Compound => calamine::open_workbook(path)
            .map(Sheets::Xls)
            .map_err(calamine::Error::Xls),
        Content::Markup => {
            return Err(
                "the file is HTML or XML text (some systems save a web page under an .xls name); \
                        open it in a spreadsheet and save it as .xlsx, or export CSV"
                    .into(),
            );
        }
        Content::Text => {
            return Err("the file is plain text, not a workbook; for CSV use kind = \"csv\"".into());
        }
        Content::Empty => return Err("the file is empty".into()),
        Content::Other => return Err(first.to_string()),
    };
    retry.map_err(|_| first.to_string())
}

/// The sheet a job names (exactly, else ignoring case as Excel does), or the first one.
fn pick_sheet(names: &[String], wanted: Option<&SheetRef>, path: &str) -> Result<String, SourceError> {
    let available = || names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
    let found = match wanted {
        None => names.first(),
        Some(SheetRef::Index(i)) => names.get(*i),
        Some(SheetRef::Name(n)) => names
            .iter()
            .find(|s| *s == n)
            .or_else(|| names.iter().find(|s| s.to_lowercase() == n.to_lowercase())),
    };
    match found {
        Some(name) => Ok(name.clone()),
        None => Err(SourceError::SheetNotFound {
            path: path.to_string(),
            sheet: match wanted {
                Some(SheetRef::Name(n)) => format!("{n:?}"),
                Some(SheetRef::Index(i)) => format!("at index {i} (0-based)"),
                None => "(the first)".into(),
            },
            available: if names.is_empty() { "none".into() } else { available() },
        }),
    }
}

/// The non-empty cells of one sheet as text, with their 0-based positions; refused when a cell's
/// text or the sheet's passes its bound (`budget` bytes in all). In xlsx each number is checked
/// against its cell's number format, read in the same pass.
fn read_cells(
    workbook: &mut Sheets<BufReader<File>>,
    sheet: &str,
    budget: usize,
    error_cells: ErrorCells,
) -> Result<SheetCells, String> {
    let mut cells = Vec::new();
    let mut problems = Vec::new();
    let mut total = 0usize;
    let mut keep = |(row, col): (u32, u32),
                    len: usize,
                    value: &dyn Fn() -> Data,
                    format: Option<&NumberFormat>|
     -> Result<(), String> {
        let place = cell_name(row, col);
        if len > MAX_CELL_BYTES {
            return Err(format!(
                "cell {place} holds {len} bytes of text, more than the {MAX_CELL_BYTES} opsync reads from one cell \
                 (Excel itself stops at 32,767 characters): a damaged or crafted workbook"
            ));
        }
        total = total.saturating_add(len);
        if total > budget {
            return Err(format!(
                "the text of the sheet passes {budget} bytes at cell {place} (cells repeating one long shared \
                 string, or a sheet too large for a workbook: export it as CSV)"
            ));
        }
        let value = value();
        if let (Data::Error(e), ErrorCells::Reject) = (&value, error_cells) {
            problems.push((row, col, Problem::Error));
            cells.push((row, col, e.to_string()));
            return Ok(());
        }
        let (text, two) = match (cell_text(&value), &value, format) {
            (Ok(text), Data::Float(f), Some(format)) => (text, format.check(*f)),
            (Ok(text), ..) => (text, None),
            (Err(two), ..) => (two.stored.clone(), Some(two)),
        };
        if let Some(two) = two {
            problems.push((row, col, Problem::TwoReadings(two)));
        }
        if !text.is_empty() {
            cells.push((row, col, text));
        }
        Ok(())
    };
    match workbook {
        Sheets::Xlsx(book) => {
            let mut reader = book.worksheet_cells_reader(sheet).map_err(|e| e.to_string())?;
            // Each style's number format is read once; a cell names its style by index.
            let formats: Vec<Option<NumberFormat>> = reader
                .styles()
                .iter()
                .map(|style| {
                    let code = &style.number_format.as_ref()?.format_code;
                    NumberFormat::parse(code)
                })
                .collect();
            while let Some((cell, style)) = reader.next_cell_with_style_id().map_err(|e| e.to_string())? {
                let v = cell.get_value();
                let format = formats.get(style).and_then(Option::as_ref);
                keep(cell.get_position(), ref_len(v), &|| v.clone().into(), format)?;
            }
        }
        // calamine reads no number formats from xlsb, xls or ods: their numbers are read as stored.
        Sheets::Xlsb(book) => {
            let mut reader = book.worksheet_cells_reader(sheet).map_err(|e| e.to_string())?;
            while let Some(cell) = reader.next_cell().map_err(|e| e.to_string())? {
                let v = cell.get_value();
                keep(cell.get_position(), ref_len(v), &|| v.clone().into(), None)?;
            }
        }
        other => {
            let range = other.worksheet_range(sheet).map_err(|e| e.to_string())?;
            let (top, left) = range.start().unwrap_or((0, 0));
            for (r, c, value) in range.used_cells() {
                let pos = (top.saturating_add(r as u32), left.saturating_add(c as u32));
                keep(pos, data_len(value), &|| value.clone(), None)?;
            }
        }
    }
    Ok((cells, problems))
}

/// Bytes of text a cell value holds before it is copied.
fn ref_len(v: &DataRef<'_>) -> usize {
    match v {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.len(),
        DataRef::SharedString(s) => s.len(),
        _ => 0,
    }
}

fn data_len(v: &Data) -> usize {
    match v {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.len(),
        _ => 0,
    }
}

/// A cell's name as Excel shows it (`B7`), from 0-based row and column.
fn cell_name(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut n = u64::from(col) + 1;
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        letters.push(char::from(b'A' + rem));
        n = (n - 1) / 26;
    }
    format!("{}{}", letters.iter().rev().collect::<String>(), u64::from(row) + 1)
}

#[cfg(test)]
#[path = "excel_tests.rs"]
mod tests;

#[path = "excel_grid.rs"]
mod grid;

#[path = "excel_cell.rs"]
mod cell;

#[path = "excel_format.rs"]
mod format;

#[path = "excel_decimal.rs"]
mod decimal;
