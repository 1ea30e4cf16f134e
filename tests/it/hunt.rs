//! Finding planted bugs end to end: `attnstep bugs [--explain]`, `--bug` on the commands and
//! its mistakes, `run --diff`, `attnstep diff A -- B`, the lesson `bug` key, the six bug-hunt
//! lessons walked in line mode, and the stepper's `d` and hunt in a pseudo-terminal.
//!
//! Expectations are written out by hand: which stage each slip breaks first follows from where
//! it sits in MiniMind's forward; shapes come from the preset's sizes (minimind2: hidden 512,
//! 8 query heads, 2 KV heads, head_dim 64).

use std::path::Path;
use std::time::Duration;

use expectrl::session::OsSession as Session;
use expectrl::{Eof, Expect};

use crate::support::{self, state_dir};

/// Runs `attnstep ARGS` with `input` on stdin; returns (status, stdout, stderr).
fn run_in(state: &Path, args: &[&str], input: &str) -> (i32, String, String) {
    let out = support::attnstep()
        .env("ATTNSTEP_STATE_DIR", state)
        .args(args)
        .write_stdin(input)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn ok(args: &[&str]) -> String {
    let (code, out, err) = run_in(&state_dir("hunt-ok"), args, "");
    assert_eq!(code, 0, "attnstep {args:?}: {err}");
    out
}

/// Checks `attnstep ARGS` refuses with status 2 and nothing on stdout; returns stderr.
fn refused(args: &[&str]) -> String {
    let (code, out, err) = run_in(&state_dir("hunt-refused"), args, "");
    assert_eq!(code, 2, "attnstep {args:?}: {out}{err}");
    assert!(out.is_empty(), "attnstep {args:?} printed {out}");
    err
}

/// Each slip's name and the stage where it first shows, worked out from where the slip sits in
/// MiniMind's forward (the scale is applied in the scores line, the tiles are made in
/// repeat_kv, the unrotated keys first appear when the cache hands them back, …).
const FIRST_STAGES: [(&str, &str); 10] = [
    ("scale-by-hidden", "scores"),
    ("no-scale", "scores"),
    ("softmax-over-queries", "softmax"),
    ("causal-not-offset", "causal_mask"),
    ("rope-restarts", "rope"),
    ("repeat-kv-tiles", "repeat_kv"),
    ("view-without-transpose", "split_heads"),
    ("padding-neg-inf", "padding_mask"),
    ("values-not-repeated", "weighted_sum"),
    ("cache-before-rope", "kv_cache"),
];

#[test]
fn bugs_lists_ten_slips_with_a_symptom_each_and_no_answers() {
    let out = ok(&["bugs"]);
    for (name, stage) in FIRST_STAGES {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing: {out}"));
        let symptom = line.trim_start()[name.len()..].trim();
        assert!(symptom.split_whitespace().count() >= 4, "{line}");
        // The answer is not given away: no stage where it shows, no explanation.
        assert!(
            !line.contains(stage) || name.contains(stage),
            "{name} names its stage: {line}"
        );
    }
    assert!(!out.contains("first shows at"), "{out}");
    assert!(!out.contains("MiniMind ("), "{out}");
    assert!(out.contains("attnstep bugs --explain"), "{out}");
}

#[test]
fn bugs_explain_says_where_each_slip_first_shows_and_which_line_it_breaks() {
    let out = ok(&["bugs", "--explain"]);
    for (i, (name, stage)) in FIRST_STAGES.iter().enumerate() {
        let start = out
            .find(&format!("\n  {name} "))
            .unwrap_or_else(|| panic!("{name} missing"));
        let end = FIRST_STAGES
            .get(i + 1)
            .and_then(|(next, _)| out.find(&format!("\n  {next} ")))
            .unwrap_or(out.len());
        let entry = &out[start..end];
        assert!(
            entry.contains(&format!("first shows at: {stage} (")),
            "{name}: {entry}"
        );
        assert!(entry.contains("MiniMind ("), "{name}: {entry}");
        assert!(entry.contains("planted:"), "{name}: {entry}");
        // Only the values slip changes a shape: weights @ xv cannot even be formed.
        let shape = if *name == "values-not-repeated" {
            "(breaks a shape)"
        } else {
            "(every shape stays right"
        };
        assert!(entry.contains(shape), "{name}: {entry}");
    }
    // Two lines checked against model_minimind.py by hand.
    assert!(out.contains("scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(self.head_dim)"));
    assert!(out.contains("past_kv = (xk, xv) if use_cache else None"));
}

#[test]
fn an_unknown_slip_is_refused_with_the_list_and_the_nearest_name() {
    for args in [
        &["run", "--bug", "no-scal", "--all"][..],
        &["export", "--bug", "no-scal", "-o", "-"],
        &["lesson", "tour", "--bug", "no-scal", "--all"],
    ] {
        let err = refused(args);
        assert!(
            err.contains("--bug: no slip is called \"no-scal\", did you mean \"no-scale\"?"),
            "{args:?}: {err}"
        );
        for (name, _) in FIRST_STAGES {
            assert!(err.contains(name), "{args:?} does not list {name}: {err}");
        }
    }
    // Nothing near: no suggestion, still the list.
    let err = refused(&["run", "--bug", "qwerty", "--all"]);
    assert!(err.contains("no slip is called \"qwerty\". The slips are: scale-by-hidden"));
}

#[test]
fn values_not_repeated_is_a_shape_error_with_several_kv_heads() {
    // 4 query heads, 2 KV heads: weights has 4 matrices per row, xv only 2.
    for cmd in ["run", "export"] {
        let mut args = vec![cmd, "--bug", "values-not-repeated"];
        args.extend(["--num-heads", "4", "--num-kv-heads", "2"]);
        args.extend(if cmd == "run" {
            &["--all"][..]
        } else {
            &["-o", "-"]
        });
        let err = refused(&args);
        assert!(
            err.contains("--bug values-not-repeated: output = weights @ xv cannot work")
                && err.contains("4 ≠ 2")
                && err.contains("repeat_kv(xv, self.n_rep)"),
            "{err}"
        );
    }
    // One KV head broadcasts, as PyTorch does: it runs, and the output is MiniMind's.
    let out = ok(&[
        "run",
        "--bug",
        "values-not-repeated",
        "--num-heads",
        "4",
        "--num-kv-heads",
        "1",
        "--all",
        "--diff",
    ]);
    assert!(!out.contains("shapes right, numbers wrong"), "{out}");
    assert!(out.contains("xv_repeat is [bsz=1, kv_len=5, n_kv_heads=1, head_dim=8] here"));
}

/// The banner line of the stage a `--diff` printout marks with ▶.
fn marked_stage(out: &str) -> (String, String) {
    let marks: Vec<usize> = out
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with('▶'))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(marks.len(), 1, "one stage is marked: {out}");
    let lines: Vec<&str> = out.lines().collect();
    let banner = lines[..marks[0]]
        .iter()
        .rposition(|l| l.starts_with("━━ stage"))
        .unwrap();
    (lines[banner].to_string(), lines[banner + 1].to_string())
}

#[test]
fn run_diff_marks_the_first_stage_that_goes_wrong() {
    let small = [
        "--hidden-size",
        "16",
        "--num-heads",
        "4",
        "--num-kv-heads",
        "2",
    ];
    let cases: [(&str, &[&str], &str, &str); 4] = [
        (
            "no-scale",
            &["--seq-len", "4"],
            "step 1/1 prefill",
            "scores ·",
        ),
        (
            "causal-not-offset",
            &["--steps", "4,3"],
            "step 2/2 chunk",
            "causal_mask ·",
        ),
        (
            "rope-restarts",
            &["--steps", "4,1"],
            "step 2/2 decode",
            "rope ·",
        ),
        (
            "view-without-transpose",
            &["--seq-len", "4"],
            "step 1/1 prefill",
            "split_heads ·",
        ),
    ];
    for (bug, steps, step, stage) in cases {
        let mut args = vec!["run", "--bug", bug, "--all", "--diff"];
        args.extend(small);
        args.extend(steps);
        let out = ok(&args);
        let (banner, title) = marked_stage(&out);
        assert!(banner.contains(step), "{bug}: marked {banner}");
        assert!(title.starts_with(stage), "{bug}: marked {title}");
        // Every stage before the marked one says it agrees; the slips keep every shape.
        let before = &out[..out.find("\n▶").unwrap()];
        assert!(!before.contains("this stage differs"), "{bug}");
        assert!(before.contains("same numbers here"), "{bug}");
        assert!(out.contains("shapes right, numbers wrong"), "{bug}");
        assert!(out.contains("faithful: MiniMind's numbers for"), "{bug}");
        let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.ends_with("only the numbers are wrong."), "{bug}");
    }
    // --diff needs a slip, and does not go with the quiz.
    let err = refused(&["run", "--diff", "--all"]);
    assert!(
        err.contains("--diff") && err.contains("--bug NAME"),
        "{err}"
    );
    let err = refused(&["run", "--bug", "no-scale", "--diff", "--quiz"]);
    assert!(err.contains("choose one"), "{err}");
}

#[test]
fn diff_of_one_shot_and_chunked_prefill_agrees_and_shows_the_shapes_that_differ() {
    let out = ok(&[
        "diff",
        "--preset",
        "minimind2",
        "--steps",
        "6,1",
        "--",
        "--steps",
        "3,3,1",
    ]);
    // The calls ending at 6 (6 new tokens against 3) differ in seq_len only.
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("A call 1 ↔ B call 2"), "{out}");
    assert!(flat.contains("A call 2 ↔ B call 3"), "{out}");
    assert!(
        flat.contains("B call 1 ends where the other run has no call"),
        "{out}"
    );
    assert!(
        flat.contains(
            "xq_t shape [bsz=1, n_heads=8, seq_len=6, head_dim=64] vs \
             [bsz=1, n_heads=8, seq_len=3, head_dim=64]"
        ),
        "{out}"
    );
    assert!(
        flat.contains(
            "scores shape [bsz=1, n_heads=8, seq_len=6, kv_len=6] vs \
             [bsz=1, n_heads=8, seq_len=3, kv_len=6]"
        ),
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with('▶')),
        "nothing differs: {out}"
    );
    let last = out
        .lines()
        .find(|l| l.starts_with("Last call's output"))
        .expect("the last output's verdict");
    assert!(last.contains("(o_proj, up to position 6) agrees"), "{last}");
    let delta: f32 = last
        .split("largest |Δ| ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(delta <= 1e-5, "{last}");
}

#[test]
fn diff_of_gqa_and_mha_shows_the_kv_heads_and_where_numbers_part() {
    let out = ok(&[
        "diff",
        "--preset",
        "minimind2",
        "--seq-len",
        "5",
        "--",
        "--num-kv-heads",
        "8",
    ]);
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    // 2 KV heads of 64 against 8.
    assert!(
        flat.contains(
            "xk_proj shape [bsz=1, seq_len=5, n_kv_heads·head_dim=128] vs \
             [bsz=1, seq_len=5, n_kv_heads·head_dim=512]"
        ),
        "{out}"
    );
    // Same seed: q_proj is drawn first with the same shape, and both read the same x.
    assert!(flat.contains("the same q_proj"), "{out}");
    assert!(flat.contains("input same numbers"), "{out}");
    assert!(out.contains("Last call's output (o_proj, up to position 4) differs"));
    // A second run's flags that do not parse are the user's mistake.
    let err = refused(&["diff", "--seq-len", "3", "--", "--num-kv-head", "1"]);
    assert!(
        err.contains("after --") && err.contains("--num-kv-head"),
        "{err}"
    );
    let err = refused(&["diff", "--seq-len", "3"]);
    assert!(
        err.contains("give the first run's flags, then `--`"),
        "{err}"
    );
}

/// Writes a lesson file with `top` before `[config]` and `config` inside it.
fn lesson_file(dir: &Path, name: &str, top: &str, config: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("format_version = 1\ntitle = \"T\"\nsummary = \"S\"\n{top}\n[config]\n{config}\n"),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn the_lesson_bug_key_is_checked_where_it_is_written() {
    let dir = state_dir("hunt-files");
    let unknown = lesson_file(&dir, "a.toml", "bug = \"scale-by-hiden\"", "seq_len = 4");
    let err = refused(&["lessons", "check", &unknown]);
    assert!(
        err.contains(&format!(
            "{unknown}:4:7: no slip is called \"scale-by-hiden\", did you mean \"scale-by-hidden\"?"
        )),
        "{err}"
    );
    // A lone prefill hides a cache slip: the lesson would hunt for nothing.
    let prefill = lesson_file(&dir, "b.toml", "bug = \"causal-not-offset\"", "steps = [4]");
    let err = refused(&["lessons", "check", &prefill]);
    assert!(
        err.contains(&format!(
            "{prefill}:4:7: the slip causal-not-offset cannot show"
        )) && err.contains("chunk"),
        "{err}"
    );
    // Decode steps do not show it either: their 1×1 triangle is empty.
    let decode = lesson_file(
        &dir,
        "c.toml",
        "bug = \"causal-not-offset\"",
        "steps = [4, 1, 1]",
    );
    assert!(refused(&["lessons", "check", &decode]).contains("cannot show"));
    // The stage the hunt asks for must be shown.
    let hidden = lesson_file(
        &dir,
        "d.toml",
        "bug = \"no-scale\"\nstages = [\"softmax\"]",
        "seq_len = 4",
    );
    let err = refused(&["lessons", "check", &hidden]);
    assert!(
        err.contains(&format!("{hidden}:5:10: stages leaves out scores")),
        "{err}"
    );
    let shape = lesson_file(
        &dir,
        "e.toml",
        "bug = \"values-not-repeated\"",
        "num_heads = 4\nnum_kv_heads = 2",
    );
    assert!(refused(&["lessons", "check", &shape]).contains("weights @ xv cannot work"));
    let fine = lesson_file(
        &dir,
        "f.toml",
        "bug = \"causal-not-offset\"",
        "steps = [4, 3]",
    );
    assert!(ok(&["lessons", "check", &fine]).starts_with("ok  "));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bundled bug hunt: its name, a wrong guess, the right answer (by number as the status
/// line shows it, or by name), the stage and step it names, the MiniMind line it broke.
struct Hunt {
    lesson: &'static str,
    wrong: &'static str,
    right: &'static str,
    stage: &'static str,
    step: usize,
    line: &'static str,
}

/// Stage numbers count the lesson's `stages` list from 1.
const HUNTS: [Hunt; 6] = [
    Hunt {
        lesson: "bug-scale",
        wrong: "softmax",
        right: "5",
        stage: "scores",
        step: 1,
        line: "scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(self.head_dim)",
    },
    Hunt {
        lesson: "bug-softmax",
        wrong: "scores",
        right: "softmax",
        stage: "softmax",
        step: 1,
        line: "F.softmax(scores.float(), dim=-1)",
    },
    Hunt {
        lesson: "bug-causal",
        wrong: "causal_mask step 1",
        right: "causal_mask in step 2",
        stage: "causal_mask",
        step: 2,
        line: "scores[:, :, :, -seq_len:] += torch.full",
    },
    Hunt {
        lesson: "bug-rope",
        wrong: "step 3 softmax",
        right: "step 2 rope",
        stage: "rope",
        step: 2,
        line: "position_embeddings = (self.freqs_cos[start_pos:start_pos + seq_length]",
    },
    Hunt {
        lesson: "bug-repeat-kv",
        wrong: "2",
        right: "3",
        stage: "repeat_kv",
        step: 1,
        line: "x[:, :, :, None, :].expand(bs, slen, num_key_value_heads, n_rep, head_dim)",
    },
    Hunt {
        lesson: "bug-view",
        wrong: "transpose",
        right: "2",
        stage: "split_heads",
        step: 1,
        line: "xq = xq.view(bsz, seq_len, self.n_local_heads, self.head_dim)",
    },
];

/// The letter the line question gives `line` (read from the choices, which the walk prints).
fn letter_of(out: &str, line: &str) -> char {
    let choice = out
        .lines()
        .find(|l| l.trim_start().get(3..).is_some_and(|t| t.starts_with(line)))
        .unwrap_or_else(|| panic!("no choice starts with {line}: {out}"));
    choice.trim_start().chars().next().unwrap()
}

#[test]
fn every_bug_hunt_lesson_takes_a_wrong_then_a_right_answer_and_scores_it() {
    for h in HUNTS {
        let state = state_dir(&format!("hunt-{}", h.lesson));
        // First, the choices of the line question (reached by giving the stage up).
        let (code, probe, err) = run_in(&state, &["lesson", h.lesson], "G\nskip\n");
        assert_eq!(code, 0, "{}: {err}", h.lesson);
        let right = letter_of(&probe, h.line);
        let wrong = ['a', 'b', 'c', 'd']
            .into_iter()
            .find(|&c| c != right)
            .unwrap();
        let _ = std::fs::remove_dir_all(&state);

        let input = format!("G\n{}\n{}\n{wrong}\n{right}\n", h.wrong, h.right);
        let (code, out, err) = run_in(&state, &["lesson", h.lesson], &input);
        assert_eq!(code, 0, "{}: {err}", h.lesson);
        let at = |s: &str| {
            out.find(s)
                .unwrap_or_else(|| panic!("{}: {s:?} missing in {out}", h.lesson))
        };
        // The question, a wrong guess with the symptom as a hint, then the right one.
        let asked = at("Where does the run first go wrong?");
        let wrong_at = at("✗ not ");
        assert!(asked < wrong_at);
        assert!(
            out[wrong_at..].lines().nth(1).unwrap().contains("hint:"),
            "{out}"
        );
        let found = at("✓ right: the run first goes wrong at stage");
        assert!(
            out[found..]
                .lines()
                .next()
                .unwrap()
                .contains(&format!("{}, step {} (", h.stage, h.step)),
            "{}: {}",
            h.lesson,
            &out[found..]
        );
        // Only after the answer: the comparison with MiniMind's run and the explanation.
        let diff = at("beside MiniMind's faithful run");
        let slip = at("The slip: ");
        assert!(found < slip && slip < diff, "{}", h.lesson);
        assert!(at("faithful:") > found);
        // The line: a wrong letter, then the right one, and the score.
        let wrong_line = at(&format!("✗ not {wrong}: the planted run keeps that line"));
        let right_line = at(&format!("✓ right: {right}) in "));
        assert!(diff < wrong_line && wrong_line < right_line, "{}", h.lesson);
        assert!(
            out[right_line..].contains(&format!("MiniMind: {}", h.line)),
            "{}",
            h.lesson
        );
        assert!(
            out.contains(
                "Bug hunt: 0/2 first try (the stage after 1 wrong, the line after 1 wrong)"
            ),
            "{}: {out}",
            h.lesson
        );
        // The progress keeps the hunt's score.
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(state.join("progress.json")).unwrap())
                .unwrap();
        let quiz = &saved["lessons"][h.lesson]["quiz"];
        assert_eq!(
            (quiz["correct"].as_u64(), quiz["asked"].as_u64()),
            (Some(0), Some(2))
        );
        let _ = std::fs::remove_dir_all(&state);
    }
}

#[test]
fn the_comparison_in_line_mode_opens_with_d_once_there_is_something_to_compare() {
    let state = state_dir("hunt-line-d");
    // run --bug: d opens the comparison at once.
    let (code, out, _) = run_in(
        &state,
        &["run", "--bug", "no-scale", "--seq-len", "4"],
        ":scores\nd\nq\n",
    );
    assert_eq!(code, 0);
    let opened = out
        .find("▶ beside MiniMind's faithful run: this stage differs")
        .unwrap();
    assert!(out[..opened].contains("stage 8/13 scores"), "{out}");
    assert!(out.contains("d hide diff"), "{out}");
    // Without a slip, d says how to plant one.
    let (_, out, _) = run_in(&state, &["run", "--seq-len", "4"], "d\nq\n");
    assert!(out.contains("plant one with --bug NAME"), "{out}");
    // In a hunt, not before the stage is found.
    let (_, out, _) = run_in(&state, &["lesson", "bug-view"], "n\nd\nq\n");
    assert!(out.contains("opens once you have found"), "{out}");
    assert!(!out.contains("beside MiniMind's faithful run"), "{out}");
    let _ = std::fs::remove_dir_all(&state);
}

/// `attnstep ARGS` in a 100×60 pseudo-terminal; the shell prints the exit status after it.
fn spawn_pty(args: &[&str], state: &Path) -> Session {
    let bin = env!("CARGO_BIN_EXE_attnstep");
    let script = format!(
        "stty sane; until [ \"$(stty size)\" = \"60 100\" ]; do sleep 0.05; done; \
         {bin} {}; echo \"exit=$?\"",
        args.join(" ")
    );
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &script])
        .env("TERM", "xterm-256color")
        .env("ATTNSTEP_STATE_DIR", state)
        .env_remove("RUST_BACKTRACE");
    let mut s = Session::spawn(cmd).expect("spawn a pty");
    s.get_process_mut().set_window_size(100, 60).unwrap();
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    s
}

fn exit_code(s: &mut Session) -> i32 {
    let m = s.expect(expectrl::Regex("exit=[0-9]+")).unwrap();
    let code = String::from_utf8_lossy(m.get(0).unwrap())
        .trim_start_matches("exit=")
        .parse()
        .unwrap();
    s.expect(Eof).unwrap();
    code
}

#[test]
fn in_the_terminal_d_toggles_the_comparison_and_a_hunt_is_answered_by_keys() {
    let state = state_dir("hunt-pty");
    let mut s = spawn_pty(
        &[
            "run",
            "--bug",
            "no-scale",
            "--seq-len",
            "4",
            "--hidden-size",
            "16",
        ],
        &state,
    );
    s.expect("stage 1/13 input").unwrap();
    s.expect("d diff").unwrap();
    s.send(":scores\r").unwrap();
    s.expect("stage 8/13 scores").unwrap();
    s.send("d").unwrap();
    s.expect("▶ beside MiniMind's faithful run").unwrap();
    s.expect("d hide diff").unwrap();
    s.send("q").unwrap();
    assert_eq!(exit_code(&mut s), 0);

    let mut s = spawn_pty(&["lesson", "bug-scale"], &state);
    s.expect("welcome").unwrap();
    s.send(" ").unwrap();
    s.expect("G: find the slip").unwrap();
    s.send("G").unwrap();
    s.expect("Where does the run first go wrong?").unwrap();
    s.send("scores\r").unwrap();
    s.expect("✓ right").unwrap();
    let m = s
        .expect(expectrl::Regex(r"([a-d])\) scores = \(xq @ xk"))
        .unwrap();
    let letter = String::from_utf8_lossy(m.get(1).unwrap()).into_owned();
    s.send(format!("{letter}\r")).unwrap();
    s.expect("Bug hunt: 2/2 first try").unwrap();
    s.send("q").unwrap();
    assert_eq!(exit_code(&mut s), 0);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn export_records_the_slip_and_a_run_that_hides_it_is_warned_about() {
    let json = ok(&["export", "--bug", "no-scale", "--seq-len", "2", "-o", "-"]);
    let trace: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(trace["config"]["bug"], "no-scale");
    let plain = ok(&["export", "--seq-len", "2", "-o", "-"]);
    let trace: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert!(
        trace["config"].get("bug").is_none(),
        "MiniMind's run names no slip"
    );
    // A lone prefill cannot show a cache slip: it runs, and says so.
    let (code, _, err) = run_in(
        &state_dir("hunt-hidden"),
        &[
            "run",
            "--bug",
            "causal-not-offset",
            "--seq-len",
            "3",
            "--all",
        ],
        "",
    );
    assert_eq!(code, 0);
    assert!(
        err.starts_with("attnstep: warning: the slip causal-not-offset cannot show"),
        "{err}"
    );
}

/// A tensor of the first step of an `attnstep export` trace, as numbers.
fn exported(trace: &serde_json::Value, name: &str) -> Vec<f64> {
    trace["steps"][0]["tensors"][name]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is exported"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn softmax(row: &[f64]) -> Vec<f64> {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = row.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// The numbers of the row labelled `label` in a printed table (shading marks stripped), or
/// None when no such row is printed.
fn table_row(out: &str, label: &str) -> Option<Vec<f64>> {
    let line = out.lines().find(|l| l.trim_start().starts_with(label))?;
    Some(
        line.split('│')
            .skip(1)
            .map(|cell| {
                let num: String = cell
                    .chars()
                    .filter(|ch| ch.is_ascii_digit() || *ch == '.' || *ch == '-')
                    .collect();
                num.parse().unwrap_or_else(|_| panic!("a number in {line}"))
            })
            .collect(),
    )
}

/// The "why ÷√head_dim" rows under the softmax stage softmax query 3's row of head 0 with and
/// without MiniMind's division. They are worked out here from q and k of the exported run, so
/// they hold only where the recorded scores were divided by √head_dim: under the two scale slips
/// the exported scores show a different divisor, and the comparison must be left out rather
/// than mislabel the planted scores as MiniMind's.
#[test]
fn the_scale_comparison_is_true_to_the_run_or_left_out_under_a_scale_slip() {
    // hidden 16, 4 query heads of head_dim 4 (so √head_dim = 2, √hidden = 4), 4 tokens in one
    // prefill: the last query sees all 4 keys, so no mask enters its row.
    let sizes = [
        "--hidden-size",
        "16",
        "--num-heads",
        "4",
        "--num-kv-heads",
        "2",
        "--seq-len",
        "4",
    ];
    // The slip, and what the recorded scores are divided by under it.
    let cases: [(Option<&str>, f64); 5] = [
        (None, 2.0),
        (Some("scale-by-hidden"), 4.0),
        (Some("no-scale"), 1.0),
        (Some("softmax-over-queries"), 2.0),
        (Some("repeat-kv-tiles"), 2.0),
    ];
    for (bug, divisor) in cases {
        let mut flags: Vec<&str> = sizes.to_vec();
        if let Some(bug) = bug {
            flags.extend(["--bug", bug]);
        }
        let mut args = vec!["export", "-o", "-"];
        args.extend(&flags);
        let trace: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
        // xq_t and xk_t are [1, 4 heads, 4 positions, 4 features]: head 0 is the first 16
        // numbers, query 3 its last 4, key j numbers 4j..4j+4.
        let (q, k, scores) = (
            exported(&trace, "xq_t"),
            exported(&trace, "xk_t"),
            exported(&trace, "scores"),
        );
        let raw: Vec<f64> = (0..4)
            .map(|j| (0..4).map(|d| q[12 + d] * k[4 * j + d]).sum())
            .collect();
        for (j, r) in raw.iter().enumerate() {
            assert!(
                (scores[12 + j] - r / divisor).abs() < 1e-5,
                "{bug:?}: scores[3, {j}] is q·k / {divisor}"
            );
        }
        let mut args = vec!["run", "--stage", "softmax", "--color", "never"];
        args.extend(&flags);
        let out = ok(&args);
        let with = table_row(&out, "÷√4 (MiniMind)");
        let without = table_row(&out, "without ÷√4");
        if divisor != 2.0 {
            assert!(!out.contains("why ÷√head_dim"), "{bug:?}: {out}");
            assert_eq!((with, without), (None, None), "{bug:?}: {out}");
            continue;
        }
        assert!(
            out.contains("why ÷√head_dim: query 3's row of head 0"),
            "{bug:?}: {out}"
        );
        let expect = [
            softmax(&raw.iter().map(|r| r / 2.0).collect::<Vec<_>>()),
            softmax(&raw),
        ];
        for (row, expect) in [with, without].into_iter().zip(expect) {
            let row = row.unwrap_or_else(|| panic!("{bug:?}: both rows are printed: {out}"));
            // Four weights, then the Σ row column.
            assert_eq!(row.len(), 5, "{bug:?}: {row:?}");
            for (got, want) in row.iter().zip(&expect) {
                assert!((got - want).abs() < 6e-4, "{bug:?}: {row:?} vs {expect:?}");
            }
            assert!((row[4] - 1.0).abs() < 6e-4, "{bug:?}: {row:?}");
        }
    }
}

/// The rope stage's table of relative positions redoes MiniMind's score of one pair from the
/// rows before RoPE. Its first row is the run's own score only in MiniMind's run: under
/// scale-by-hidden (scores ÷√16 instead of ÷√4) the decode step's score is half of it, so the
/// sentence that equates the two is left out under a slip.
#[test]
fn the_rope_table_claims_the_runs_own_score_only_without_a_slip() {
    let sizes = [
        "--hidden-size",
        "16",
        "--num-heads",
        "4",
        "--num-kv-heads",
        "2",
        "--steps",
        "4,1",
    ];
    for (bug, halved) in [(None, false), (Some("scale-by-hidden"), true)] {
        let mut flags: Vec<&str> = sizes.to_vec();
        if let Some(bug) = bug {
            flags.extend(["--bug", bug]);
        }
        let mut args = vec!["export", "-o", "-"];
        args.extend(&flags);
        let trace: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
        // The decode step's scores are [1, 4 heads, 1 query, 5 keys]: head 0, key 4 (its own).
        let own = trace["steps"][1]["tensors"]["scores"]["data"][4]
            .as_f64()
            .unwrap();
        let mut args = vec!["run", "--stage", "rope", "--color", "never"];
        args.extend(&flags);
        let out = ok(&args);
        let step2 = &out[out.find("step 2/2").expect("the decode step is shown")..];
        // The first row of the table: q at 4, k at 4, distance 0, the score.
        let first = step2
            .lines()
            .find_map(|l| {
                let cells: Vec<&str> = l.split('│').map(str::trim).collect();
                (cells.len() == 4 && cells[..3] == ["4", "4", "0"]).then(|| cells[3].to_string())
            })
            .unwrap_or_else(|| panic!("{bug:?}: the table's first row: {step2}"));
        let first: f64 = first.parse().unwrap();
        let flat = step2.split_whitespace().collect::<Vec<_>>().join(" ");
        let claims = flat.contains("The first row is this step's own score, scores[0, 0, 0, 4].");
        if halved {
            assert!(
                (own * 2.0 - first).abs() < 1e-3,
                "{bug:?}: {own} vs {first}"
            );
            assert!(!claims, "{bug:?}: {step2}");
        } else {
            assert!((own - first).abs() < 1e-3, "{bug:?}: {own} vs {first}");
            assert!(claims, "{bug:?}: {step2}");
        }
    }
}

#[test]
fn a_hunt_run_with_another_slip_says_the_lessons_text_is_about_its_own() {
    let warning = "This lesson is written about the slip";
    let own = ok(&["lesson", "16", "--all", "--color", "never"]);
    assert!(!own.contains(warning), "{own}");
    let other = ok(&[
        "lesson", "16", "--all", "--color", "never", "--bug", "no-scale",
    ]);
    let first = other.find(warning).expect("the warning is shown");
    let line: String = other[first..]
        .split("\n\n")
        .next()
        .unwrap()
        .replace('\n', " ");
    assert!(
        line.contains("scale-by-hidden") && line.contains("--bug no-scale"),
        "{line}"
    );
    // Shown once, before the first stage.
    assert_eq!(other.matches(warning).count(), 1);
    assert!(first < other.find("input ·").or(other.find("scores ·")).unwrap());
}

#[test]
fn a_hunt_whose_slip_cannot_show_says_so_on_the_page() {
    // Without the causal mask, moving the mask changes nothing: the run is MiniMind's own.
    let out = ok(&["lesson", "18", "--all", "--color", "never", "--no-causal"]);
    let banner = out
        .find("⚠ The slip causal-not-offset cannot show")
        .expect("the banner");
    assert!(banner < out.find("causal_mask ·").unwrap(), "{out}");
    let own = ok(&["lesson", "18", "--all", "--color", "never"]);
    assert!(!own.contains("cannot show"), "{own}");
}

#[test]
fn with_a_slip_planted_every_stage_explains_minimind_not_the_tables() {
    let frame = "What MiniMind's code does here (a slip is planted";
    let flat = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let flags = ["run", "--seq-len", "5", "--all", "--color", "never"];
    let clean = flat(ok(&flags));
    assert!(!clean.contains(frame), "{clean}");
    assert!(
        clean.contains("Every row sums to 1, as the Σ column shows"),
        "{clean}"
    );
    let mut planted = flags.to_vec();
    planted.extend(["--bug", "softmax-over-queries"]);
    let out = flat(ok(&planted));
    // Every stage alike, so the framing does not point at the stage where the slip shows.
    let stages = out.matches("━━ stage ").count();
    assert!(stages >= 12, "{out}");
    assert_eq!(out.matches(frame).count(), stages, "{out}");
    // The column sums of a softmax over the queries are not 1: the text no longer says so.
    assert!(!out.contains("as the Σ column shows"), "{out}");
    assert!(!out.contains("as the equal rows show"), "{out}");
    // The causal mask's caption and key say only what the table holds: with the triangle moved
    // onto cached columns, "the key comes after the query" would be false there.
    let mask_run = [
        "run",
        "--steps",
        "4,3",
        "--stage",
        "causal_mask",
        "--color",
        "never",
    ];
    let moved = flat(ok(
        &[&mask_run[..], &["--bug", "causal-not-offset"]].concat()
    ));
    assert!(!moved.contains("the key comes after the query"), "{moved}");
    assert!(!moved.contains("the triangle covers the last"), "{moved}");
    let right = flat(ok(&mask_run));
    assert!(
        right.contains("the triangle covers the last 3 of 7 columns"),
        "{right}"
    );
}

/// Line-mode input that, at every question, asks for the hint and skips, then moves on.
fn hint_everything() -> String {
    format!("n\n{}", "h\nskip\nn\n".repeat(60))
}

#[test]
fn visible_key_hints_follow_the_causal_mask_of_the_run() {
    let state = state_dir("hunt-hints");
    for lesson in ["tour", "chunked-prefill"] {
        let hints = |extra: &[&str]| {
            let mut args = vec!["lesson", lesson, "--quiz", "--restart", "--color", "never"];
            args.extend_from_slice(extra);
            let (code, out, err) = run_in(&state, &args, &hint_everything());
            assert_eq!(code, 0, "{args:?}: {err}");
            out.lines()
                .filter(|l| l.starts_with("hint:") && l.contains(" see"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let causal = hints(&[]);
        assert!(!causal.is_empty(), "{lesson}: no visible-keys hint");
        assert!(
            causal.iter().all(|h| h.contains("0 to")),
            "{lesson}: {causal:?}"
        );
        let open = hints(&["--no-causal"]);
        assert!(
            !open.is_empty(),
            "{lesson} --no-causal: no visible-keys hint"
        );
        assert!(
            open.iter()
                .all(|h| h.contains("no causal mask") && !h.contains("0 to")),
            "{lesson} --no-causal: {open:?}"
        );
    }
}
