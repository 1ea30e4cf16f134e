//! The one way the integration tests run the binary: a clean, predictable environment.

use std::path::{Path, PathBuf};

/// Variables that change what attnstep prints, removed so the machine's settings cannot leak
/// into a test (a test that needs one sets it).
const CLEARED: &[&str] = &[
    "RUST_BACKTRACE",
    "NO_COLOR",
    "CLICOLOR_FORCE",
    "FORCE_COLOR",
    "COLUMNS",
    "LINES",
    "TERM",
];

/// The crate root: tests run the binary from there, so fixture paths in messages are short.
pub fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty state directory (where progress is kept) for one test.
pub fn state_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attnstep-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The attnstep binary as a plain `std::process::Command` (for pseudo-terminal tests): run
/// from the crate root, with the variables above cleared and its own state directory.
pub fn command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_attnstep"));
    for key in CLEARED {
        cmd.env_remove(key);
    }
    cmd.current_dir(manifest_dir()).env(
        "ATTNSTEP_STATE_DIR",
        std::env::temp_dir().join(format!("attnstep-it-state-{}", std::process::id())),
    );
    cmd
}

/// [`command`] as an `assert_cmd` command.
pub fn attnstep() -> assert_cmd::Command {
    assert_cmd::Command::from_std(command())
}

/// Asserts that a finished command exited 0, showing its stderr if it did not.
pub fn assert_success(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
