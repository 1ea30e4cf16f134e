//! The stepper end to end: line mode through a pipe, and the raw-mode stepper through a
//! pseudo-terminal (keys in, screen text out, terminal back in cooked mode afterwards).
//!
//! The runs use a small GQA layer: hidden 64, 8 query heads, 2 KV heads (head_dim 8), a
//! prefill of 5 tokens and two decode steps. Without QK-norm or a padding mask a step has 13
//! stages: input, project, split_heads, rope, kv_cache, repeat_kv, transpose, scores,
//! causal_mask, softmax, weighted_sum, merge_heads, o_proj.

use std::time::Duration;

use assert_cmd::Command;
use expectrl::session::OsSession as Session;
use expectrl::{Eof, Expect};

const GQA: &[&str] = &[
    "run",
    "--hidden-size",
    "64",
    "--num-heads",
    "8",
    "--num-kv-heads",
    "2",
    "--steps",
    "5,1,1",
];

fn attnstep() -> Command {
    let mut cmd = Command::cargo_bin("attnstep").unwrap();
    cmd.env_remove("RUST_BACKTRACE");
    cmd
}

fn line_mode(args: &[&str], input: &str) -> (String, i32) {
    let out = attnstep().args(args).write_stdin(input).output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

/// The status lines line mode printed, without their brackets.
fn statuses(out: &str) -> Vec<&str> {
    out.lines()
        .filter_map(|l| l.strip_prefix('[').and_then(|l| l.strip_suffix(']')))
        .collect()
}

#[test]
fn line_mode_follows_typed_commands() {
    let (out, code) = line_mode(GQA, "n\nb\ng 5\n:softmax\nhead 3\n]\nstep 3\nb\nq\n");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        statuses(&out),
        vec![
            "stage 1/13 input · step 1/3 prefill (pos 0..4) · head 0 of 0…7 · ? help",
            "stage 2/13 project · step 1/3 prefill (pos 0..4) · head 0 of 0…7 · ? help",
            "stage 1/13 input · step 1/3 prefill (pos 0..4) · head 0 of 0…7 · ? help",
            "stage 5/13 kv_cache · step 1/3 prefill (pos 0..4) · head 0 of 0…7 · ? help",
            "stage 10/13 softmax · step 1/3 prefill (pos 0..4) · head 0 of 0…7 · ? help",
            // `head 3` is head 3 as the tables count it (0-based); `]` the next one.
            "stage 10/13 softmax · step 1/3 prefill (pos 0..4) · head 3 of 0…7 · ? help",
            "stage 10/13 softmax · step 1/3 prefill (pos 0..4) · head 4 of 0…7 · ? help",
            // The second decode call holds position 6 (prefill 0..4, first decode 5).
            "stage 10/13 softmax · step 3/3 decode (pos 6) · head 4 of 0…7 · ? help",
            "stage 9/13 causal_mask · step 3/3 decode (pos 6) · head 4 of 0…7 · ? help",
        ]
    );
}

#[test]
fn line_mode_explains_refused_commands_and_keeps_going() {
    let (out, code) = line_mode(GQA, "g 20\nstep 4\nhead 9\nfly\nb\nn\nq\n");
    assert_eq!(code, 0);
    assert!(
        out.contains("no stage 20: step 1 has stages 1 to 13"),
        "{out}"
    );
    assert!(
        out.contains("no step 4: this run has steps 1 to 3"),
        "{out}"
    );
    assert!(out.contains("no head 9: the heads are 0 to 7"), "{out}");
    assert!(out.contains("'fly' is not a command"), "{out}");
    assert!(out.contains("this is the start of the walk"), "{out}");
    // Only the first screen and the one after `n` were drawn.
    assert_eq!(statuses(&out).len(), 2, "{out}");
}

#[test]
fn no_input_at_all_prints_the_whole_walk() {
    let (out, code) = line_mode(GQA, "");
    assert_eq!(code, 0);
    let st = statuses(&out);
    assert_eq!(st.len(), 3 * 13, "{out}");
    assert_eq!(
        st.last().unwrap(),
        &"stage 13/13 o_proj · step 3/3 decode (pos 6) · head 0 of 0…7 · ? help"
    );
}

#[test]
fn end_of_input_after_commands_stops_where_it_is() {
    let (out, code) = line_mode(GQA, "n\nn\n");
    assert_eq!(code, 0);
    assert_eq!(statuses(&out).len(), 3);
}

#[test]
fn qk_norm_and_padding_add_stages_and_batch_rows() {
    let mut args = GQA.to_vec();
    args.extend([
        "--qk-norm",
        "--batch",
        "2",
        "--attention-mask",
        "0111111,1111111",
    ]);
    let (out, code) = line_mode(&args, "G\n:padding_mask\nB\nq\n");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        statuses(&out)[1..],
        [
            "stage 15/15 o_proj · step 3/3 decode (pos 6) · head 0 of 0…7 · batch 0 of 0…1 · ? help",
            "stage 11/15 padding_mask · step 3/3 decode (pos 6) · head 0 of 0…7 · batch 0 of 0…1 · ? help",
            "stage 11/15 padding_mask · step 3/3 decode (pos 6) · head 0 of 0…7 · batch 1 of 0…1 · ? help",
        ]
    );
}

/// One prefill of 5 tokens, answered through every question; the transpose of xq is got
/// wrong twice. Expected shapes worked out from the config by hand.
#[test]
fn quiz_in_line_mode_scores_right_and_wrong_answers() {
    let args = [
        "run",
        "--hidden-size",
        "64",
        "--num-heads",
        "8",
        "--num-kv-heads",
        "2",
        "--steps",
        "5",
        "--quiz",
    ];
    // n_heads = head_dim = 8 and seq_len = kv_len = 5: axes of equal size are named.
    let script = [
        "n",          // input → project asks
        "1 5 64",     // xq_proj: 8 heads × 8
        "[1, 5, 16]", // xk_proj (and xv_proj): 2 KV heads × 8
        "n",
        "(1,5,8,8)", // xq_heads: right sizes, unnamed: asked again, no try
        "(1,5,n_heads=8,head_dim=8)", // xq_heads, named
        "h",         // a hint does not count as a try
        "1x5x2x8",   // xk_heads
        "n",         // rope: no question
        "n",
        "1 5 2 8", // xk_cache: the cache was empty, kv_len = 5
        "n",
        "1 5 n_heads=8 head_dim=8", // xk_repeat
        "n",
        "1 5 8 8",                  // xq_t: wrong (forgot the transpose)
        "1 5 8 8",                  // wrong again: the answer is shown
        "1 n_heads=8 5 head_dim=8", // xk_t
        "n",
        "1 8 seq_len=5 kv_len=5", // scores: 5 queries × 5 keys
        "n",                      // causal_mask
        "n",                      // softmax
        "n",
        "1 n_heads=8 5 head_dim=8", // attn_out
        "n",
        "1 5 64", // merged
        "n",
        "1 5 64", // output
        "n",      // the end screen
    ]
    .join("\n");
    let (out, code) = line_mode(&args, &script);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("What shape is xq_t after xq.transpose(1, 2)?"),
        "{out}"
    );
    assert!(
        out.contains(
            "✗ not quite:\n  dim 1 should be n_heads=8, not 5: transpose(1, 2) swaps seq_len and n_heads\n  \
             dim 2 should be seq_len=5, not 8: transpose(1, 2) swaps seq_len and n_heads"
        ),
        "{out}"
    );
    assert!(
        out.contains("✗ xq_t is [bsz=1, n_heads=8, seq_len=5, head_dim=8]"),
        "{out}"
    );
    assert!(
        out.contains("✓ right: xk_cache is [bsz=1, kv_len=5, n_kv_heads=2, head_dim=8]"),
        "{out}"
    );
    assert!(out.contains("hint: view does not move any number"), "{out}");
    assert!(
        out.contains("? the sizes are right; now say which is which: two axes have size 8"),
        "{out}"
    );
    assert!(
        out.contains("Quiz: 11/12 first try\nmissed: step 1 transpose (xq_t)"),
        "{out}"
    );
    assert_eq!(
        out.matches("Quiz: ").count(),
        1,
        "score printed once: {out}"
    );
}

#[test]
fn quiz_stopped_early_still_reports_the_score() {
    let args = [
        "run",
        "--hidden-size",
        "64",
        "--num-heads",
        "8",
        "--num-kv-heads",
        "2",
        "--steps",
        "5",
        "--quiz",
    ];
    let (out, code) = line_mode(&args, "n\n1 5 64\nskip\nq\n");
    assert_eq!(code, 0);
    assert!(
        out.contains("✗ xk_proj is [bsz=1, seq_len=5, n_kv_heads·head_dim=16]"),
        "{out}"
    );
    assert!(
        out.ends_with("Quiz: 1/2 first try\nmissed: step 1 project (xk_proj)\n"),
        "{out}"
    );
}

#[test]
fn quiz_cannot_be_combined_with_printing_everything() {
    let out = attnstep()
        .args(GQA)
        .args(["--quiz", "--all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("--quiz") && err.contains("drop --all"),
        "{err}"
    );
}

// ---- the raw-mode stepper in a pseudo-terminal ----

/// Runs attnstep in an 80×24 pseudo-terminal (see [`spawn_pty_in`]).
fn spawn_pty(extra: &[&str], env: &[(&str, &str)]) -> Session {
    spawn_pty_in(80, 24, extra, env)
}

/// Runs attnstep in a `cols`×`rows` pseudo-terminal under `sh`, which afterwards prints the
/// exit status and the terminal settings, so the tests can see the terminal was given back.
/// Tests that mean one key = one stage use a window tall enough for every stage, since
/// Space and PageDown page through a stage taller than the window first.
fn spawn_pty_in(cols: u16, rows: u16, extra: &[&str], env: &[(&str, &str)]) -> Session {
    spawn_pty_env(cols, rows, extra, env, &[])
}

/// [`spawn_pty_in`] with the variables in `unset` removed from the environment.
fn spawn_pty_env(
    cols: u16,
    rows: u16,
    extra: &[&str],
    env: &[(&str, &str)],
    unset: &[&str],
) -> Session {
    let mut args: Vec<&str> = GQA.to_vec();
    args.extend(extra);
    spawn_pty_args(cols, rows, &args, env, unset)
}

/// Runs `attnstep ARGS` as [`spawn_pty_in`] describes.
fn spawn_pty_args(
    cols: u16,
    rows: u16,
    args: &[&str],
    env: &[(&str, &str)],
    unset: &[&str],
) -> Session {
    let bin = env!("CARGO_BIN_EXE_attnstep");
    // `stty sane` gives a normal cooked terminal (the pty library starts with echo off);
    // afterwards the settings must be exactly what they were before. The pty library sets its
    // own default size from the parent after starting the child, so the script waits until
    // the size set below has arrived.
    let script = format!(
        "stty sane; until [ \"$(stty size)\" = \"{rows} {cols}\" ]; do sleep 0.05; done; \
         before=$(stty -g); {bin} {}; echo \"exit=$?\"; \
         if [ \"$(stty -g)\" = \"$before\" ]; then echo tty-unchanged; else echo tty-changed; fi; \
         stty -a",
        args.join(" ")
    );
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &script])
        .env("TERM", "xterm-256color")
        .env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in unset {
        cmd.env_remove(k);
    }
    let mut s = Session::spawn(cmd).expect("spawn a pty");
    s.get_process_mut()
        .set_window_size(cols, rows)
        .expect("size the pty");
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    s
}

/// Waits for the exit line and returns the exit status and the terminal settings after it.
fn finish(s: &mut Session) -> (i32, Vec<String>, String) {
    let before = s.expect(expectrl::Regex("exit=[0-9]+")).unwrap();
    let screen = String::from_utf8_lossy(before.before()).into_owned();
    let code: i32 = String::from_utf8_lossy(before.get(0).unwrap())
        .trim_start_matches("exit=")
        .parse()
        .unwrap();
    let rest = s.expect(Eof).unwrap();
    let settings = String::from_utf8_lossy(rest.as_bytes())
        .split_whitespace()
        .map(str::to_string)
        .collect();
    (code, settings, screen)
}

fn assert_cooked(settings: &[String], screen: &str) {
    assert_eq!(
        settings[0], "tty-unchanged",
        "terminal settings differ after exit"
    );
    for want in ["icanon", "echo", "isig"] {
        assert!(
            settings.iter().any(|s| s == want),
            "{want} off after exit: {settings:?}"
        );
    }
    assert!(screen.contains("\x1b[?1049l"), "alternate screen left");
    let shown = screen.rfind("\x1b[?25h").expect("cursor shown again");
    let hidden = screen.rfind("\x1b[?25l").unwrap_or(0);
    assert!(shown > hidden, "cursor shown after its last hiding");
}

#[test]
fn keys_step_forward_back_jump_and_change_head() {
    let mut s = spawn_pty_in(100, 60, &[], &[]);
    s.expect("stage 1/13 input · step 1/3 prefill (pos 0..4) · head 0 of 0…7 · ? help")
        .unwrap();
    s.send(" ").unwrap();
    s.expect("stage 2/13 project").unwrap();
    s.send("\x1b[6~").unwrap(); // PageDown, as a clicker sends it
    s.expect("stage 3/13 split_heads").unwrap();
    s.send("\x1b[5~").unwrap(); // PageUp
    s.expect("stage 2/13 project").unwrap();
    s.send("\x1b[D").unwrap(); // ←
    s.expect("stage 1/13 input").unwrap();
    s.send("7\r").unwrap();
    s.expect("stage 7/13 transpose").unwrap();
    s.send("]").unwrap();
    s.expect("stage 7/13 transpose · step 1/3 prefill (pos 0..4) · head 1 of 0…7")
        .unwrap();
    s.send(":softmax\r").unwrap();
    s.expect("stage 10/13 softmax").unwrap();
    s.send("G").unwrap();
    s.expect("stage 13/13 o_proj · step 3/3 decode (pos 6)")
        .unwrap();
    s.send("?").unwrap();
    s.expect("previous / next head in the matrices").unwrap();
    s.send("q").unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert_eq!(code, 0);
    assert_cooked(&settings, &screen);
}

#[test]
fn a_resize_redraws_to_the_new_width() {
    let mut s = spawn_pty(&[], &[]);
    s.expect("head 0 of 0…7 · ? help").unwrap();
    // Resize the terminal the program is on (the pty), which sends it SIGWINCH.
    s.get_process_mut().set_window_size(50, 14).unwrap();
    // At 50 columns the status line drops the head and is cut to fit.
    s.expect("stage 1/13 input · step 1/3 prefill (pos 0..4) · …")
        .unwrap();
    s.send("q").unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert_eq!(code, 0);
    assert_cooked(&settings, &screen);
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    let mut s = spawn_pty_in(100, 60, &[], &[]);
    s.expect("stage 1/13 input").unwrap();
    s.send(" ").unwrap();
    s.expect("stage 2/13 project").unwrap();
    s.send("\x03").unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert_eq!(code, 0);
    assert_cooked(&settings, &screen);
}

#[test]
fn a_panic_still_restores_the_terminal() {
    let mut s = spawn_pty(&[], &[("ATTNSTEP_TEST_KEYS", "1")]);
    s.expect("stage 1/13 input").unwrap();
    s.send("!").unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert_eq!(code, 101, "a panic exits with Rust's panic status");
    assert!(screen.contains("panic requested"), "{screen}");
    // The panic message comes after the terminal was restored, so it is readable.
    assert!(screen.rfind("\x1b[?1049l") < screen.find("panic requested"));
    assert_cooked(&settings, &screen);
}

#[test]
fn quiz_in_the_terminal_takes_right_and_wrong_answers() {
    let mut s = spawn_pty_in(100, 60, &["--quiz"], &[]);
    s.expect("stage 1/13 input").unwrap();
    s.send(" ").unwrap();
    s.expect("What shape is xq_proj after q_proj(x)?").unwrap();
    s.send("1 5 64\r").unwrap();
    s.expect("✓ right: xq_proj is [bsz=1, seq_len=5, n_heads·head_dim=64]")
        .unwrap();
    s.expect("What shape is xk_proj after k_proj(x)?").unwrap();
    s.send("1 5 64\r").unwrap();
    s.expect("dim 2 should be n_kv_heads·head_dim=16, not 64")
        .unwrap();
    s.expect("Try again: what shape is xk_proj").unwrap();
    s.send("h").unwrap();
    s.expect("hint: A linear layer keeps bsz and seq_len")
        .unwrap();
    s.send("1 5 16\r").unwrap();
    s.expect("✓ right: xk_proj").unwrap();
    s.expect("stage 2/13 project").unwrap();
    s.send("q").unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert_eq!(code, 0);
    assert_cooked(&settings, &screen);
    // The score is printed on the main screen after the walk.
    let after = &screen[screen.rfind("\x1b[?1049l").unwrap()..];
    assert!(after.contains("Quiz: 1/2 first try"), "{after:?}");
    assert!(
        after.contains("missed: step 1 project (xk_proj)"),
        "{after:?}"
    );
}

/// The program sh started (attnstep), found through /proc.
#[cfg(target_os = "linux")]
fn child_of(s: &Session) -> u32 {
    let sh = s.get_process().pid().as_raw();
    let children =
        std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children")).expect("read /proc");
    children
        .split_whitespace()
        .next()
        .expect("sh has a child")
        .parse()
        .unwrap()
}

/// Sends `sig` (a name like `TERM`) to `pid`.
#[cfg(target_os = "linux")]
fn kill(sig: &str, pid: u32) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill -{sig} {pid}");
}

/// SIGHUP is what arrives when the terminal goes away (an ssh connection drops, a tmux pane is
/// killed); SIGTERM is a plain `kill`; SIGINT a `kill -INT` (Ctrl-C itself is a key in raw
/// mode). Each ends the walk, gives the terminal back, and the process dies of the signal, so
/// the shell reports 128 + its number.
#[cfg(target_os = "linux")]
#[test]
fn hangup_terminate_and_interrupt_signals_restore_the_terminal() {
    for (sig, status) in [("HUP", 129), ("TERM", 143), ("INT", 130)] {
        let mut s = spawn_pty(&[], &[]);
        s.expect("stage 1/13 input").unwrap();
        kill(sig, child_of(&s));
        let (code, settings, screen) = finish(&mut s);
        assert_eq!(code, status, "SIG{sig}");
        assert_cooked(&settings, &screen);
    }
}

/// A signal while the loop is busy (the test key `~` keeps it busy for five seconds, as a huge
/// render would): the signal thread gives the terminal back itself and ends the process, well
/// before the work is done.
#[cfg(target_os = "linux")]
#[test]
fn a_signal_during_long_work_restores_the_terminal_at_once() {
    use std::time::Instant;
    let mut s = spawn_pty(&[], &[("ATTNSTEP_TEST_KEYS", "1")]);
    s.expect("stage 1/13 input").unwrap();
    s.send("~").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    kill("TERM", child_of(&s));
    let (code, settings, screen) = finish(&mut s);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}: the busy loop was waited for",
        start.elapsed()
    );
    assert_eq!(code, 143);
    assert_cooked(&settings, &screen);
}

/// The state letter of process `pid` (`T` when stopped), from /proc.
#[cfg(target_os = "linux")]
fn state_of(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The state follows the command name in parentheses.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.chars().next().unwrap()
}

/// The terminal settings of the pty `pid` reads from, as `stty -a` prints them.
#[cfg(target_os = "linux")]
fn stty_of(pid: u32) -> Vec<String> {
    let tty = std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
    let out = std::process::Command::new("stty")
        .arg("-a")
        .arg("-F")
        .arg(&tty)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Waits until `pid` is in state `want`.
#[cfg(target_os = "linux")]
fn wait_for_state(pid: u32, want: char) {
    let start = std::time::Instant::now();
    while state_of(pid) != want {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "process {pid} never reached state {want}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ctrl-Z (a key in raw mode) and SIGTSTP (`kill -TSTP`) both stop the stepper with the
/// terminal given back (main screen, cursor shown, cooked mode); SIGCONT (what `fg` sends)
/// takes the terminal again, in raw mode, and redraws, also after an uncatchable SIGSTOP.
#[cfg(target_os = "linux")]
#[test]
fn suspend_gives_the_terminal_back_and_resume_redraws() {
    let mut s = spawn_pty_in(100, 60, &[], &[]);
    s.expect("stage 1/13 input").unwrap();
    s.send(" ").unwrap();
    s.expect("stage 2/13 project").unwrap();
    let pid = child_of(&s);
    for how in ["Ctrl-Z", "SIGTSTP"] {
        if how == "Ctrl-Z" {
            s.send("\x1a").unwrap();
        } else {
            kill("TSTP", pid);
        }
        // The terminal is given back before the process stops.
        s.expect("\x1b[?1049l").unwrap();
        wait_for_state(pid, 'T');
        let stopped = stty_of(pid);
        for want in ["icanon", "echo"] {
            assert!(
                stopped.contains(&want.to_string()),
                "{how}: {want} off while stopped"
            );
        }
        kill("CONT", pid);
        // Back on the alternate screen, in raw mode, at the same stage.
        s.expect("\x1b[?1049h").unwrap();
        let f = frame(&mut s);
        assert!(f.contains("stage 2/13 project"), "{how}: {f:?}");
        wait_for_state(pid, 'S');
        let resumed = stty_of(pid);
        assert!(resumed.contains(&"-icanon".to_string()), "{how}: raw again");
    }
    // SIGSTOP cannot be caught, so the terminal stays raw while stopped; SIGCONT still brings
    // the stepper back on its screen.
    kill("STOP", pid);
    wait_for_state(pid, 'T');
    kill("CONT", pid);
    s.expect("\x1b[?1049h").unwrap();
    assert!(frame(&mut s).contains("stage 2/13 project"));
    s.send(" ").unwrap();
    s.expect("stage 3/13 split_heads").unwrap();
    s.send("q").unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert_eq!(code, 0);
    assert_cooked(&settings, &screen);
}

/// A paste of 3000 keys then `q`: crossterm used to read the first KiB and leave the rest in
/// the kernel until another key arrived, while the loop spun at full CPU. Everything must be
/// read, and the `q` at the end must quit at once.
#[test]
fn a_long_paste_is_read_to_its_end() {
    use std::time::Instant;
    let mut s = spawn_pty(&[], &[]);
    s.expect("stage 1/13 input").unwrap();
    frame(&mut s);
    let start = Instant::now();
    s.send(format!("{}q", "j".repeat(3000))).unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the paste took {:?}",
        start.elapsed()
    );
    assert_eq!(code, 0);
    assert_cooked(&settings, &screen);
}

/// `--max-rows 18446744073709551615` used to make every key press fit the screen by trying each
/// row count from there down: the stepper hung and ignored every key. Now the rows that fit are
/// computed, so keys are answered at once (a generous bound for an unoptimised build).
#[test]
fn a_huge_max_rows_is_fitted_to_the_window_at_once() {
    use std::time::Instant;
    let mut s = spawn_pty_args(
        100,
        40,
        &[
            "run",
            "--max-rows",
            "18446744073709551615",
            "--seq-len",
            "40",
        ],
        &[],
        &[],
    );
    s.set_expect_timeout(Some(Duration::from_secs(10)));
    let first = next_frame_text(&mut s);
    assert!(first.contains("stage 1/13 input"), "{first:?}");
    for _ in 0..6 {
        let start = Instant::now();
        s.send(" ").unwrap();
        frame(&mut s);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "a key took {:?}",
            start.elapsed()
        );
    }
    s.send("q").unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert_eq!(code, 0);
    assert_cooked(&settings, &screen);
}

/// Reads frames until one with a status line (the first frame may come in pieces).
fn next_frame_text(s: &mut Session) -> String {
    let mut all = String::new();
    for _ in 0..5 {
        all.push_str(&frame(s));
        if all.contains(" · step ") {
            break;
        }
    }
    all
}

/// With `TERM=dumb` or no `TERM`, the terminal cannot draw in place: the walk runs in line
/// mode (typed commands, screens printed one after another), never on the alternate screen.
#[test]
fn a_dumb_terminal_gets_line_mode() {
    for unset in [false, true] {
        let mut s = if unset {
            spawn_pty_env(100, 40, &[], &[], &["TERM"])
        } else {
            spawn_pty_in(100, 40, &[], &[("TERM", "dumb")])
        };
        s.expect("[stage 1/13 input · step 1/3 prefill (pos 0..4) · head 0 of 0…7 · ? help]")
            .unwrap();
        s.send("n\r").unwrap();
        s.expect("[stage 2/13 project · step 1/3 prefill (pos 0..4) · head 0 of 0…7 · ? help]")
            .unwrap();
        s.send("q\r").unwrap();
        let (code, settings, screen) = finish(&mut s);
        assert_eq!(code, 0, "TERM unset: {unset}");
        assert_eq!(settings[0], "tty-unchanged");
        assert!(!screen.contains("\x1b[?1049h"), "alternate screen used");
    }
}

/// Opening and closing the help leaves a tall stage scrolled where it was, so the next Space
/// pages on through it instead of starting over (or moving on).
#[test]
fn the_help_keeps_a_tall_stages_scroll() {
    let split = "stage 3/13 split_heads · step 1/3 prefill (pos 0..4)";
    let mut s = spawn_pty_in(60, 12, &["--batch", "2"], &[]);
    s.expect("stage 1/13 input").unwrap();
    frame(&mut s);
    s.send("3").unwrap();
    frame(&mut s);
    s.send("\r").unwrap();
    assert_eq!(next_frame(&mut s), split);
    s.send(" ").unwrap();
    let paged = frame(&mut s);
    let note = scroll_note_in(&paged);
    assert!(
        note.contains("above (k)") && note.contains("more lines"),
        "{note}"
    );
    s.send("?").unwrap();
    let help = frame(&mut s);
    assert!(
        help.contains("Keys") && !help.contains("above (k)"),
        "{help:?}"
    );
    s.send("?").unwrap();
    let back = frame(&mut s);
    assert_eq!(status_in(&back).unwrap(), split);
    assert_eq!(scroll_note_in(&back), note, "the scroll survived the help");
    s.send(" ").unwrap();
    let further = frame(&mut s);
    assert_eq!(status_in(&further).unwrap(), split, "Space paged on");
    assert_ne!(scroll_note_in(&further), note);
    s.send("q").unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert_eq!(code, 0);
    assert_cooked(&settings, &screen);
}

/// The `⋯ ↓ 12 more lines (j) · ↑ 3 above (k)` note of a frame.
fn scroll_note_in(frame: &str) -> String {
    let i = frame
        .find("⋯ ")
        .unwrap_or_else(|| panic!("no scroll note in {frame:?}"));
    let rest = &frame[i..];
    rest[..rest.find('\x1b').unwrap_or(rest.len())].to_string()
}

/// `COLUMNS` beyond any real terminal is clamped: printing every stage neither overflows nor
/// runs out of memory, and no line is wider than the widest layout.
#[test]
fn an_absurd_columns_is_clamped() {
    for columns in ["18446744073709551615", "100000000000"] {
        let out = attnstep()
            .args(GQA)
            .arg("--all")
            .env("COLUMNS", columns)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "COLUMNS={columns}");
        let text = String::from_utf8(out.stdout).unwrap();
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest <= 1000, "COLUMNS={columns}: a line of {widest}");
        assert!(text.contains("o_proj"), "COLUMNS={columns}");
    }
}

const STAGES: [&str; 13] = [
    "input",
    "project",
    "split_heads",
    "rope",
    "kv_cache",
    "repeat_kv",
    "transpose",
    "scores",
    "causal_mask",
    "softmax",
    "weighted_sum",
    "merge_heads",
    "o_proj",
];

/// Every stage of the three steps, as the status line names them.
fn walk_order() -> Vec<String> {
    let steps = [
        "step 1/3 prefill (pos 0..4)",
        "step 2/3 decode (pos 5)",
        "step 3/3 decode (pos 6)",
    ];
    steps
        .iter()
        .flat_map(|step| {
            STAGES
                .iter()
                .enumerate()
                .map(move |(i, id)| format!("stage {}/13 {id} · {step}", i + 1))
        })
        .collect()
}

/// How each frame ends (crossterm's end of a synchronized update): frames are read one at a
/// time by expecting this.
const FRAME_END: &str = "\x1b[?2026l";

/// The status line of a frame: the last `stage 3/13 split_heads · step 1/3 prefill (pos 0..4)`.
fn status_in(frame: &str) -> Option<String> {
    let mut found = None;
    let mut from = 0;
    while let Some(i) = frame[from..].find("stage ").map(|i| i + from) {
        from = i + 1;
        let Some(len) = frame[i..].find(')') else {
            break;
        };
        let cand = &frame[i..=i + len];
        let Some((stage, step)) = cand.split_once(" · step ") else {
            continue;
        };
        let mut words = stage["stage ".len()..].split(' ');
        let ok = words.next().is_some_and(|n| n.ends_with("/13"))
            && words.next().is_some_and(|id| STAGES.contains(&id))
            && words.next().is_none()
            && step.contains(" (pos ");
        if ok {
            found = Some(cand.to_string());
        }
    }
    found
}

/// Reads the rest of the frame being drawn and returns its status line.
fn next_frame(s: &mut Session) -> String {
    let f = frame(s);
    status_in(&f).unwrap_or_else(|| panic!("no status line in {f:?}"))
}

/// Sends one key and returns the status line of the frame it drew.
fn click(s: &mut Session, key: &str) -> String {
    s.send(key).unwrap();
    next_frame(s)
}

/// What a teacher does with a clicker: PageDown through the prefill and both decode steps,
/// then PageUp all the way back, never touching the keyboard. A stage taller than the window
/// takes more than one click (the clicker pages through it), so the test follows the status
/// line click by click and checks the stages come in order, none skipped.
#[test]
fn a_clicker_walks_every_step_forward_and_back() {
    let (page_down, page_up) = ("\x1b[6~", "\x1b[5~");
    let order = walk_order();
    let mut s = spawn_pty(&[], &[]);
    assert_eq!(next_frame(&mut s), order[0]);
    let mut seen = vec![order[0].clone()];
    for _ in 0..400 {
        let at = click(&mut s, page_down);
        if seen.last() != Some(&at) {
            seen.push(at);
        }
        if seen.len() == order.len() {
            break;
        }
    }
    assert_eq!(seen, order);
    // Page past the end of the last stage: the walk says it is over instead of leaving.
    let mut ended = false;
    for _ in 0..100 {
        s.send(page_down).unwrap();
        if frame(&mut s).contains("this is the end of the walk") {
            ended = true;
            break;
        }
    }
    assert!(
        ended,
        "paging past the last stage never said the walk was over"
    );
    let mut back = vec![order.last().unwrap().clone()];
    for _ in 0..400 {
        let at = click(&mut s, page_up);
        if back.last() != Some(&at) {
            back.push(at);
        }
        if back.len() == order.len() {
            break;
        }
    }
    let reversed: Vec<String> = order.iter().rev().cloned().collect();
    assert_eq!(back, reversed);
    s.send("q").unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert_eq!(code, 0);
    assert_cooked(&settings, &screen);
}

/// Reads the rest of the frame being drawn, as text.
fn frame(s: &mut Session) -> String {
    let m = s.expect(FRAME_END).unwrap();
    String::from_utf8_lossy(m.before()).into_owned()
}

/// In a window too small for a stage, PageDown pages through it (the last row says how much
/// is left) before moving on, and PageUp pages back; → always moves to the next stage.
#[test]
fn paging_keys_scroll_a_stage_taller_than_the_window() {
    let split = "stage 3/13 split_heads · step 1/3 prefill (pos 0..4)";
    let mut s = spawn_pty(&["--batch", "2"], &[]);
    frame(&mut s);
    s.get_process_mut().set_window_size(60, 6).unwrap();
    let f = frame(&mut s);
    assert_eq!(
        status_in(&f).unwrap(),
        "stage 1/13 input · step 1/3 prefill (pos 0..4)"
    );
    s.send("3").unwrap();
    assert!(frame(&mut s).contains("go to stage 3"));
    s.send("\r").unwrap();
    let f = frame(&mut s);
    assert_eq!(status_in(&f).unwrap(), split);
    assert!(
        f.contains("more lines (j)") && !f.contains("above (k)"),
        "{f:?}"
    );
    s.send("\x1b[6~").unwrap();
    let f = frame(&mut s);
    assert_eq!(
        status_in(&f).unwrap(),
        split,
        "PageDown scrolled instead of moving on"
    );
    assert!(f.contains("above (k)"), "{f:?}");
    s.send("\x1b[5~").unwrap();
    let f = frame(&mut s);
    assert_eq!(
        status_in(&f).unwrap(),
        split,
        "PageUp went back to the top first"
    );
    assert!(!f.contains("above (k)"), "{f:?}");
    assert_eq!(
        click(&mut s, "\x1b[5~"),
        "stage 2/13 project · step 1/3 prefill (pos 0..4)"
    );
    assert_eq!(click(&mut s, "\x1b[C"), split);
    assert_eq!(
        click(&mut s, "\x1b[C"),
        "stage 4/13 rope · step 1/3 prefill (pos 0..4)"
    );
    s.send("q").unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert_eq!(code, 0);
    assert_cooked(&settings, &screen);
}

#[test]
fn quiz_with_no_input_stops_at_once() {
    let mut args = GQA.to_vec();
    args.push("--quiz");
    let (out, code) = line_mode(&args, "");
    assert_eq!(code, 0);
    assert_eq!(
        statuses(&out),
        vec!["stage 1/13 input · step 1/3 prefill (pos 0..4) · head 0 of 0…7 · ? help"]
    );
    assert!(!out.contains("Quiz:"), "{out}");
}

/// A terminal that hangs up with no signal reaching the program (its pty closed by tmux or an
/// ssh server while the program is not the session leader): the walk must end, not spin.
#[cfg(target_os = "linux")]
#[test]
fn a_terminal_that_hangs_up_ends_the_walk() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::Stdio;
    use std::time::Instant;

    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two new file descriptors into the two integers.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // openpty's descriptors are inherited by default: the child must not hold the master open.
    for fd in [master, slave] {
        // SAFETY: fcntl on descriptors this test owns.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // SAFETY: both descriptors were just opened and are owned here alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_attnstep"))
        .args(GQA)
        .env("TERM", "xterm-256color")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(slave);
    // Let it draw its first screen (it is waiting for keys), then hang up.
    let mut first = [0u8; 256];
    let mut file = std::fs::File::from(master);
    use std::io::Read;
    let n = file.read(&mut first).unwrap();
    assert!(n > 0, "the stepper drew on the terminal");
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "still stepping");
    drop(file);
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "attnstep still running 10 s after its terminal hung up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- issue 12: lessons in the stepper: notes that follow the view, one numbering, variants ----

/// A lesson in line mode, with its own state directory (progress is not the machine's).
fn lesson_lines(args: &[&str], input: &str) -> String {
    let state = std::env::temp_dir().join(format!("attnstep-it-issue12-{}", std::process::id()));
    let out = attnstep()
        .env("ATTNSTEP_STATE_DIR", &state)
        .arg("lesson")
        .args(args)
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The screens line mode printed, each ending with its status line.
fn screens(out: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut cur = String::new();
    for line in out.lines() {
        cur.push_str(line);
        cur.push('\n');
        if line.starts_with('[') && line.ends_with(']') {
            all.push(std::mem::take(&mut cur));
        }
    }
    all
}

/// The number right after `prefix` in `text`.
fn number_after(text: &str, prefix: &str) -> Option<usize> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[test]
fn notes_follow_the_head_chosen_while_stepping() {
    // Issue 12, item 2: the table said h=1 while the note said head 0.
    let out = lesson_lines(&["heads"], ":scores\n]\nhead 2\nq\n");
    let shown = screens(&out);
    for (screen, want) in shown[1..].iter().zip([0, 1, 2]) {
        let flat = screen.split_whitespace().collect::<Vec<_>>().join(" ");
        let table = number_after(&flat, "scores[b=0, h=").unwrap();
        let note = number_after(&flat, "You are looking at head ").unwrap();
        let status = number_after(&flat, "· head ").unwrap();
        assert_eq!((table, note, status), (want, want, want), "{screen}");
    }
}

#[test]
fn the_status_line_counts_stages_as_the_banner_does() {
    // Issue 12, item 7: the banner said 9/14 and the status line 5/8.
    let out = lesson_lines(&["causal"], ":scores\n9\n5\nq\n");
    let shown = screens(&out);
    for (screen, n) in shown[1..].iter().zip([8, 9]) {
        let banner = number_after(screen, "━━ stage ").unwrap();
        let status = number_after(screen, "[stage ").unwrap();
        assert_eq!((banner, status), (n, n), "{screen}");
    }
    assert!(
        out.contains(
            "stage 5 is not part of this walk; step 1 shows: 8 scores, 9 causal_mask, \
             10 softmax, 11 weighted_sum"
        ),
        "{out}"
    );
}

#[test]
fn the_lesson_quiz_asks_about_the_mask() {
    // Issue 12, item 5: lesson 4 asked two shape questions and nothing about the mask.
    let script = "n\n1 2 5 5\n1 2 seq_len=5 kv_len=5\nn\nn\n0-3\n0-4\n0\nn\n1 2 5 4\nn\n";
    let out = lesson_lines(&["causal", "--quiz"], script);
    // The last query of the prefill (position 4) sees keys 0 to 4; a key after a query gets
    // -inf, and exp(-inf) is 0.
    assert!(
        out.contains("Which key positions may the query at position 4 (batch row 0) attend to?"),
        "{out}"
    );
    assert!(out.contains("✓ right: the answer is 0…4"), "{out}");
    assert!(out.contains("e^−∞ is exactly 0"), "{out}");
    assert!(
        out.contains("Quiz: 3/4 first try\nmissed: step 1 softmax (visible_keys)"),
        "{out}"
    );
}

#[test]
fn v_switches_variant_in_line_mode_and_the_notes_follow() {
    let out = lesson_lines(
        &["mha-gqa-mqa"],
        "kv_cache\nv\nvariant mqa\nv\nvariant gqq\nq\n",
    );
    let shown = screens(&out);
    let mut seen = Vec::new();
    for screen in &shown[1..] {
        let flat = screen.split_whitespace().collect::<Vec<_>>().join(" ");
        let status = flat.rsplit('[').next().unwrap();
        assert!(
            status.starts_with("stage 5/13 kv_cache · step 1/2"),
            "{status}"
        );
        let name = &status[status.find("variant ").unwrap() + 8..];
        let name = &name[..name.find(' ').unwrap()];
        // The note's cache size is the one of the table beside it.
        let n_kv = number_after(&flat, "n_kv_heads=").unwrap();
        let head_dim = number_after(&flat, "head_dim=").unwrap();
        let note = format!(
            "Per token and layer that is 2 × {n_kv} × {head_dim} = {} numbers",
            2 * n_kv * head_dim
        );
        assert!(flat.contains(&note), "{note} missing: {flat}");
        seen.push((name.to_string(), n_kv));
    }
    assert_eq!(
        seen,
        [("mha", 8), ("gqa", 2), ("mqa", 1), ("mha", 8)].map(|(n, k)| (n.to_string(), k))
    );
    assert!(
        out.contains("no variant 'gqq': the variants are mha, gqa, mqa"),
        "{out}"
    );
}

#[test]
fn v_switches_variant_in_the_stepper() {
    let state =
        std::env::temp_dir().join(format!("attnstep-it-issue12-pty-{}", std::process::id()));
    let state = state.to_str().unwrap().to_owned();
    let mut s = spawn_pty_args(
        100,
        60,
        &["lesson", "mha-gqa-mqa"],
        &[("ATTNSTEP_STATE_DIR", state.as_str()), ("NO_COLOR", "1")],
        &[],
    );
    s.expect("welcome · Space or → to start · variant mha")
        .unwrap();
    s.send(" ").unwrap();
    s.expect("stage 2/13 project · step 1/2 prefill (pos 0..2) · variant mha")
        .unwrap();
    s.send("v").unwrap();
    s.expect("stage 2/13 project · step 1/2 prefill (pos 0..2) · variant gqa")
        .unwrap();
    s.send(":variant mqa\r").unwrap();
    // The frame draws the mqa tables (one KV head, 8 copies) above its status line.
    s.expect("n_kv_heads=1 n_rep=8").unwrap();
    s.expect("variant mqa").unwrap();
    s.send("q").unwrap();
    let (code, settings, screen) = finish(&mut s);
    assert_eq!(code, 0);
    assert_cooked(&settings, &screen);
}
