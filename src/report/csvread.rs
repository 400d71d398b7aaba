//! A small layer over the csv crate that reads columns by header name and turns every problem into a
//! [`ReportError`] naming the file, the line and the column, so a corrupt run directory never panics.

use super::error::ReportError;
use csv::StringRecord;
use std::fs::File;
use std::path::Path;

/// An open CSV file with its header resolved.
pub struct CsvFile<'p> {
    path: &'p Path,
    reader: csv::Reader<File>,
    headers: StringRecord,
}

/// One record and where it came from, for error messages.
pub struct Row<'a> {
    path: &'a Path,
    record: &'a StringRecord,
    line: u64,
}

/// The names and positions of the columns a reader needs, resolved once from the header.
pub struct Columns(Vec<(&'static str, usize)>);

impl<'p> CsvFile<'p> {
    pub fn open(path: &'p Path) -> Result<CsvFile<'p>, ReportError> {
        let file = File::open(path).map_err(|e| ReportError::input(path, None, format!("cannot read: {e}")))?;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(file);
        let headers = reader
            .headers()
            .map_err(|e| ReportError::input(path, Some(1), format!("cannot read the header: {e}")))?
            .clone();
        Ok(CsvFile { path, reader, headers })
    }

    /// Resolves `names` to column positions; extra columns are ignored so that later formats stay readable.
    pub fn columns(&self, names: &[&'static str]) -> Result<Columns, ReportError> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            match self.headers.iter().position(|h| h == *name) {
                Some(i) => out.push((*name, i)),
                None => {
                    return Err(ReportError::input(self.path, Some(1), format!("the header has no column `{name}`")));
                }
            }
        }
        Ok(Columns(out))
    }

    /// Calls `f` on every record, in file order.
    pub fn for_each(mut self, mut f: impl FnMut(&Row<'_>) -> Result<(), ReportError>) -> Result<(), ReportError> {
        let mut record = StringRecord::new();
        loop {
            match self.reader.read_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {
                    let line = record.position().map(|p| p.line()).unwrap_or(0);
                    f(&Row { path: self.path, record: &record, line })?;
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line());
                    return Err(ReportError::input(self.path, line, format!("malformed CSV: {}", csv_message(&e))));
                }
            }
        }
    }
}

/// The csv error without its own position (we print the line ourselves).
fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        _ => e.to_string(),
    }
}

impl Row<'_> {
    /// The text of the `i`-th requested column.
    pub fn str(&self, cols: &Columns, i: usize) -> &str {
        self.record.get(cols.0[i].1).unwrap_or("")
    }

    fn bad(&self, cols: &Columns, i: usize, what: String) -> ReportError {
        ReportError::input(self.path, Some(self.line), format!("column `{}`: {what}", cols.0[i].0))
    }

    /// A required finite number.
    pub fn f64(&self, cols: &Columns, i: usize) -> Result<f64, ReportError> {
        let s = self.str(cols, i);
        match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.bad(cols, i, format!("expected a number, found {s:?}"))),
        }
    }

    /// An optional finite number: an empty cell is `None` (what never happened).
    pub fn opt_f64(&self, cols: &Columns, i: usize) -> Result<Option<f64>, ReportError> {
        if self.str(cols, i).trim().is_empty() { Ok(None) } else { self.f64(cols, i).map(Some) }
    }

    /// A required non-negative integer.
    pub fn u64(&self, cols: &Columns, i: usize) -> Result<u64, ReportError> {
        let s = self.str(cols, i);
        s.trim().parse::<u64>().map_err(|_| self.bad(cols, i, format!("expected a whole number, found {s:?}")))
    }
}
