//! `attnstep lessons`: the course with the learner's progress, `lessons check FILE…`, and
//! `lessons show NAME`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use super::common;
use crate::cli::{LessonsArgs, LessonsCommand};
use crate::error::{self, UsageError};
use crate::lesson::progress::{self, Store};
use crate::lesson::{
    BUNDLED, find_bundled, load_bundled, load_file, section_starting_at, unknown_lesson,
};
use crate::text::printable_line;

pub fn run(args: &LessonsArgs) -> Result<()> {
    let mut out = error::stdout();
    let result = match &args.command {
        None => list(&mut out, &saved_progress(), true),
        Some(LessonsCommand::Check { files }) => check(&mut out, files),
        Some(LessonsCommand::Show { name }) => {
            let (_, b) = find_bundled(name).ok_or_else(|| unknown_lesson(name, false))?;
            out.write_all(b.source.as_bytes()).map_err(Into::into)
        }
    };
    out.flush()?;
    result
}

/// The learner's progress, or an empty store (with a warning) when it cannot be read.
pub fn saved_progress() -> Store {
    let Some(dir) = progress::state_dir() else {
        return Store::default();
    };
    Store::load(&dir).unwrap_or_else(|e| {
        common::warn(format!("{e}; the list shows no progress"));
        Store::default()
    })
}

/// Checks lesson files (or every bundled lesson when none is given) without running them.
pub(super) fn check(out: &mut dyn Write, files: &[PathBuf]) -> Result<()> {
    let mut failed = Vec::new();
    if files.is_empty() {
        for (i, b) in BUNDLED.iter().enumerate() {
            match load_bundled(i + 1, b) {
                Ok(l) => writeln!(out, "ok  lessons/{}  {}", b.file, l.title)?,
                Err(e) => failed.push(e.0),
            }
        }
    } else {
        for f in files {
            match load_file(f) {
                // The title is already printable (the lesson module saw to it).
                Ok(l) => writeln!(
                    out,
                    "ok  {}  {}",
                    printable_line(&f.to_string_lossy()),
                    l.title
                )?,
                Err(e) => failed.push(e.0),
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(UsageError(failed.join("\n")).into())
    }
}

/// Prints the bundled course with each lesson's progress; `detailed` adds the summary and
/// topics under each title.
pub fn list(out: &mut dyn Write, store: &Store, detailed: bool) -> Result<()> {
    for (i, b) in BUNDLED.iter().enumerate() {
        if let Some(heading) = section_starting_at(b.name) {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "{heading}")?;
            if i == 0 {
                writeln!(
                    out,
                    "Run one with `attnstep lesson NAME` or `attnstep lesson NUMBER`."
                )?;
            }
            writeln!(out)?;
        }
        let lesson = load_bundled(i + 1, b)?;
        let status = store
            .get(b.name)
            .map(|e| format!("  {}", e.status()))
            .unwrap_or_default();
        writeln!(out, "{:>3}  {:<16} {}{status}", i + 1, b.name, lesson.title)?;
        if detailed {
            writeln!(out, "     {:<16} {}", "", lesson.summary)?;
            if let Some(c) = &lesson.covers {
                writeln!(out, "     {:<16} covers: {c}", "")?;
            }
        }
    }
    if detailed {
        writeln!(
            out,
            "\nAny lesson file runs too: `attnstep lesson path/to/mine.toml`; \
             check one with `attnstep lessons check FILE`."
        )?;
    }
    Ok(())
}
