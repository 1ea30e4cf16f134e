//! Self-study progress: where a learner stopped in each lesson, whether they finished it, and
//! their quiz score. Stored as one small JSON file in the platform state directory
//! (`$XDG_STATE_HOME/attnstep` on Linux, the local data directory elsewhere);
//! `ATTNSTEP_STATE_DIR` overrides the directory, which the tests use.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The environment variable that overrides the state directory.
pub const STATE_DIR_ENV: &str = "ATTNSTEP_STATE_DIR";
const FILE_NAME: &str = "progress.json";
const FORMAT: &str = "attnstep-progress/1";

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
    /// Quiz answers that were right, and answers given, over the last walk with `--quiz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiz: Option<QuizRecord>,
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

impl Store {
    /// Reads the store from `dir`. A missing file is an empty store; an unreadable or corrupt
    /// one is an error the caller may report and then ignore.
    pub fn load(dir: &Path) -> io::Result<Store> {
        let path = dir.join(FILE_NAME);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Store::default()),
            Err(e) => return Err(e),
        };
        let store: Store = serde_json::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a progress file ({e})", path.display()),
            )
        })?;
        if store.format != FORMAT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} has format '{}', expected '{FORMAT}'",
                    path.display(),
                    store.format
                ),
            ));
        }
        Ok(store)
    }

    /// Writes the store into `dir` (created if needed), replacing the file in one rename so a
    /// crash never leaves half a file.
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        let text = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        fs::write(&tmp, text + "\n")?;
        fs::rename(&tmp, &path)
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

    #[test]
    fn missing_file_is_an_empty_store() {
        let dir = temp_dir("missing");
        let store = Store::load(&dir).unwrap();
        assert_eq!(store, Store::default());
        assert!(store.get("tour").is_none());
    }

    #[test]
    fn saves_and_loads_per_lesson() {
        let dir = temp_dir("roundtrip").join("nested");
        let mut store = Store::default();
        store.set(
            "gqa",
            Entry {
                step: 1,
                stage: 4,
                finished: false,
                quiz: Some(QuizRecord {
                    correct: 3,
                    asked: 5,
                }),
            },
        );
        store.set(
            "tour",
            Entry {
                finished: true,
                ..Entry::default()
            },
        );
        store.save(&dir).unwrap();
        let back = Store::load(&dir).unwrap();
        assert_eq!(back, store);
        assert_eq!(back.get("gqa").unwrap().quiz.unwrap().correct, 3);
        assert_eq!(
            back.resumable("gqa").map(|e| (e.step, e.stage)),
            Some((1, 4))
        );
        assert!(
            back.resumable("tour").is_none(),
            "finished lessons are not resumed"
        );
        assert!(!dir.join("progress.json.tmp").exists());
        let _ = fs::remove_dir_all(dir.parent().unwrap());
    }

    #[test]
    fn clear_forgets_one_lesson_only() {
        let mut store = Store::default();
        store.set("a", Entry::default());
        store.set("b", Entry::default());
        store.clear("a");
        assert!(store.get("a").is_none() && store.get("b").is_some());
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_panic() {
        let dir = temp_dir("corrupt");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("progress.json"), "{ not json").unwrap();
        let err = Store::load(&dir).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        fs::write(
            dir.join("progress.json"),
            r#"{"format":"other/9","lessons":{}}"#,
        )
        .unwrap();
        assert!(Store::load(&dir).is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_file_is_plain_json_with_a_format_tag() {
        let dir = temp_dir("format");
        let mut store = Store::default();
        store.set(
            "rope",
            Entry {
                step: 2,
                stage: 0,
                finished: false,
                quiz: None,
            },
        );
        store.save(&dir).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("progress.json")).unwrap()).unwrap();
        assert_eq!(v["format"], "attnstep-progress/1");
        assert_eq!(v["lessons"]["rope"]["step"], 2);
        assert!(v["lessons"]["rope"].get("quiz").is_none());
        let _ = fs::remove_dir_all(&dir);
    }
}
