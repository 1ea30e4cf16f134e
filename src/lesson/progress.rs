//! Self-study progress: where a learner stopped in each lesson, whether they finished it or
//! read it whole, and their quiz score. Stored as one small JSON file in the platform state
//! directory (`$XDG_STATE_HOME/attnstep` on Linux, the local data directory elsewhere);
//! `ATTNSTEP_STATE_DIR` overrides the directory, which the tests use.
//!
//! Changes go through [`update`]: under an exclusive lock on `progress.json.lock` it reads the
//! file anew, changes one lesson's entry and writes the file back atomically, so two runs at
//! once both keep their update. A file that cannot be read as progress (corrupt, or written
//! by a newer attnstep) is never overwritten: [`update`] refuses and says why.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files::{ReadError, ReadProblem, read_limited, replace_atomically};
use crate::text::printable_line;

/// The environment variable that overrides the state directory.
pub const STATE_DIR_ENV: &str = "ATTNSTEP_STATE_DIR";
const FILE_NAME: &str = "progress.json";
const LOCK_NAME: &str = "progress.json.lock";
const FORMAT: &str = "attnstep-progress/1";
/// A progress file holds a line per lesson; anything this large is not one.
const MAX_BYTES: u64 = 4 << 20;

/// Where progress is kept: `ATTNSTEP_STATE_DIR` if set, else the platform state directory.
pub fn state_dir() -> Option<PathBuf> {
    match std::env::var_os(STATE_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::state_dir()
            .or_else(dirs::data_local_dir)
            .map(|d| d.join("attnstep")),
    }
}

/// How far a learner got in one lesson.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The step (0-based) of the last stage they saw.
    pub step: usize,
    /// The stage index (0-based, within that step) of the last stage they saw.
    pub stage: usize,
    /// They reached the closing screen.
    pub finished: bool,
    /// They printed the whole lesson (`--all`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read: bool,
    /// Quiz answers that were right, and answers given, over the last walk with `--quiz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiz: Option<QuizRecord>,
}

impl Entry {
    /// Finished in the stepper, or read whole.
    pub fn done(&self) -> bool {
        self.finished || self.read
    }

    /// `[done, quiz 3/4]`, `[read]`, `[stopped at step 2, stage 5]` for the course list.
    pub fn status(&self) -> String {
        match (self.finished, self.read, self.quiz) {
            (true, _, Some(q)) => format!("[done, quiz {}/{}]", q.correct, q.asked),
            (true, _, None) => "[done]".to_owned(),
            (false, true, _) => "[read]".to_owned(),
            // u128: a crafted step number must not wrap to "step 0".
            _ => format!(
                "[stopped at step {}, stage {}]",
                self.step as u128 + 1,
                self.stage as u128 + 1
            ),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuizRecord {
    pub correct: usize,
    pub asked: usize,
}

/// Every lesson's entry, keyed by lesson name (bundled) or canonical path (a file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    format: String,
    lessons: BTreeMap<String, Entry>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            format: FORMAT.to_owned(),
            lessons: BTreeMap::new(),
        }
    }
}

/// Why progress could not be read or saved; each names the file.
#[derive(Debug)]
pub enum ProgressError {
    Read(ReadError),
    /// The file is there but is not progress this build reads (`why` says what it is).
    Unreadable {
        path: PathBuf,
        why: String,
    },
    Write {
        path: PathBuf,
        err: io::Error,
    },
}

impl fmt::Display for ProgressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgressError::Read(e) => e.fmt(f),
            ProgressError::Unreadable { path, why } => write!(
                f,
                "progress file {} {why}",
                printable_line(&path.to_string_lossy())
            ),
            ProgressError::Write { path, err } => write!(
                f,
                "writing progress file {}: {err}",
                printable_line(&path.to_string_lossy())
            ),
        }
    }
}

impl std::error::Error for ProgressError {}

impl Store {
    /// Reads the store from `dir`. A missing file is an empty store.
    pub fn load(dir: &Path) -> Result<Store, ProgressError> {
        let path = dir.join(FILE_NAME);
        let bytes = match read_limited(&path, MAX_BYTES, "progress file") {
            Ok(b) => b,
            Err(ReadError {
                problem: ReadProblem::NotFound,
                ..
            }) => return Ok(Store::default()),
            Err(e) => return Err(ProgressError::Read(e)),
        };
        let unreadable = |why: String| ProgressError::Unreadable {
            path: path.clone(),
            why,
        };
        let store: Store = serde_json::from_slice(&bytes)
            .map_err(|e| unreadable(format!("is not a progress file ({e})")))?;
        if store.format != FORMAT {
            return Err(unreadable(format!(
                "has format \"{}\", not \"{FORMAT}\" (written by another attnstep?)",
                printable_line(&store.format)
            )));
        }
        Ok(store)
    }

    pub fn get(&self, lesson: &str) -> Option<&Entry> {
        self.lessons.get(lesson)
    }

    pub fn set(&mut self, lesson: &str, entry: Entry) {
        self.lessons.insert(lesson.to_owned(), entry);
    }

    /// Forgets a lesson (`--restart`).
    pub fn clear(&mut self, lesson: &str) {
        self.lessons.remove(lesson);
    }

    /// A saved position to offer for resuming: only for a lesson started and not finished.
    pub fn resumable(&self, lesson: &str) -> Option<&Entry> {
        self.get(lesson).filter(|e| !e.finished)
    }

    /// Records a whole lesson read with `--all`, keeping what else is known about it.
    pub fn mark_read(&mut self, lesson: &str) {
        self.lessons.entry(lesson.to_owned()).or_default().read = true;
    }

    /// Records where a walk through the stepper ended; a lesson once read stays read.
    pub fn record_walk(&mut self, lesson: &str, mut entry: Entry) {
        entry.read |= self.get(lesson).is_some_and(|e| e.read);
        self.set(lesson, entry);
    }
}

/// Changes the stored progress in `dir` (created if needed) under an exclusive lock: the file
/// is read anew, `change` applied, and the result written back in one rename. A file that
/// cannot be read as progress is left as it is and the change is refused.
pub fn update(dir: &Path, change: impl FnOnce(&mut Store)) -> Result<(), ProgressError> {
    let path = dir.join(FILE_NAME);
    let write_err = |err: io::Error| ProgressError::Write {
        path: path.clone(),
        err,
    };
    fs::create_dir_all(dir).map_err(write_err)?;
    let lock = open_lock(&dir.join(LOCK_NAME)).map_err(write_err)?;
    lock.lock().map_err(write_err)?;
    let mut store = Store::load(dir)?;
    change(&mut store);
    let text = serde_json::to_string_pretty(&store).map_err(io::Error::other);
    let written = text.and_then(|t| {
        replace_atomically(&path, |w| {
            w.write_all(t.as_bytes())?;
            w.write_all(b"\n")
        })
    });
    // The lock goes with the file handle; unlocking first only makes the order explicit.
    let _ = lock.unlock();
    written.map_err(write_err)
}

/// Opens (creating) the lock file. A FIFO put in its place would block the open until some
/// reader came, so it is opened without blocking and anything but a regular file is refused.
fn open_lock(path: &Path) -> io::Result<fs::File> {
    let not_regular = || {
        io::Error::other(format!(
            "{} is not a regular file; remove it",
            printable_line(&path.display().to_string())
        ))
    };
    if fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(not_regular());
    }
    let mut options = fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "attnstep-progress-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn at(step: usize, stage: usize) -> Entry {
        Entry {
            step,
            stage,
            ..Entry::default()
        }
    }

    #[test]
    fn missing_file_is_an_empty_store() {
        let dir = temp_dir("missing");
        assert_eq!(Store::load(&dir).unwrap(), Store::default());
    }

    #[test]
    fn updates_are_saved_per_lesson_and_leave_no_temporary_file() {
        let dir = temp_dir("roundtrip").join("nested");
        update(&dir, |s| {
            s.set(
                "gqa",
                Entry {
                    quiz: Some(QuizRecord {
                        correct: 3,
                        asked: 5,
                    }),
                    ..at(1, 4)
                },
            )
        })
        .unwrap();
        update(&dir, |s| s.mark_read("tour")).unwrap();
        let back = Store::load(&dir).unwrap();
        assert_eq!(back.get("gqa").unwrap().quiz.unwrap().correct, 3);
        assert_eq!(
            back.resumable("gqa").map(|e| (e.step, e.stage)),
            Some((1, 4))
        );
        assert!(back.get("tour").unwrap().done());
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| n.starts_with("progress.json")),
            "{names:?}"
        );
        let _ = fs::remove_dir_all(dir.parent().unwrap());
    }

    #[test]
    fn a_walk_after_reading_keeps_the_lesson_read() {
        let mut s = Store::default();
        s.mark_read("rope");
        s.record_walk("rope", at(0, 2));
        assert!(s.get("rope").unwrap().read);
        assert_eq!(s.get("rope").unwrap().status(), "[read]");
    }

    #[test]
    fn concurrent_updates_are_all_kept() {
        let dir = temp_dir("concurrent");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    for j in 0..5 {
                        update(&dir, |s| s.set(&format!("l{i}-{j}"), at(i, j))).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let store = Store::load(&dir).unwrap();
        assert_eq!(store.lessons.len(), 40, "every update kept");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unreadable_file_is_never_overwritten() {
        for (tag, text) in [
            ("corrupt", "{ not json"),
            ("newer", r#"{"format":"attnstep-progress/9","lessons":{}}"#),
        ] {
            let dir = temp_dir(tag);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(FILE_NAME), text).unwrap();
            let e = update(&dir, |s| s.mark_read("tour")).unwrap_err();
            assert!(matches!(e, ProgressError::Unreadable { .. }), "{e}");
            assert!(e.to_string().contains("progress.json"), "{e}");
            assert_eq!(fs::read_to_string(dir.join(FILE_NAME)).unwrap(), text);
            let _ = fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn a_huge_step_does_not_wrap_to_zero() {
        let e = at(usize::MAX, usize::MAX);
        assert_eq!(
            e.status(),
            "[stopped at step 18446744073709551616, stage 18446744073709551616]"
        );
    }

    #[test]
    fn the_file_is_plain_json_with_a_format_tag() {
        let dir = temp_dir("format");
        update(&dir, |s| s.set("rope", at(2, 0))).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("progress.json")).unwrap()).unwrap();
        assert_eq!(v["format"], "attnstep-progress/1");
        assert_eq!(v["lessons"]["rope"]["step"], 2);
        assert!(v["lessons"]["rope"].get("quiz").is_none());
        assert!(v["lessons"]["rope"].get("read").is_none());
        let _ = fs::remove_dir_all(&dir);
    }
}
