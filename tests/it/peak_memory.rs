//! Peak memory of numeric runs (issue 11): at most 1.25× the bytes of the tensors the trace
//! holds, and the memory guard's estimate within ±15% of the measured peak.
//!
//! A child `attnstep run --preset minimind2 … --stage o_proj` is reaped with `wait4`, whose
//! `rusage` gives that child's own peak RSS (`ru_maxrss`). Linux carries a process's
//! high-water mark across `exec`, so a child forked straight from this busy, multi-threaded
//! test process could report the test process's pages as its own. Each measurement therefore
//! goes through a trampoline: this test binary runs itself again with only [`trampoline`]
//! selected, a small process (under 20 MB even in a debug build, less than attnstep itself
//! needs) that spawns attnstep and prints the child's peak. The traced bytes are worked out here from MiniMind2's dimensions, not taken
//! from the program.
//!
//! The sizes the default run checks are small enough for the debug build; the calibration
//! sizes run with `cargo test --release --test it peak_memory -- --ignored --nocapture`, which
//! prints each peak beside the guard's estimate.
#![cfg(unix)]

use std::process::{Command, Stdio};

use attnstep::bugs::Bug;
use attnstep::config::ConfigSpec;
use attnstep::memory;

/// MiniMind2's attention: hidden 512, 8 query heads and 2 KV heads of head_dim 64.
const HIDDEN: u64 = 512;
const HEADS: u64 = 8;
const KV_HEADS: u64 = 2;
const HEAD_DIM: u64 = 64;

/// Memory a run needs whatever its length: the binary's code and data, the C library, the
/// allocator's arenas, rayon's thread stacks, stdout's buffer. Measured: `attnstep run` at
/// L = 1 peaks at 10.7 MB (release) and 20 MB (debug build). 32 MiB covers both with room;
/// [`baseline_is_small`] checks it still does.
const BASELINE: u64 = 32 << 20;

/// Selects the trampoline in a run of this binary, and carries the child's arguments to it.
const ARGS_VAR: &str = "ATTNSTEP_PEAK_ARGS";

/// Bytes of every tensor one MiniMind2 prefill of `l` tokens records, and of the weights, in f32
/// (each name counted once, even where attnstep shares a buffer between two names).
fn traced_bytes(l: u64) -> u64 {
    let (q, kv) = (HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM);
    let weights = q * HIDDEN + 2 * kv * HIDDEN + HIDDEN * q; // q, k, v, o projections
    let per_token = HIDDEN         // x
        + (q + 2 * kv)             // xq/xk/xv projected
        + (q + 2 * kv)             // split into heads
        + (q + kv)                 // xq/xk after RoPE
        + 2 * kv                   // the KV cache
        + 2 * q                    // repeat_kv's xk, xv
        + 3 * q                    // transposed xq, xk, xv
        + q + q + HIDDEN; // attention output, merged heads, o_proj
    let rope = 2 * l * HEAD_DIM; // cos, sin
    let squares = 3 * HEADS * l * l + l * l; // scores, masked scores, weights; the causal mask
    4 * (weights + l * per_token + rope + squares)
}

/// Not a check: the trampoline the measurements run through (see the module comment). With
/// [`ARGS_VAR`] set (arguments separated by spaces) it runs attnstep with them, reaps it with
/// `wait4` and prints `peak_rss_bytes=N`; without it, it does nothing.
#[test]
#[ignore = "a helper process for the peak-memory checks, not a check of its own"]
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which also returns its rusage"
)]
fn trampoline() {
    let Ok(args) = std::env::var(ARGS_VAR) else {
        return;
    };
    let child = Command::new(env!("CARGO_BIN_EXE_attnstep"))
        .args(args.split(' '))
        .env(
            "ATTNSTEP_STATE_DIR",
            std::env::temp_dir().join("attnstep-test-state"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("attnstep starts");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `child` is our unreaped child; wait4 writes only into `status` and `usage`.
    let reaped = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(reaped, child.id() as libc::pid_t, "wait4 reaps the child");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "attnstep {args} failed (wait status {status})"
    );
    println!("peak_rss_bytes={}", maxrss_bytes(usage.ru_maxrss));
}

/// Runs `attnstep run --preset minimind2 --stage o_proj <extra>` through the trampoline and
/// returns its peak RSS in bytes.
fn peak_rss(extra: &str) -> u64 {
    let args =
        format!("run --preset minimind2 --stage o_proj --color never --max-memory 64GiB {extra}");
    let out = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "--exact",
            "peak_memory::trampoline",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env(ARGS_VAR, &args)
        .stdin(Stdio::null())
        .output()
        .expect("the test binary runs itself");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the trampoline for `{args}` failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split("peak_rss_bytes=").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("the trampoline printed no peak: {stdout}"))
}

/// `ru_maxrss` is in kilobytes on Linux and in bytes on macOS.
fn maxrss_bytes(v: libc::c_long) -> u64 {
    let v = v as u64;
    if cfg!(target_os = "macos") {
        v
    } else {
        v * 1024
    }
}

/// Checks that a prefill of `l` tokens peaks within 1.25× its traced bytes plus the baseline.
fn check_traced(l: u64) {
    let (peak, traced) = (peak_rss(&format!("--seq-len {l}")), traced_bytes(l));
    let limit = traced + traced / 4 + BASELINE;
    eprintln!(
        "L = {l}: peak RSS {:.1} MB, traced {:.1} MB, peak/traced {:.2}",
        peak as f64 / 1e6,
        traced as f64 / 1e6,
        peak as f64 / traced as f64
    );
    assert!(
        peak <= limit,
        "L = {l}: peak RSS {peak} B exceeds 1.25 × {traced} B traced + {BASELINE} B baseline"
    );
}

/// Checks that the guard's estimate of the whole process's peak is within ±15% of the peak
/// measured for MiniMind2 with `--seq-len seq_len --decode decode`.
fn check_estimate(seq_len: usize, decode: usize) {
    check_estimate_of(seq_len, decode, None);
}

/// [`check_estimate`] of a run with `bug` planted (`--bug`).
fn check_estimate_of(seq_len: usize, decode: usize, bug: Option<Bug>) {
    let mut cfg = ConfigSpec {
        preset: Some("minimind2".into()),
        seq_len: Some(seq_len),
        decode: Some(decode),
        ..Default::default()
    }
    .resolve()
    .expect("a valid configuration");
    cfg.bug = bug;
    let estimate = memory::estimate(&cfg).peak_rss() as f64;
    let slip = bug.map_or(String::new(), |b| format!(" --bug {}", b.name()));
    let peak = peak_rss(&format!("--seq-len {seq_len} --decode {decode}{slip}")) as f64;
    let ratio = estimate / peak;
    eprintln!(
        "--seq-len {seq_len} --decode {decode}{slip}: estimate {:.1} MiB, peak RSS {:.1} MiB, \
         estimate/peak {ratio:.3}",
        estimate / (1u64 << 20) as f64,
        peak / (1u64 << 20) as f64,
    );
    assert!(
        (0.85..=1.15).contains(&ratio),
        "--seq-len {seq_len} --decode {decode}{slip}: the guard estimates {estimate} B, \
         the run peaks at {peak} B (ratio {ratio:.3}, outside ±15%)"
    );
}

#[test]
fn traced_bytes_add_up_by_hand_at_one_token() {
    // L = 1: weights 2·512·512 + 2·128·512 = 655360 floats; one token 512 + 768 + 768 + 640
    // + 256 + 1024 + 1536 + 1536 = 7040; cos/sin 128; scores ×3 and mask 3·8 + 1 = 25.
    assert_eq!(traced_bytes(1), 4 * (655_360 + 7040 + 128 + 25));
}

#[test]
fn baseline_is_small() {
    let peak = peak_rss("--seq-len 1");
    eprintln!("L = 1: peak RSS {:.1} MB", peak as f64 / 1e6);
    assert!(
        peak <= BASELINE,
        "attnstep at L = 1 peaks at {peak} B, above the {BASELINE} B baseline the checks allow"
    );
}

#[test]
fn peak_rss_stays_within_the_traced_bytes() {
    check_traced(1024);
}

#[test]
fn guard_estimate_is_within_fifteen_percent_of_the_peak() {
    // A prefill, and a decode-heavy run: 64 tokens, then 150 one-token calls.
    check_estimate(512, 0);
    check_estimate(64, 150);
}

#[test]
fn a_slip_that_transposes_the_scores_holds_no_copy_the_guard_leaves_out() {
    // Softmax over the queries reads the scores transposed. A whole-tensor copy of them held
    // beside the trace (32 MiB at L = 1024) put the peak 20% over the estimate (release build:
    // 156 MiB against 130 MiB); gathered row by row, it is within 2%.
    check_estimate_of(1024, 0, Some(Bug::SoftmaxOverQueries));
}

#[test]
#[ignore = "calibration sizes, seconds to minutes: run with --release -- --ignored"]
fn peak_rss_at_calibration_sizes() {
    for l in [512, 2048, 4096] {
        check_traced(l);
    }
    for (seq_len, decode) in [
        (512, 0),
        (2048, 0),
        (4096, 0),
        (4, 1000),
        (64, 600),
        (4, 250),
    ] {
        check_estimate(seq_len, decode);
    }
}
