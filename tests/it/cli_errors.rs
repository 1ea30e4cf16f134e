//! Bad input through the CLI: each gets a message naming the problem and the fix, exit 2, no
//! panic and nothing half-printed on stdout.

use crate::support::attnstep;
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
        "hidden_size must be at least 1",
    );
    fails_with(
        &["run", "--num-heads", "0"],
        "num_attention_heads must be at least 1",
    );
    fails_with(&["run", "--batch", "0"], "batch must be at least 1");
    fails_with(
        &["export", "--steps", "3,0", "-o", "-"],
        "step 2 has 0 tokens",
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
        "has 1 row(s) but batch is 2",
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
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("attnstep"))
        .args([
            "export",
            "--preset",
            "minimind2",
            "--seq-len",
            "64",
            "-o",
            "-",
        ])
        .env_remove("RUST_BACKTRACE")
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
