//! Helpers shared by the integration tests.

use assert_cmd::Command;

/// The attnstep binary with a clean, predictable environment.
pub fn attnstep() -> Command {
    let mut cmd = Command::cargo_bin("attnstep").expect("binary builds");
    cmd.env_remove("RUST_BACKTRACE")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("FORCE_COLOR")
        .env("NO_COLOR", "1")
        .env(
            "ATTNSTEP_STATE_DIR",
            std::env::temp_dir().join("attnstep-test-state"),
        );
    cmd
}
