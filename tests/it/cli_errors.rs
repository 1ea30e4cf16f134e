//! Bad input through the CLI: each gets a message naming the problem and the fix, exit 2, no
//! panic and nothing half-printed on stdout.

use crate::support::{attnstep, command};
use predicates::prelude::*;

fn fails_with(args: &[&str], message: &str) {
    attnstep()
        .args(args)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(message))
        .stderr(predicate::str::contains("panicked").not());
}

#[test]
fn heads_not_divisible_by_kv_heads() {
    fails_with(
        &[
            "run",
            "--hidden-size",
            "64",
            "--num-heads",
            "8",
            "--num-kv-heads",
            "3",
        ],
        "num_attention_heads (8) must be divisible by num_key_value_heads (3)",
    );
}

#[test]
fn zero_sizes() {
    fails_with(
        &["run", "--hidden-size", "0"],
        "hidden_size must be at least 1 (got 0): x = [bsz, seq_len, hidden=0] has no features \
         for q_proj to project; set --hidden-size to a positive number",
    );
    fails_with(
        &["run", "--num-heads", "0"],
        "num_attention_heads must be at least 1",
    );
    fails_with(&["run", "--batch", "0"], "set --batch to a positive number");
    fails_with(
        &["export", "--steps", "3,0", "-o", "-"],
        "step 2 of --steps has 0 tokens",
    );
}

#[test]
fn odd_head_dim() {
    fails_with(&["run", "--head-dim", "7"], "head_dim (7) must be even");
}

#[test]
fn mask_of_the_wrong_length() {
    fails_with(
        &["run", "--steps", "3,1", "--attention-mask", "011"],
        "has 3 entries but the steps cover 4",
    );
}

#[test]
fn mask_with_a_character_other_than_0_or_1() {
    fails_with(
        &["run", "--steps", "4", "--attention-mask", "01x1"],
        "'x' at column 2",
    );
}

#[test]
fn mask_rows_must_match_the_batch() {
    fails_with(
        &[
            "run",
            "--steps",
            "2",
            "--batch",
            "2",
            "--attention-mask",
            "11",
        ],
        "--attention-mask has 1 row(s) but --batch is 2",
    );
}

#[test]
fn token_count_must_match_the_steps() {
    fails_with(
        &["run", "--steps", "3,1", "--tokens", "the cat sat"],
        "--tokens gives 3 token(s) but the steps (3+1) cover 4",
    );
}

#[test]
fn unknown_preset_lists_the_known_ones() {
    fails_with(&["run", "--preset", "gpt5"], "unknown preset 'gpt5'");
    fails_with(&["run", "--preset", "gpt5"], "minimind2");
}

#[test]
fn unknown_stage_and_out_of_range_step_and_head() {
    fails_with(&["run", "--stage", "softmaxx"], "unknown stage 'softmaxx'");
    fails_with(
        &["run", "--stage", "padding_mask"],
        "stage 'padding_mask' does not happen in this configuration",
    );
    fails_with(
        &["run", "--steps", "3,1", "--step", "3"],
        "--step 3 is out of range",
    );
    fails_with(
        &["run", "--head", "4"],
        "--head 4 is out of range: there are 4 query heads",
    );
}

#[test]
fn malformed_numbers_are_usage_errors() {
    attnstep()
        .args(["run", "--steps", "5,x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'x'"));
}

#[test]
fn the_memory_guard_refuses_a_huge_numeric_run_and_points_to_shapes() {
    fails_with(
        &[
            "export",
            "--preset",
            "minimind2",
            "--seq-len",
            "8192",
            "-o",
            "-",
        ],
        "attnstep shapes",
    );
    fails_with(
        &["run", "--seq-len", "64", "--max-memory", "10KiB"],
        "over the --max-memory limit of 10 KiB",
    );
    attnstep()
        .args([
            "export",
            "--seq-len",
            "4",
            "--max-memory",
            "1MiB",
            "-o",
            "-",
        ])
        .assert()
        .success();
}

#[test]
fn a_closed_pipe_ends_quietly() {
    // `attnstep export -o - | head -c 10`: the reader goes away early; no panic, status 0.
    let mut child = command()
        .args([
            "export",
            "--preset",
            "minimind2",
            "--seq-len",
            "64",
            "-o",
            "-",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Read;
        let mut first = [0u8; 10];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        assert_eq!(&first[..2], b"{\"");
    }
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Issue 10's bad-input defects on the command line (the item number in each test's comment).

/// Runs `attnstep ARGS` and returns (status, stdout, stderr).
fn outcome(args: &[&str]) -> (Option<i32>, String, String) {
    let out = attnstep().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn negative_numbers_are_values_that_must_be_positive() {
    // Item 14: `-1` used to look like an unknown flag.
    for flag in ["--hidden-size", "--num-heads", "--batch", "--seq-len"] {
        attnstep()
            .args(["run", flag, "-1"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "-1 is negative: the value must be positive",
            ))
            .stderr(predicate::str::contains("unexpected argument").not());
    }
    fails_with(&["run", "--head", "-2"], "must not be negative");
    fails_with(&["run", "--steps", "3,-1"], "must be positive");
    fails_with(
        &["run", "--rope-theta", "-5"],
        "--rope-theta must be a number from",
    );
}

#[test]
fn steps_and_masks_given_twice_are_refused_not_accumulated() {
    // Item 4.
    fails_with(
        &["run", "--steps", "3", "--steps", "4"],
        "'--steps <N,N,…>' cannot be used multiple times",
    );
    fails_with(
        &["run", "--attention-mask", "111", "--attention-mask", "111"],
        "cannot be used multiple times",
    );
}

#[test]
fn long_runs_are_refused_at_once_with_a_short_message() {
    // Item 4: the refusal comes before any work, and its message stays short. A million
    // decode calls are a configuration `shapes` can show; a numeric run of them is refused by
    // the memory guard, and past the decode cap the configuration itself is refused.
    let (code, out, err) = outcome(&["run", "--all", "--seq-len", "1", "--decode", "1048576"]);
    assert_eq!(code, Some(2));
    assert!(out.is_empty());
    assert!(err.contains("over the --max-memory limit"), "{err}");
    assert!(err.len() < 600, "{} bytes", err.len());
    let (code, _, err) = outcome(&["run", "--seq-len", "1", "--decode", "5000000"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--decode may add at most 4194304"), "{err}");
    let (code, _, err) = outcome(&[
        "run",
        "--seq-len",
        "1",
        "--decode",
        "4000",
        "--tokens",
        "a b",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(
            "--tokens gives 2 token(s) but the steps (1+1+1+1+1+1+… (4001 steps)) cover 4001"
        ),
        "{err}"
    );
    assert!(err.len() < 300, "{} bytes", err.len());
}

#[test]
fn rope_theta_is_checked_in_the_precision_used() {
    // Item 11: 1e-300 is a positive f64 but 0 in f32.
    fails_with(
        &["run", "--rope-theta", "1e-300"],
        "--rope-theta must be a number from 1.1754944e-38 to 3.4028235e38",
    );
    fails_with(
        &["run", "--rope-theta", "1e-300"],
        "got 1e-300, which is 0 in f32",
    );
    fails_with(
        &["run", "--rms-norm-eps", "1e300"],
        "--rms-norm-eps must be",
    );
    // A tiny theta that f32 holds gives finite numbers (export writes a NaN as "nan").
    attnstep()
        .args(["export", "--rope-theta", "1e-30", "-o", "-"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"nan\"").not());
}

#[test]
fn the_odd_head_dim_advice_names_what_the_user_set() {
    // Item 14: head_dim came from --hidden-size / --num-heads, so that is what to change.
    let (code, _, err) = outcome(&["run", "--hidden-size", "28", "--num-heads", "4"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("head_dim (7) must be even"), "{err}");
    assert!(err.contains("change --hidden-size or --num-heads"), "{err}");
    assert!(!err.contains("Use an even --head-dim"), "{err}");
    fails_with(&["run", "--head-dim", "7"], "Use an even --head-dim");
}

#[test]
fn max_memory_takes_every_unit_the_totals_use() {
    // Item 14: `1PiB` was rejected while totals print in PiB; `1e9` was an "unknown unit".
    attnstep()
        .args(["run", "--all", "--seq-len", "2", "--max-memory", "1PiB"])
        .assert()
        .success();
    attnstep()
        .args(["run", "--all", "--seq-len", "2", "--max-memory", "1e9"])
        .assert()
        .success();
    // 1e4 bytes is 9.77 KiB: the guard reports the limit it understood.
    fails_with(
        &["run", "--seq-len", "64", "--max-memory", "1e4"],
        "over the --max-memory limit of 9.77 KiB",
    );
    fails_with(
        &["run", "--max-memory", "2 parsecs"],
        "not a size: write a number",
    );
}

#[test]
fn quiz_with_all_is_refused_by_run_and_lesson_alike() {
    // Issue 9: `lesson tour --all --quiz` used to exit 0 and drop --quiz.
    let run = outcome(&["run", "--all", "--quiz"]);
    let lesson = outcome(&["lesson", "tour", "--all", "--quiz"]);
    assert_eq!(run.0, Some(2));
    assert_eq!(run, lesson);
    assert!(run.2.contains("--quiz asks for each shape"), "{}", run.2);
}

#[cfg(unix)]
#[test]
fn stdin_that_is_a_directory_or_endless_is_refused_with_its_name() {
    use std::process::Stdio;
    // Item 12: `run </tmp` said only "Is a directory (os error 21)", with status 1.
    let out = command()
        .arg("run")
        .stdin(Stdio::from(std::fs::File::open("/tmp").unwrap()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("attnstep: error: standard input is a directory"),
        "{err}"
    );
    // Item 6: `run </dev/zero` grew without bound; now one line is at most 4 KiB.
    let out = command()
        .arg("run")
        .stdin(Stdio::from(std::fs::File::open("/dev/zero").unwrap()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("reading standard input: a line is longer than 4096 bytes"),
        "{err}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_an_error_that_names_it() {
    // Item 12: `--help >/dev/full` exited 0 having printed nothing.
    for args in [
        &["--help"][..],
        &["--version"],
        &["run", "--all"],
        &["presets"],
    ] {
        let out = command()
            .args(args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("attnstep: error: writing to stdout: No space left on device"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn token_labels_cannot_send_escape_sequences() {
    // Item 9: a label holding OSC 0 (window title) and OSC 52 (clipboard).
    let tokens = "a\x1b]0;owned\x07 b\x1b]52;c;aGk=\x07 c";
    for color in ["never", "always"] {
        let out = attnstep()
            .args([
                "run",
                "--all",
                "--seq-len",
                "3",
                "--tokens",
                tokens,
                "--color",
                color,
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains("\x1b]") && !text.contains('\x07'),
            "--color {color}"
        );
        // Shown made visible (the column label is cut to the column's width).
        assert!(text.contains("a\\u{1b"), "{text}");
        if color == "never" {
            assert!(!text.contains('\x1b'));
        }
    }
}

#[test]
fn a_huge_columns_is_clamped() {
    // Item 3 (the plan clamps the width it passes on).
    attnstep()
        .args(["run", "--all", "--stage", "input"])
        .env("COLUMNS", "18446744073709551615")
        .assert()
        .success();
}

#[test]
fn sizes_with_too_many_digits_are_refused_not_overflowed() {
    // Found by the config fuzz target: parse-size adds digits without an overflow check.
    fails_with(
        &[
            "run",
            "--all",
            "--max-memory",
            "18446744073709551615999999999",
        ],
        "too large: the largest size is 16EiB",
    );
    let (code, _, err) = outcome(&[
        "run",
        "--all",
        "--max-memory",
        "0.000000000000000000018446744073709551615999999999",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("over the --max-memory limit of 0 B"), "{err}");
    fails_with(&["run", "--max-memory", "-1"], "a size cannot be negative");
}
