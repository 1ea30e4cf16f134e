//! The lesson commands end to end: every bundled lesson checks and runs, bad lesson files get
//! located messages and exit 2, flags override the lesson, progress is kept in the state dir.

use std::path::Path;

use predicates::prelude::*;

use crate::support::{self, manifest_dir, state_dir};

const NAMES: [&str; 12] = [
    "tour",
    "heads",
    "scores",
    "causal",
    "padding",
    "kv-cache",
    "chunked-prefill",
    "gqa",
    "mqa",
    "rope",
    "minimind2",
    "minimind3",
];

/// `attnstep` with its own state directory.
fn attnstep(state: &Path) -> assert_cmd::Command {
    let mut cmd = support::attnstep();
    cmd.env("ATTNSTEP_STATE_DIR", state);
    cmd
}

fn stdout_of(args: &[&str], state: &Path) -> String {
    let out = attnstep(state).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "attnstep {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `attnstep ARGS` and returns its stderr after checking it failed with status 2.
fn usage_error(args: &[&str]) -> String {
    let out = attnstep(&state_dir("errors")).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "attnstep {args:?}");
    assert!(out.stdout.is_empty(), "nothing may half-run: {args:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn lessons_check_passes_on_every_bundled_lesson() {
    let out = stdout_of(&["lessons", "check"], &state_dir("check"));
    assert_eq!(out.lines().count(), 12);
    for (i, line) in out.lines().enumerate() {
        assert!(
            line.starts_with(&format!("ok  lessons/{:02}-{}.toml", i + 1, NAMES[i])),
            "{line}"
        );
    }
    // The same files checked from disk, as a lesson author would.
    let files: Vec<String> = (0..12)
        .map(|i| format!("lessons/{:02}-{}.toml", i + 1, NAMES[i]))
        .collect();
    let mut args = vec!["lessons", "check"];
    args.extend(files.iter().map(String::as_str));
    assert_eq!(
        stdout_of(&args, &state_dir("check-files")).lines().count(),
        12
    );
}

#[test]
fn every_bundled_lesson_runs_to_the_end_with_snapshots_of_first_and_last_screens() {
    let state = state_dir("snapshots");
    for (i, name) in NAMES.iter().enumerate() {
        let by_number = stdout_of(&["lesson", &(i + 1).to_string(), "--all"], &state);
        let by_name = stdout_of(&["lesson", name, "--all"], &state);
        assert_eq!(by_number, by_name, "{name}");
        let lines: Vec<&str> = by_name.lines().collect();
        assert!(lines.len() > 40, "{name} is too short to be a lesson");
        let first = lines[..40].join("\n");
        let last = lines[lines.len() - 40..].join("\n");
        insta::assert_snapshot!(format!("lesson_{:02}_{name}_first", i + 1), first);
        insta::assert_snapshot!(format!("lesson_{:02}_{name}_last", i + 1), last);
    }
    // Each lesson printed to the end counts as read (issue 12, item 4).
    let list = stdout_of(&["lessons"], &state);
    for (i, name) in NAMES.iter().enumerate() {
        let line = list
            .lines()
            .find(|l| l.starts_with(&format!("{:>3}  {name} ", i + 1)))
            .unwrap();
        assert!(line.ends_with("[read]"), "{line}");
    }
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn lessons_lists_the_course_in_order() {
    let out = stdout_of(&["lessons"], &state_dir("list"));
    let mut at = 0;
    for (i, name) in NAMES.iter().enumerate() {
        let entry = format!("{:>3}  {name} ", i + 1);
        let pos = out[at..]
            .find(&entry)
            .unwrap_or_else(|| panic!("{entry:?} missing or out of order"));
        at += pos + entry.len();
    }
    insta::assert_snapshot!("lessons_list", out);
}

#[test]
fn no_arguments_outside_a_terminal_prints_the_welcome_and_exits_0() {
    let out = stdout_of(&[], &state_dir("welcome"));
    assert!(
        out.starts_with("attnstep: learn how attention works"),
        "{out}"
    );
    for name in NAMES {
        assert!(out.contains(name), "{name} missing from the welcome");
    }
    assert!(out.contains("attnstep lesson 1"));
    insta::assert_snapshot!("welcome_not_a_terminal", out);
}

#[test]
fn lessons_show_prints_the_bundled_source() {
    let shown = stdout_of(&["lessons", "show", "gqa"], &state_dir("show"));
    let file = std::fs::read_to_string(manifest_dir().join("lessons/08-gqa.toml")).unwrap();
    assert_eq!(shown, file);

    // A teacher's round trip: copy, change a value, run the copy.
    let dir = state_dir("teacher");
    std::fs::create_dir_all(&dir).unwrap();
    let mine = dir.join("mine.toml");
    assert!(shown.contains("num_kv_heads = 2\n"));
    std::fs::write(
        &mine,
        shown.replace("num_kv_heads = 2\n", "num_kv_heads = 4\n"),
    )
    .unwrap();
    let mine = mine.to_str().unwrap();
    stdout_of(&["lessons", "check", mine], &dir);
    let out = stdout_of(&["lesson", mine, "--all"], &dir);
    // 8 query heads over 4 KV heads of 48 / 8 = 6 numbers.
    assert!(
        out.contains("[bsz=1, seq_len=3, n_kv_heads=4, head_dim=6]"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_key_is_located_with_a_suggestion() {
    assert_eq!(
        usage_error(&["lesson", "tests/it/fixtures/unknown-key.toml"]),
        "attnstep: error: tests/it/fixtures/unknown-key.toml:7:1: unknown key \"num_head\", \
         did you mean \"num_heads\"?\n"
    );
    // `lessons check` reports the same and also exits 2.
    assert_eq!(
        usage_error(&["lessons", "check", "tests/it/fixtures/unknown-key.toml"]),
        "attnstep: error: tests/it/fixtures/unknown-key.toml:7:1: unknown key \"num_head\", \
         did you mean \"num_heads\"?\n"
    );
}

#[test]
fn wrong_type_is_located_and_names_the_key() {
    assert_eq!(
        usage_error(&["lesson", "tests/it/fixtures/wrong-type.toml"]),
        "attnstep: error: tests/it/fixtures/wrong-type.toml:6:15: hidden_size must be a whole \
         number (0 or more), but it is the text \"8\"\n"
    );
}

#[test]
fn invalid_config_gets_the_same_message_worded_for_flags_or_for_the_file() {
    let cli = usage_error(&[
        "run",
        "--hidden-size",
        "16",
        "--num-heads",
        "4",
        "--num-kv-heads",
        "3",
    ]);
    let rule = "num_attention_heads (4) must be divisible by num_key_value_heads (3)";
    assert!(
        cli.starts_with(&format!("attnstep: error: {rule}")),
        "{cli}"
    );
    assert!(
        cli.ends_with("Use --num-kv-heads 1, 2 or 4 (the divisors of 4)\n"),
        "{cli}"
    );
    let file = usage_error(&["lesson", "tests/it/fixtures/invalid-config.toml"]);
    assert!(
        file.starts_with(&format!(
            "attnstep: error: tests/it/fixtures/invalid-config.toml:8:1: {rule}"
        )),
        "{file}"
    );
    assert!(
        file.ends_with("Use num_kv_heads 1, 2 or 4 (the divisors of 4)\n"),
        "{file}"
    );
    // Everything between the rule and the advice is the same text.
    let strip =
        |m: &str, advice: &str| m[m.find(rule).unwrap()..m.find(advice).unwrap()].to_owned();
    assert_eq!(
        strip(&cli, "Use --num-kv-heads"),
        strip(&file, "Use num_kv_heads")
    );
}

#[test]
fn mask_of_the_wrong_length_points_at_the_short_row() {
    let err = usage_error(&["lesson", "tests/it/fixtures/mask-length.toml"]);
    assert!(
        err.starts_with(
            "attnstep: error: tests/it/fixtures/mask-length.toml:8:27: attention_mask row 1 \
             has 3 entries but the steps cover 4 tokens"
        ),
        "{err}"
    );
}

#[test]
fn unknown_stage_name_is_located_with_a_suggestion() {
    let err = usage_error(&["lessons", "check", "tests/it/fixtures/unknown-stage.toml"]);
    assert!(
        err.starts_with(
            "attnstep: error: tests/it/fixtures/unknown-stage.toml:6:9: unknown stage \"softmx\", \
             did you mean \"softmax\"?"
        ),
        "{err}"
    );
}

#[test]
fn missing_file_and_unknown_name_are_usage_errors() {
    let err = usage_error(&["lesson", "tests/it/fixtures/nope.toml"]);
    assert!(
        err.starts_with("attnstep: error: cannot read lesson file tests/it/fixtures/nope.toml: "),
        "{err}"
    );
    let err = usage_error(&["lesson", "gqx"]);
    assert!(err.contains("did you mean \"gqa\"") || err.contains("Did you mean \"gqa\""));
    assert!(
        err.contains("1 tour") && err.contains("12 minimind3"),
        "{err}"
    );
    usage_error(&["lesson", "13"]);
}

#[test]
fn flags_override_the_lesson() {
    let state = state_dir("precedence");
    let mine = "tests/it/fixtures/mine.toml";
    // The lesson alone: hidden 8 over 2 heads is head_dim 4, 3 tokens.
    let plain = stdout_of(&["lesson", mine, "--all"], &state);
    assert!(
        plain.contains("[bsz=1, seq_len=3, n_heads=2, head_dim=4]"),
        "{plain}"
    );
    assert!(plain.contains("NOTE ON SCORES"));
    // --hidden-size 16 over the lesson's 8: head_dim 16 / 2 = 8.
    let wide = stdout_of(&["lesson", mine, "--all", "--hidden-size", "16"], &state);
    assert!(
        wide.contains("[bsz=1, seq_len=3, n_heads=2, head_dim=8]"),
        "{wide}"
    );
    // The lesson's own head (1) no longer exists with one head: falls back to head 0.
    let one = stdout_of(
        &[
            "lesson",
            mine,
            "--all",
            "--num-heads",
            "1",
            "--num-kv-heads",
            "1",
        ],
        &state,
    );
    assert!(
        one.contains("[bsz=1, seq_len=3, n_heads=1, head_dim=8]"),
        "{one}"
    );
    // A longer run than the lesson's tokens: positions are numbered instead of failing.
    let long = stdout_of(&["lesson", mine, "--all", "--seq-len", "5"], &state);
    assert!(
        long.contains("[bsz=1, seq_len=5, n_heads=2, head_dim=4]"),
        "{long}"
    );
    // An explicit --head out of range is still the user's mistake.
    let err = usage_error(&["lesson", mine, "--all", "--head", "2"]);
    assert!(err.contains("--head 2 is out of range"), "{err}");
    // The issue's example: the GQA lesson (8 query heads, 2 KV heads of 6) turned into MQA.
    let gqa = stdout_of(&["lesson", "gqa", "--all"], &state);
    assert!(gqa.contains("[bsz=1, seq_len=3, n_kv_heads=2, head_dim=6]"));
    let mqa = stdout_of(&["lesson", "gqa", "--all", "--num-kv-heads", "1"], &state);
    assert!(
        mqa.contains("[bsz=1, seq_len=3, n_kv_heads=1, head_dim=6]"),
        "{mqa}"
    );
    assert!(!mqa.contains("n_kv_heads=2"));
}

#[test]
fn progress_is_saved_per_lesson_and_shown_in_the_list() {
    let state = state_dir("progress");
    attnstep(&state)
        .args(["lesson", "scores"])
        .assert()
        .success();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("progress.json")).unwrap())
            .unwrap();
    assert_eq!(saved["lessons"]["scores"]["finished"], true);
    assert!(saved["lessons"].get("tour").is_none());
    let list = stdout_of(&["lessons"], &state);
    let line = list.lines().find(|l| l.starts_with("  3  scores")).unwrap();
    assert!(line.ends_with("[done]"), "{line}");
    attnstep(&state)
        .args(["lesson", "scores", "--restart"])
        .assert()
        .success()
        .stderr(predicate::str::is_empty());
    let _ = std::fs::remove_dir_all(&state);
}

/// Interactive behaviour, in a pseudo-terminal.
#[cfg(unix)]
mod terminal {
    use super::*;
    use expectrl::session::OsSession;
    use expectrl::{Eof, Expect, Session};
    use std::time::Duration;

    fn spawn(args: &[&str], state: &Path) -> OsSession {
        let mut cmd = support::command();
        cmd.args(args)
            .env("ATTNSTEP_STATE_DIR", state)
            .env("NO_COLOR", "1");
        let mut s = Session::spawn(cmd).unwrap();
        s.set_expect_timeout(Some(Duration::from_secs(20)));
        s
    }

    fn save_progress(state: &Path, json: &str) {
        std::fs::create_dir_all(state).unwrap();
        std::fs::write(state.join("progress.json"), json).unwrap();
    }

    #[test]
    fn welcome_waits_for_enter_and_q_quits() {
        let state = state_dir("tty-welcome");
        let mut s = spawn(&[], &state);
        s.expect("attnstep: learn how attention works").unwrap();
        s.expect("Press Enter to start lesson 1 (tour)").unwrap();
        s.send_line("q").unwrap();
        s.expect(Eof).unwrap();
    }

    #[test]
    fn welcome_offers_the_first_unfinished_lesson() {
        let state = state_dir("tty-next");
        save_progress(
            &state,
            r#"{"format":"attnstep-progress/1","lessons":{"tour":{"step":0,"stage":12,"finished":true}}}"#,
        );
        let mut s = spawn(&[], &state);
        s.expect("Press Enter to start lesson 2 (heads)").unwrap();
        s.send_line("q").unwrap();
        s.expect(Eof).unwrap();
        let _ = std::fs::remove_dir_all(&state);
    }

    #[test]
    fn an_unfinished_lesson_offers_to_resume_unless_restarted() {
        let state = state_dir("tty-resume");
        // Stopped at stage index 3 of step 0: the tour's fourth stage is rope.
        let saved = r#"{"format":"attnstep-progress/1","lessons":{"tour":{"step":0,"stage":3,"finished":false}}}"#;
        save_progress(&state, saved);
        let mut s = spawn(&["lesson", "tour"], &state);
        s.expect("Resume lesson 1 (tour) at step 1, stage 4 (rope)? [Y/n]")
            .unwrap();
        s.send_line("n").unwrap();
        s.expect("Welcome to the course").unwrap();
        drop(s);

        save_progress(&state, saved);
        let mut s = spawn(&["lesson", "tour", "--restart"], &state);
        let before = s.expect("Welcome to the course").unwrap();
        assert!(
            !String::from_utf8_lossy(before.before()).contains("Resume"),
            "--restart must not offer to resume"
        );
        drop(s);
        let _ = std::fs::remove_dir_all(&state);
    }
}
