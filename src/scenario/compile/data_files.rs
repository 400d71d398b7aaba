//! Data files a scenario names (traces, node and pod lists): read relative to the scenario file within a size
//! limit, and their row errors reported at the row's line and column in the data file itself.

use super::Compiler;
use crate::scenario::diag::Diagnostic;
use crate::scenario::schema::Sp;

impl Compiler<'_> {
    /// Reads the file `path` names, relative to the scenario file: `(shown name, text)`. A missing, unreadable
    /// or oversized file is an error at `path` in the scenario ("cannot read {what} {file}: {error}{hint}").
    pub(super) fn read_data_file(
        &mut self,
        path: &Sp<String>,
        max_bytes: u64,
        what: &str,
        hint: &str,
    ) -> Option<(String, String)> {
        let base = std::path::Path::new(self.file).parent().unwrap_or(std::path::Path::new(""));
        let full = base.join(path.get_ref());
        let shown = full.display().to_string();
        let text = match std::fs::metadata(&full) {
            Ok(m) if m.is_dir() => return self.err(path.span(), format!("{what} {shown} is a directory, not a file")),
            Ok(m) if m.len() > max_bytes => {
                return self.err(path.span(), format!("{what} {shown} is {} bytes; the limit is {max_bytes}", m.len()));
            }
            Ok(_) => std::fs::read_to_string(&full),
            Err(e) => Err(e),
        };
        match text {
            Ok(text) => Some((shown, text)),
            Err(e) => self.err(path.span(), format!("cannot read {what} {shown}: {e}{hint}")),
        }
    }

    /// An error at 1-based `line` and `column` (characters) of data file `shown` with contents `text`.
    pub(super) fn err_in_data_file(&mut self, shown: &str, text: &str, line: usize, column: usize, message: String) {
        let line_start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
        let row = text[line_start..].lines().next().unwrap_or("");
        let col_byte: usize = row.chars().take(column.saturating_sub(1)).map(char::len_utf8).sum();
        let at = line_start + col_byte;
        self.errors.push(Diagnostic::at(shown, text, at..at + 1, message));
    }
}
