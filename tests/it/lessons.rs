//! The lesson commands end to end: every bundled lesson checks and runs, bad lesson files get
//! located messages and exit 2, flags override the lesson, progress is kept in the state dir.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::support::{self, manifest_dir, state_dir};

const NAMES: [&str; 15] = [
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
    "mha-gqa-mqa",
    "trained-heads",
    "induction",
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

/// The debugging section (issue 15), after the course.
const BUG_HUNTS: [&str; 6] = [
    "bug-scale",
    "bug-softmax",
    "bug-causal",
    "bug-rope",
    "bug-repeat-kv",
    "bug-view",
];

#[test]
fn lessons_check_passes_on_every_bundled_lesson() {
    let all: Vec<&str> = NAMES.iter().chain(&BUG_HUNTS).copied().collect();
    let out = stdout_of(&["lessons", "check"], &state_dir("check"));
    assert_eq!(out.lines().count(), all.len());
    for (i, line) in out.lines().enumerate() {
        assert!(
            line.starts_with(&format!("ok  lessons/{:02}-{}.toml", i + 1, all[i])),
            "{line}"
        );
    }
    // The same files checked from disk, as a lesson author would.
    let files: Vec<String> = (0..all.len())
        .map(|i| format!("lessons/{:02}-{}.toml", i + 1, all[i]))
        .collect();
    let mut args = vec!["lessons", "check"];
    args.extend(files.iter().map(String::as_str));
    assert_eq!(
        stdout_of(&args, &state_dir("check-files")).lines().count(),
        all.len()
    );
}

#[test]
fn the_bug_hunts_are_listed_in_their_own_section_after_the_course() {
    let out = stdout_of(&["lessons"], &state_dir("list-hunts"));
    let section = out
        .find("Debugging attention:")
        .expect("the section heading");
    let course_end = out
        .find(&format!("{:>3}  {} ", NAMES.len(), NAMES[NAMES.len() - 1]))
        .unwrap();
    assert!(course_end < section, "{out}");
    for (i, name) in BUG_HUNTS.iter().enumerate() {
        let at = out
            .find(&format!("{:>3}  {name} ", NAMES.len() + 1 + i))
            .unwrap_or_else(|| panic!("{name} missing: {out}"));
        assert!(at > section, "{name} listed before its section");
    }
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
    usage_error(&["lesson", "22"]);
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

// ---------------------------------------------------------------------------------------------
// Issue 10's defects in lesson files and the progress store (the item number in each comment).

/// A scratch directory holding files a test writes.
fn scratch(tag: &str) -> PathBuf {
    let dir = state_dir(tag);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A lesson whose texts carry OSC 0 (window title), OSC 52 (clipboard) and a screen clear.
const HOSTILE: &str = "format_version = 1\n\
    title = \"Hostile \\u001b]0;owned\\u0007\"\n\
    summary = \"Sets the title\\u001b]52;c;aGk=\\u0007\"\n\
    welcome = \"Welcome\\u001b[2J\"\n\
    closing = \"Bye\\u009b2J\"\n\
    [config]\nseq_len = 2\ntokens = \"x\\u001b]0;t\\u0007 y\"\n\
    [[notes]]\nstage = \"scores\"\ntext = \"Note \\u001b]0;n\\u0007\"\n";

#[test]
fn lesson_text_cannot_send_escape_sequences() {
    // Item 9: in colour and without, through `lesson --all` and `lessons check`.
    let dir = scratch("hostile");
    let file = dir.join("hostile.toml");
    std::fs::write(&file, HOSTILE).unwrap();
    let path = file.to_str().unwrap();
    for color in ["never", "always"] {
        let out = attnstep(&dir)
            .args(["lesson", path, "--all", "--color", color])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("\x1b]") && !text.contains('\x07') && !text.contains('\u{9b}'));
        assert!(text.contains("Hostile \\u{1b}]0;owned\\u{7}"), "{text}");
        assert!(text.contains("Note \\u{1b}]0;n\\u{7}"), "{text}");
        if color == "never" {
            assert!(!text.contains('\x1b'), "--color never");
        }
    }
    let checked = stdout_of(&["lessons", "check", path], &dir);
    assert!(!checked.contains('\x1b'), "{checked}");
    // A file name with an escape in it (not a valid name on Windows), and an error quoting a
    // hostile key.
    #[cfg(unix)]
    {
        let named = dir.join("evil\x1b]0;t\x07.toml");
        std::fs::write(
            &named,
            HOSTILE.replace("[config]", "[config]\n\"\\u001b[2J\" = 1"),
        )
        .unwrap();
        let out = attnstep(&dir)
            .args(["lessons", "check", named.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            !out.stderr.contains(&0x1b),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("evil\\u{1b}]0;t\\u{7}.toml:7:1: unknown key")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn lesson_files_that_are_not_small_regular_files_are_refused() {
    // Item 6: /dev/zero grew without bound, a FIFO blocked forever.
    let dir = scratch("not-files");
    let fifo = dir.join("fifo.toml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let big = dir.join("big.toml");
    std::fs::write(&big, format!("# {}\n", "x".repeat(2 << 20))).unwrap();
    let cases = [
        ("/dev/zero", "it is a device, not a regular file"),
        (
            fifo.to_str().unwrap(),
            "it is a FIFO (named pipe), not a regular file",
        ),
        (big.to_str().unwrap(), "it is larger than 1 MiB"),
        (
            dir.to_str().unwrap(),
            "it is a directory, not a regular file",
        ),
    ];
    for (path, why) in cases {
        for args in [&["lessons", "check", path][..], &["lesson", path]] {
            let err = usage_error(args);
            assert!(
                err.starts_with(&format!(
                    "attnstep: error: cannot read lesson file {path}: {why}"
                )),
                "{err}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_utf8_is_located_at_its_first_bad_byte() {
    // Item 14.
    let dir = scratch("utf8");
    let file = dir.join("latin1.toml");
    std::fs::write(
        &file,
        b"format_version = 1\ntitle = \"Caf\xe9\"\nsummary = \"S\"\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let err = usage_error(&["lessons", "check", path]);
    assert!(
        err.starts_with(&format!(
            "attnstep: error: {path}:2:13: this is not UTF-8 text"
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn read_progress(state: &Path) -> String {
    std::fs::read_to_string(state.join("progress.json")).unwrap()
}

#[test]
fn an_unreadable_progress_file_is_kept_and_named() {
    // Item 10: a corrupt or newer-format file was warned about, then overwritten.
    for (tag, text) in [
        ("corrupt", "{ \"format\": \"attnstep-progress/1\", \"less"),
        (
            "newer",
            r#"{"format":"attnstep-progress/2","lessons":{"tour":{"stars":5}}}"#,
        ),
    ] {
        let state = scratch(&format!("progress-{tag}"));
        std::fs::write(state.join("progress.json"), text).unwrap();
        let out = attnstep(&state)
            .args(["lesson", "scores"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        let path = state.join("progress.json");
        assert!(
            err.contains(&format!("progress file {}", path.display())),
            "the file is named: {err}"
        );
        assert!(err.contains("your progress was not saved"), "{err}");
        assert_eq!(read_progress(&state), text, "left as it was");
        let _ = std::fs::remove_dir_all(&state);
    }
}

#[cfg(unix)]
#[test]
fn a_progress_file_that_is_a_device_or_fifo_neither_hangs_nor_grows() {
    // Item 6: progress.json symlinked to /dev/zero, or a FIFO.
    let state = scratch("progress-device");
    std::os::unix::fs::symlink("/dev/zero", state.join("progress.json")).unwrap();
    let out = attnstep(&state).args(["lessons"]).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("progress.json: it is a device, not a regular file"),
        "{err}"
    );
    std::fs::remove_file(state.join("progress.json")).unwrap();
    let fifo = state.join("progress.json");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = attnstep(&state)
        .args(["lesson", "tour", "--all"])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a FIFO (named pipe), not a regular file"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn a_crafted_huge_step_is_shown_as_it_is() {
    // Item 10: usize::MAX + 1 wrapped to "step 0".
    let state = scratch("progress-huge");
    std::fs::write(
        state.join("progress.json"),
        r#"{"format":"attnstep-progress/1","lessons":{"tour":{"step":18446744073709551615,"stage":3,"finished":false}}}"#,
    )
    .unwrap();
    let list = stdout_of(&["lessons"], &state);
    let line = list.lines().find(|l| l.starts_with("  1  tour")).unwrap();
    assert!(
        line.ends_with("[stopped at step 18446744073709551616, stage 4]"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn concurrent_runs_keep_every_update() {
    // Item 10: 60 runs at once recorded 10 of 12 lessons, and some said "No such file".
    let state = scratch("progress-concurrent");
    let children: Vec<_> = NAMES
        .iter()
        .flat_map(|name| [*name; 3])
        .map(|name| {
            let mut cmd = support::command();
            cmd.args(["lesson", name, "--all"])
                .env("ATTNSTEP_STATE_DIR", &state)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let saved: serde_json::Value = serde_json::from_str(&read_progress(&state)).unwrap();
    for name in NAMES {
        assert_eq!(saved["lessons"][name]["read"], true, "{name}");
    }
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn the_welcome_offers_the_first_lesson_not_read() {
    // Issue 12, item 4: lessons read with --all count.
    let state = state_dir("welcome-read");
    for name in ["tour", "heads"] {
        stdout_of(&["lesson", name, "--all"], &state);
    }
    let welcome = stdout_of(&[], &state);
    assert!(
        welcome.contains("Start the course with `attnstep lesson 3`."),
        "{welcome}"
    );
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
        // A terminal that can draw in place (with TERM unset the stepper walks in lines).
        cmd.args(args)
            .env("ATTNSTEP_STATE_DIR", state)
            .env("NO_COLOR", "1")
            .env("TERM", "xterm");
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
    fn a_bad_answer_to_the_welcome_is_one_plain_error() {
        // Issue 10, item 14: `-x` printed `error: error: unexpected argument`.
        let state = state_dir("tty-dash");
        let mut s = spawn(&[], &state);
        s.expect("or q to quit: ").unwrap();
        s.send_line("-x").unwrap();
        let m = s.expect("no bundled lesson is called \"-x\"").unwrap();
        let before = String::from_utf8_lossy(m.before()).into_owned();
        assert!(before.ends_with("attnstep: error: "), "{before:?}");
        assert!(!before.contains("error: error:"), "{before:?}");
        s.expect(Eof).unwrap();
        let _ = std::fs::remove_dir_all(&state);
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

// ---------------------------------------------------------------------------------------------
// Issue 12: lesson text that stays true. Each command of "What they found" is run, and the
// numbers its notes state are compared with the numbers its own banners and tables show.

/// The stage sections of a printed lesson, each from its banner to the next.
fn sections(out: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = out.match_indices("━━ stage ").map(|(i, _)| i).collect();
    starts.push(out.len());
    starts.windows(2).map(|w| &out[w[0]..w[1]]).collect()
}

/// The number right after `prefix` in `text` (the first occurrence), `*` marks skipped.
fn number_after(text: &str, prefix: &str) -> Option<usize> {
    let i = text.find(prefix)? + prefix.len();
    let rest = text[i..].trim_start_matches('*');
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Every number after `prefix` in `text`.
fn numbers_after(text: &str, prefix: &str) -> Vec<usize> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| number_after(&text[i..], prefix))
        .collect()
}

/// A section's banner: (first position, last position, tokens cached before the call).
fn banner(section: &str) -> (usize, usize, usize) {
    let line = section.lines().next().unwrap();
    let cached = number_after(line, "after ").unwrap_or(0);
    match number_after(line, "positions ") {
        Some(first) => (first, number_after(line, "…").unwrap(), cached),
        None => {
            let p = number_after(line, "position ").unwrap();
            (p, p, cached)
        }
    }
}

/// The lesson notes of a section (they come after its tables), each as one line of text.
fn notes(section: &str) -> Vec<String> {
    section
        .split("✎ ")
        .skip(1)
        .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Text with every run of white space made one space, so a wrapped phrase can be found.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn chunked_prefill_notes_follow_other_steps() {
    let out = stdout_of(
        &["lesson", "chunked-prefill", "--steps", "2,5,1", "--all"],
        &state_dir("issue12-chunk"),
    );
    let mut checked = 0;
    for s in sections(&out) {
        let (first, last, cached) = banner(s);
        for note in notes(s) {
            if let Some(past) = number_after(&note, "past_len = ") {
                assert_eq!(past, cached, "{note}\n{s}");
                assert_eq!(
                    number_after(&note, "seq_len = "),
                    Some(last - first + 1),
                    "{note}"
                );
                assert_eq!(number_after(&note, "kv_len = "), Some(last + 1), "{note}");
                checked += 1;
            }
            if note.contains("the first new query") {
                assert_eq!(
                    number_after(&note, "\" at position "),
                    Some(first),
                    "{note}"
                );
                assert_eq!(number_after(&note, "sees keys 0…"), Some(first), "{note}");
                assert_eq!(number_after(&note, "sees all "), Some(last + 1), "{note}");
                checked += 1;
            }
        }
    }
    // The chunk and the decode call's cache notes, and the chunk's mask note.
    assert_eq!(checked, 3, "{out}");
}

#[test]
fn heads_notes_follow_the_number_of_heads_and_the_head_shown() {
    let out = stdout_of(
        &[
            "lesson",
            "heads",
            "--num-heads",
            "6",
            "--num-kv-heads",
            "6",
            "--head",
            "4",
            "--all",
        ],
        &state_dir("issue12-heads"),
    );
    let split = sections(&out)
        .into_iter()
        .find(|s| s.contains("split_heads · "))
        .unwrap();
    let shape = split.lines().find(|l| l.contains("→ xq_heads")).unwrap();
    let (heads, dim) = (
        number_after(shape, "n_heads=").unwrap(),
        number_after(shape, "head_dim=").unwrap(),
    );
    let note = notes(split).remove(0);
    let view: Vec<usize> = note["view(".len()..note.find(')').unwrap()]
        .split(", ")
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(&view[2..], &[heads, dim], "{note}");
    assert!(
        note.contains(&format!("as {heads} groups of {dim}")),
        "{note}"
    );
    // The head the tables show is the head the notes name.
    let scores = sections(&out)
        .into_iter()
        .find(|s| s.contains("scores · "))
        .unwrap();
    let shown = number_after(scores, "scores[b=0, h=").unwrap();
    let said = notes(scores)
        .iter()
        .find_map(|n| number_after(n, "You are looking at head "))
        .unwrap();
    assert_eq!(said, shown);
}

#[test]
fn padding_notes_describe_the_batch_row_shown() {
    for row in ["0", "1"] {
        let out = stdout_of(
            &["lesson", "padding", "--batch-index", row, "--all"],
            &state_dir("issue12-padding"),
        );
        let mut checked = 0;
        for s in sections(&out) {
            let tables = numbers_after(s, "[b=");
            for note in notes(s) {
                if let Some(said) = number_after(&note, "Batch row ") {
                    assert!(tables.iter().all(|&b| b == said), "{s}");
                    // The mask the note quotes is that row's, and the blocked keys its zeros.
                    let mask = &note[note.find("(\"").unwrap() + 2..];
                    let mask = &mask[..mask.find('"').unwrap()];
                    assert_eq!(mask, ["00111", "11110"][said], "{note}");
                    checked += 1;
                }
            }
        }
        assert!(
            checked >= 2,
            "padding_mask and softmax notes for row {row}: {out}"
        );
    }
}

#[test]
fn gqa_notes_follow_the_kv_heads_given() {
    for kv in ["1", "2", "4"] {
        let out = stdout_of(
            &[
                "lesson",
                "gqa",
                "--num-kv-heads",
                kv,
                "--head",
                "5",
                "--all",
            ],
            &state_dir("issue12-gqa"),
        );
        let mut checked = 0;
        for s in sections(&out) {
            let Some(n_kv) = number_after(s, "n_kv_heads=") else {
                continue;
            };
            let n_rep = number_after(s, " n_rep=").unwrap();
            for note in notes(s) {
                if let Some(said) = number_after(&note, "split into just ") {
                    assert_eq!(said, n_kv, "{note}");
                    checked += 1;
                }
                if let Some(h) = number_after(&note, "query head ")
                    && let Some(k) = number_after(&note, "reads KV head ")
                {
                    assert_eq!((h, k), (5, 5 / n_rep), "{note}");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 2, "--num-kv-heads {kv}: {out}");
    }
}

/// A lesson file written to a scratch directory.
fn lesson_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn lessons_check_refuses_what_would_never_be_shown() {
    let dir = scratch("issue12-check");
    let head = "format_version = 1\ntitle = \"T\"\nsummary = \"S\"\n\
                stages = [\"scores\", \"softmax\"]\n[config]\nsteps = [3, 1]\ntokens = \"a b c d\"\n";
    let cases = [
        (
            "[[notes]]\nstage = \"causal_mask\"\ntext = \"x\"\n",
            "9:9: this note is on stage \"causal_mask\", which the lesson's stages",
        ),
        (
            "[[hints]]\nstage = \"softmax\"\ntext = \"x\"\n",
            "9:9: stage \"softmax\" asks no question in this lesson, so this hint would never be shown",
        ),
        (
            "[[notes]]\nstage = \"scores\"\nstep = 3\ntext = \"x\"\n",
            "10:8: step 3 is out of range: this lesson has 2 step(s)",
        ),
        (
            "[[notes]]\nstage = \"scores\"\ntext = \"at {past_len} and {token:9}\"\n",
            "10:27: {token:9} names position 9, but this lesson has 4 token(s)",
        ),
        (
            "[[notes]]\nstage = \"scores\"\ntext = \"kv {kv_lne}\"\n",
            "10:12: unknown placeholder `kv_lne`, did you mean `kv_len`?",
        ),
    ];
    for (i, (tail, want)) in cases.iter().enumerate() {
        let file = lesson_file(&dir, &format!("case{i}.toml"), &format!("{head}{tail}"));
        let err = usage_error(&["lessons", "check", &file]);
        assert!(
            err.starts_with(&format!("attnstep: error: {file}:{want}")),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_lessons_view_is_used_and_flags_override_it() {
    let dir = scratch("issue12-view");
    let file = lesson_file(
        &dir,
        "view.toml",
        "format_version = 1\ntitle = \"T\"\nsummary = \"S\"\nstages = [\"input\"]\n\
         [view]\nmax_cols = 3\nprecision = 1\n[config]\nhidden_size = 8\nseq_len = 2\n",
    );
    let out = stdout_of(&["lesson", &file, "--all"], &dir);
    assert!(out.contains("showing 3 of 8 columns"), "{out}");
    let first_row = out.lines().find(|l| l.starts_with(" 0 ")).unwrap();
    // Every number has one decimal.
    for cell in first_row.split('│').skip(1).filter(|c| c.trim() != "…") {
        let n = cell.trim().trim_start_matches('-');
        assert_eq!(n.split('.').nth(1).map(str::len), Some(1), "{first_row}");
    }
    let wide = stdout_of(&["lesson", &file, "--all", "--max-cols", "8"], &dir);
    assert!(!wide.contains("showing 3 of 8 columns"), "{wide}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_lesson_run_against_its_premise_says_so_once() {
    let out = stdout_of(
        &["lesson", "gqa", "--num-kv-heads", "8", "--all"],
        &state_dir("issue12-premise"),
    );
    let out = flat(&out);
    assert_eq!(
        out.matches("⚠ This lesson is written about").count(),
        1,
        "{out}"
    );
    assert!(out.contains("n_heads = 8, n_kv_heads = 8"), "{out}");
    // The notes that assume sharing are left out; those written for MHA are shown.
    assert!(!out.contains("This is where the saving happens"), "{out}");
    assert!(out.contains("this run shares nothing"), "{out}");
    let plain = stdout_of(&["lesson", "gqa", "--all"], &state_dir("issue12-premise"));
    assert!(!plain.contains('⚠'));
}

#[test]
fn variants_are_chosen_with_a_flag_and_unknown_ones_refused() {
    let state = state_dir("issue12-variants");
    for (name, kv) in [("mha", 8), ("gqa", 2), ("mqa", 1)] {
        let out = flat(&stdout_of(
            &["lesson", "mha-gqa-mqa", "--variant", name, "--all"],
            &state,
        ));
        assert!(out.contains(&format!("you are in {name}")), "{out}");
        assert!(
            out.contains(&format!("n_kv_heads={kv} n_rep={}", 8 / kv)),
            "{out}"
        );
    }
    let err = usage_error(&["lesson", "mha-gqa-mqa", "--variant", "gqq", "--all"]);
    assert!(
        err.contains("--variant \"gqq\": this lesson has no such variant. Did you mean \"gqa\"?"),
        "{err}"
    );
    let err = usage_error(&["lesson", "gqa", "--variant", "mqa", "--all"]);
    assert!(err.contains("this lesson has no variants"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Lesson prose that stays true under the flags the lessons themselves suggest.

#[test]
fn causal_lesson_without_the_mask_claims_nothing_blocked() {
    let out = stdout_of(
        &[
            "lesson",
            "causal",
            "--all",
            "--no-causal",
            "--color",
            "never",
        ],
        &state_dir("prose-no-causal"),
    );
    let mut mask_notes = 0;
    for s in sections(&out) {
        let (first, last, cached) = banner(s);
        assert_eq!((first, cached), (0, 0), "the lesson is one prefill");
        let kv_len = last + 1;
        for note in notes(s) {
            // Without the mask nothing is blocked, so no note may count blocked keys, put a
            // row's whole weight on itself or hand a token back its own value.
            for claim in [
                "blocks",
                "blocked entries in all",
                "weight 1 on itself",
                "exactly its own value",
                "every blocked weight",
            ] {
                assert!(!note.contains(claim), "{claim:?} in {note}");
            }
            if s.contains("causal_mask · ") {
                assert!(note.contains("nothing is blocked"), "{note}");
                assert_eq!(
                    number_after(&note, "every query may read all "),
                    Some(kv_len),
                    "{note}"
                );
                mask_notes += 1;
            }
            if s.contains("softmax · ") {
                assert!(note.contains("no weight is forced to 0"), "{note}");
                assert_eq!(number_after(&note, "over all "), Some(kv_len), "{note}");
            }
        }
    }
    assert_eq!(mask_notes, 1, "{out}");
    // With the mask, the count of blocked entries is n(n-1)/2 for a prefill of n tokens.
    let out = stdout_of(
        &["lesson", "causal", "--all", "--color", "never"],
        &state_dir("prose-causal"),
    );
    let mask = sections(&out)
        .into_iter()
        .find(|s| s.contains("causal_mask · "))
        .unwrap();
    let (_, last, _) = banner(mask);
    let n = last + 1;
    let counted = notes(mask)
        .iter()
        .find_map(|note| number_after(note, "none: "))
        .expect("the note counting blocked entries");
    assert_eq!(counted, n * (n - 1) / 2);
}

#[test]
fn gqa_lesson_prose_holds_for_mha_gqa_and_mqa() {
    const N_HEADS: usize = 8;
    for kv in [1, 2, 4, 8] {
        let out = flat(&stdout_of(
            &[
                "lesson",
                "gqa",
                "--num-kv-heads",
                &kv.to_string(),
                "--all",
                "--color",
                "never",
            ],
            &state_dir("prose-gqa"),
        ));
        let n_rep = N_HEADS / kv;
        if kv == N_HEADS {
            // Nothing is shared: the run breaks the lesson's premise, is told so, and the
            // closing, which sums up sharing, is left out.
            assert!(out.contains("⚠ This lesson is written about"), "{out}");
            assert!(!out.contains("divides the cache"), "{out}");
        } else {
            // The last query head reads the last key/value head, whatever the sharing.
            assert!(
                out.contains(&format!(
                    "the last, query head {}, reads key/value head {}",
                    N_HEADS - 1,
                    kv - 1
                )),
                "--num-kv-heads {kv}: {out}"
            );
            assert!(
                out.contains(&format!("divides the cache by n_rep = {n_rep}")),
                "{out}"
            );
        }
        // A group 1 exists only with two key/value heads or more.
        assert_eq!(
            out.contains("group 1"),
            kv > 1 && kv < N_HEADS,
            "{kv}: {out}"
        );
        // No sentence may call the key/value projections smaller when they are not, nor
        // compare two equal numbers as a saving.
        if kv == N_HEADS {
            assert!(!out.contains(&format!("only {kv} ")), "{out}");
            assert!(!out.contains("times less"), "{out}");
            assert!(!out.contains("times smaller"), "{out}");
        }
        if kv == 1 {
            assert!(
                out.contains(&format!("all {N_HEADS} query heads, 0…{}", N_HEADS - 1)),
                "{out}"
            );
        }
    }
}

#[test]
fn lessons_quote_their_sentence_only_while_the_positions_carry_it() {
    let sentences = [
        ("tour", "the cat sat on the mat"),
        ("scores", "the dog chased the ball"),
        ("causal", "I think it will rain"),
        ("gqa", "the rain fell hard"),
        ("mqa", "the rain fell hard"),
        ("minimind2", "hello how are you"),
        ("minimind3", "what is a token"),
    ];
    let state = state_dir("prose-labels");
    for (name, sentence) in sentences {
        let quoted = format!("\"{sentence}\"");
        let own = flat(&stdout_of(
            &["lesson", name, "--all", "--color", "never"],
            &state,
        ));
        assert!(own.contains(&quoted), "{name} names its sentence: {own}");
        // A longer run numbers the positions: the sentence is no longer what the tables show.
        let n = sentence.split_whitespace().count() + 2;
        let longer = flat(&stdout_of(
            &[
                "lesson",
                name,
                "--all",
                "--seq-len",
                &n.to_string(),
                "--color",
                "never",
            ],
            &state,
        ));
        assert!(!longer.contains(&quoted), "{name} --seq-len {n}: {longer}");
        assert!(
            longer.contains("the positions are numbered"),
            "{name}: {longer}"
        );
        // A second batch row is another random sequence, which the one sentence does not name.
        let wider = flat(&stdout_of(
            &["lesson", name, "--all", "--batch", "2", "--color", "never"],
            &state,
        ));
        assert!(!wider.contains(&quoted), "{name} --batch 2: {wider}");
        assert!(
            wider.contains("the positions are numbered"),
            "{name}: {wider}"
        );
    }
}

/// The first line of a lesson's closing, as printed (the file's first line of it, unfilled
/// text kept to the words before any placeholder).
fn closing_words(file: &str) -> String {
    let toml = std::fs::read_to_string(format!("{}/lessons/{file}", env!("CARGO_MANIFEST_DIR")))
        .expect("the bundled lesson");
    let start = toml.find("closing = '''").expect("a closing") + "closing = '''".len();
    let line = toml[start..]
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap();
    line.split('{').next().unwrap().trim().to_string()
}

#[test]
fn a_run_outside_the_lessons_setup_gets_no_closing_and_no_unconditioned_note() {
    let state = state_dir("prose-premise");
    for (name, file, flags) in [
        // MQA's lesson with two key/value heads: its premise (one KV head) is broken.
        (
            "mqa",
            "09-mqa.toml",
            &["--num-heads", "4", "--num-kv-heads", "2"][..],
        ),
        // The tiled-repeat_kv hunt with one KV head: tiling and repeating agree, so the slip
        // cannot show and the closing's account of it would be false.
        (
            "bug-repeat-kv",
            "20-bug-repeat-kv.toml",
            &["--num-kv-heads", "1"][..],
        ),
    ] {
        let words = closing_words(file);
        assert!(words.len() > 10, "{file}: {words}");
        let mut args = vec!["lesson", name, "--all", "--color", "never"];
        let own = flat(&stdout_of(&args, &state));
        assert!(own.contains(&words), "{name} closes with {words:?}: {own}");
        args.extend_from_slice(flags);
        let other = flat(&stdout_of(&args, &state));
        assert!(!other.contains(&words), "{name} {flags:?}: {other}");
    }
}

// ---------------------------------------------------------------------------------------------
// Lesson prose under the flags a student review tried: each sentence must hold for the run shown.

/// The printed lesson with the given flags, white space made single spaces.
fn lesson_text(name: &str, flags: &[&str]) -> String {
    let mut args = vec!["lesson", name, "--all", "--color", "never"];
    args.extend_from_slice(flags);
    stdout_of(&args, &state_dir("prose-review"))
}

#[test]
fn tour_without_the_mask_does_not_sum_up_with_a_causal_mask() {
    let out = flat(&lesson_text("tour", &["--no-causal"]));
    assert!(!out.contains("per head → causal mask → softmax"), "{out}");
    assert!(out.contains("→ causal mask (unless turned off) →"), "{out}");
    // A decode call's single query is not described as blocking keys above a diagonal.
    let out = lesson_text("tour", &["--steps", "2,3,1"]);
    assert!(
        !flat(&out).contains("Every entry above the diagonal"),
        "{out}"
    );
}

#[test]
fn heads_quotes_its_sentence_only_while_the_positions_carry_it() {
    const SENTENCE: &str = "\"birds fly over the river\"";
    assert!(lesson_text("heads", &[]).contains(SENTENCE));
    for flags in [&["--seq-len", "6"][..], &["--steps", "2,3,1"][..]] {
        let out = flat(&lesson_text("heads", flags));
        assert!(!out.contains(SENTENCE), "{flags:?}: {out}");
        assert!(
            out.contains("the positions are numbered"),
            "{flags:?}: {out}"
        );
    }
    // --steps 2,3,1: the first call has 2 tokens, 3 calls in all.
    let out = flat(&lesson_text("heads", &["--steps", "2,3,1"]));
    assert!(
        out.contains("2 token(s) in the first forward call (seq_len = 2), 3 call(s) in all"),
        "{out}"
    );
    // With one key/value head, k_proj and v_proj are 4×12, not 12×12: no sentence may call all
    // the projections 12×12.
    let out = flat(&lesson_text("heads", &["--num-kv-heads", "1"]));
    assert!(!out.contains("the same 12×12 matrices"), "{out}");
    assert!(out.contains("k_proj and v_proj make 1 × 4 = 4"), "{out}");
}

#[test]
fn causal_welcome_counts_every_call() {
    // --steps 2,3,1: three calls, the first a prefill of two tokens.
    let out = flat(&lesson_text("causal", &["--steps", "2,3,1"]));
    assert!(
        out.contains("3 forward call(s), the first a prefill of 2 tokens"),
        "{out}"
    );
}

#[test]
fn padding_notes_name_only_rows_the_call_has() {
    // --steps 3,2: the prefill holds positions 0…2 (query 0 is a pad of row 0, "00111"); the
    // second call holds positions 3 and 4 only.
    let out = lesson_text("padding", &["--steps", "3,2"]);
    let mut prefill_pad_notes = 0;
    for s in sections(&out) {
        let (first, _, cached) = banner(s);
        for note in notes(s) {
            if cached == 0 {
                prefill_pad_notes += usize::from(note.contains("query 0 is a pad"));
            } else {
                assert_eq!(first, 3, "{s}");
                for claim in ["query 0", "query 2", "first real token"] {
                    assert!(!note.contains(claim), "{claim:?} at step 2: {note}");
                }
            }
        }
    }
    assert_eq!(prefill_pad_notes, 1, "{out}");
}

#[test]
fn kv_cache_does_not_call_a_chunk_a_decode_step() {
    // --steps 2,3,1 and the lesson's decode = 2: calls of 2, 3, 1, 1, 1 tokens, so the second
    // call is a chunk of 3 tokens against 2 + 3 = 5 keys.
    let out = lesson_text("kv-cache", &["--steps", "2,3,1"]);
    let text = flat(&out);
    assert!(!text.contains("makes each of them a decode step"), "{text}");
    assert!(
        text.contains("then 4 more call(s) through the cache"),
        "{text}"
    );
    let chunk_notes: Vec<String> = sections(&out)
        .into_iter()
        .filter(|s| banner(s) == (2, 4, 2))
        .flat_map(notes)
        .collect();
    assert!(
        chunk_notes
            .iter()
            .any(|n| n.contains("a chunk, not a decode step: 3 queries against 5 keys")),
        "{chunk_notes:?}"
    );
    assert!(
        !chunk_notes.iter().any(|n| n.contains("One query against")),
        "{chunk_notes:?}"
    );
}

#[test]
fn chunked_prefill_without_the_mask_matches_only_a_run_that_stops_at_the_chunk() {
    // Steps 4, 3, 1: the chunk is positions 4…6, so a one-shot run matches it with 7 tokens; a
    // run of all 8 lets those queries see position 7 once the causal mask is off.
    let out = flat(&lesson_text("chunked-prefill", &["--no-causal"]));
    assert!(!out.contains("--seq-len 8"), "{out}");
    assert!(!out.contains("A longer one-shot run matches too"), "{out}");
    assert!(out.contains("--seq-len 7 --no-causal"), "{out}");
    assert!(out.contains("A longer one-shot run differs"), "{out}");
    // With the mask on, the same chunk rows match the 7-token run, and a longer one too.
    let out = flat(&lesson_text("chunked-prefill", &[]));
    assert!(out.contains("--seq-len 7 --stage weighted_sum"), "{out}");
    assert!(out.contains("A longer one-shot run matches too"), "{out}");
}

#[test]
fn a_flag_that_would_make_every_variant_the_same_is_refused() {
    // Lesson 13's variants differ only in num_kv_heads (8, 2, 1).
    let err = usage_error(&["lesson", "mha-gqa-mqa", "--num-kv-heads", "4", "--all"]);
    assert!(err.contains("--num-kv-heads"), "{err}");
    assert!(err.contains("mha, gqa, mqa"), "{err}");
    assert!(err.contains("--variant"), "{err}");
    // A flag the variants leave alone still lays over all of them.
    let out = stdout_of(
        &[
            "lesson",
            "mha-gqa-mqa",
            "--seq-len",
            "5",
            "--all",
            "--color",
            "never",
        ],
        &state_dir("variants-flags"),
    );
    assert!(out.contains("seq_len=5"), "{out}");
}

#[test]
fn a_one_shot_check_is_offered_only_when_its_inputs_are_the_same() {
    // Inputs are drawn call by call, all rows of a call first: with one row a token's input
    // does not depend on the split, with three it does.
    let state = state_dir("prose-one-shot");
    for (name, check) in [
        ("kv-cache", "Check it yourself"),
        ("chunked-prefill", "These are the rows"),
    ] {
        let one = stdout_of(&["lesson", name, "--all", "--color", "never"], &state);
        assert!(one.contains(check), "{name}: {one}");
        let three = stdout_of(
            &["lesson", name, "--all", "--batch", "3", "--color", "never"],
            &state,
        );
        assert!(!three.contains(check), "{name} --batch 3: {three}");
        assert!(
            flat(&three).contains("the inputs are drawn call by call"),
            "{three}"
        );
    }
}
