//! A lesson's text and where things are in it: byte offsets (toml's spans) turned into
//! `PATH:LINE:COL` for messages, and the checks made on the raw bytes before TOML sees them
//! (size, UTF-8).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::UsageError;
use crate::text::printable_line;

/// The largest lesson file read: far more than any lesson needs, small enough to check fast.
pub const MAX_LESSON_BYTES: u64 = 1 << 20;

/// A lesson's text with its origin (how messages name the file) and the start of each line.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    origin: String,
    text: Arc<str>,
    line_starts: Arc<[usize]>,
    /// The directory of a lesson read from disk: paths in it (`[model]`'s `weights`) are
    /// relative to it.
    dir: Option<PathBuf>,
}

impl Source {
    /// `origin` is shown as given, with any control character made visible.
    pub fn new(origin: &str, text: &str) -> Source {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source {
            origin: printable_line(origin).into_owned(),
            text: text.into(),
            line_starts,
            dir: None,
        }
    }

    /// This source, read from a file in `dir`.
    pub fn in_dir(mut self, dir: &Path) -> Source {
        self.dir = Some(dir.to_owned());
        self
    }

    /// Where a path written in the lesson is: relative to the lesson file's directory (as
    /// written, for a bundled lesson or an absolute path).
    pub fn resolve_path(&self, written: &str) -> PathBuf {
        match &self.dir {
            Some(d) => d.join(written),
            None => PathBuf::from(written),
        }
    }

    /// Checks raw bytes are UTF-8, locating the first bad byte.
    pub fn from_bytes(origin: &str, bytes: &[u8]) -> Result<Source, UsageError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Source::new(origin, text)),
            Err(e) => {
                let good = &bytes[..e.valid_up_to()];
                // The prefix is valid: locate the bad byte as if the text ended there.
                let prefix = Source::new(origin, std::str::from_utf8(good).unwrap_or(""));
                Err(prefix.err(
                    Some(good.len()..good.len() + 1),
                    format!(
                        "this is not UTF-8 text: byte 0x{:02x} cannot start or continue a \
                         character; save the file as UTF-8",
                        bytes[e.valid_up_to()]
                    ),
                ))
            }
        }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// `PATH:LINE:COL` of byte `offset` (1-based line and column, column in characters).
    pub fn at(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        format!("{}:{line}:{col}", self.origin)
    }

    /// A located error: `PATH:LINE:COL: msg`, at the start of `span` (or of the file).
    pub fn err(&self, span: Option<Range<usize>>, msg: impl std::fmt::Display) -> UsageError {
        UsageError(format!("{}: {msg}", self.at(span.map_or(0, |s| s.start))))
    }
}

/// The nearest known word by edit distance, if it is near enough to be a likely typo.
pub fn nearest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(word, k), *k))
        .filter(|(d, k)| *d <= (k.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Text quoted in a message: control characters made visible, long text cut.
pub fn quoted(s: &str) -> String {
    const MAX: usize = 60;
    let shown: String = s.chars().take(MAX).collect();
    let more = if s.chars().count() > MAX { "…" } else { "" };
    format!("\"{}{more}\"", printable_line(&shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let s = Source::new("l.toml", "ab\ncdé\n\nx");
        assert_eq!(s.at(0), "l.toml:1:1");
        assert_eq!(s.at(3), "l.toml:2:1");
        assert_eq!(s.at(7), "l.toml:2:4", "é is one column");
        assert_eq!(s.at(9), "l.toml:4:1");
        assert_eq!(s.at(999), "l.toml:4:2");
    }

    #[test]
    fn invalid_utf8_is_located_at_the_first_bad_byte() {
        let e = Source::from_bytes("l.toml", b"a = 1\ntitle = \"T\xff\"\n").unwrap_err();
        assert!(
            e.0.starts_with("l.toml:2:11: this is not UTF-8 text: byte 0xff"),
            "{}",
            e.0
        );
    }

    #[test]
    fn origins_and_quotes_are_printable() {
        let s = Source::new("evil\x1b]0;x\x07.toml", "");
        assert!(!s.at(0).contains('\x1b'));
        assert_eq!(quoted("a\x1bb"), "\"a\\u{1b}b\"");
        assert_eq!(quoted(&"x".repeat(100)).chars().count(), 63);
    }
}
