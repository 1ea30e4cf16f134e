//! Lessons: the TOML lesson format and its located diagnostics, the bundled course, and the
//! learner's progress. Nothing here runs a lesson or knows the command line: the command layer
//! (`crate::commands`) does that with what this module returns.
//!
//! A lesson file sets a configuration (`[config]`, the same keys as the engine's
//! [`ConfigSpec`]), or names a trained checkpoint to run (`[model]`: weights, text, layer), and
//! tells the story around it (welcome, notes on stages, quiz hints,
//! closing). Loading checks everything before anything runs; every mistake is a
//! [`UsageError`] worded `PATH:LINE:COL: message`. Text from a lesson file reaches the
//! terminal only through [`crate::text::printable`], so a shared lesson cannot send escape
//! sequences.
//!
//! - [`source`]: the text, offsets to lines and columns, size and UTF-8 checks.
//! - [`schema`]: keys and value kinds, checked on toml's spanned tree.
//! - [`format`]: values, variants and the lesson's view.
//! - `checks`: what needs the whole lesson: every note, hint, question and placeholder will be
//!   shown somewhere.
//! - [`Lesson`] (`model.rs`): a checked lesson, and how its configuration errors are worded.
//! - [`catalogue`]: the bundled course.
//! - [`progress`]: where a learner stopped, kept in a small JSON file.

pub mod catalogue;
mod checks;
mod file;
pub mod format;
mod model;
pub mod progress;
pub mod schema;
pub mod source;
mod trained;

use std::path::Path;

use crate::error::UsageError;
use crate::files::{ReadProblem, read_limited};

pub use catalogue::{BUNDLED, Bundled, find_bundled, section_starting_at, unknown_lesson};
pub use file::stages_in;
pub use model::{Lesson, LessonModel, LessonVariant, ViewSettings};
pub use schema::FORMAT_VERSION;
use source::{MAX_LESSON_BYTES, Source};

/// Loads a lesson named on the command line: a bundled name or number, or a path to a file.
pub fn load(arg: &str) -> Result<Lesson, UsageError> {
    let looks_like_path =
        arg.ends_with(".toml") || arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR);
    if !looks_like_path {
        if let Some((number, b)) = find_bundled(arg) {
            return load_bundled(number, b);
        }
        if !Path::new(arg).exists() {
            return Err(unknown_lesson(arg, true));
        }
    }
    load_file(Path::new(arg))
}

/// Parses and checks bundled lesson `number` (1-based).
pub fn load_bundled(number: usize, b: &Bundled) -> Result<Lesson, UsageError> {
    let mut lesson = format::parse(Source::new(&format!("lessons/{}", b.file), b.source))?;
    lesson.name = b.name.to_owned();
    lesson.number = Some(number);
    lesson.progress_key = b.name.to_owned();
    Ok(lesson)
}

/// Reads (a regular file of at most 1 MiB), parses and checks a lesson file.
pub fn load_file(path: &Path) -> Result<Lesson, UsageError> {
    let origin = path.display().to_string();
    let bytes =
        read_limited(path, MAX_LESSON_BYTES, "lesson file").map_err(|e| match e.problem {
            ReadProblem::TooLarge { .. } => UsageError(format!(
                "{e}; a lesson file may be at most {} (split a longer course into lessons)",
                crate::memory::human_bytes(u128::from(MAX_LESSON_BYTES))
            )),
            _ => UsageError(e.to_string()),
        })?;
    let mut src = Source::from_bytes(&origin, &bytes)?;
    if let Some(dir) = path.parent() {
        src = src.in_dir(dir);
    }
    let mut lesson = format::parse(src)?;
    lesson.progress_key = std::fs::canonicalize(path).map_or(origin, |p| p.display().to_string());
    Ok(lesson)
}

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod text_tests;
#[cfg(test)]
mod truth_tests;
