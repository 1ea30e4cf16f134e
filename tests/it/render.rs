//! Rendering: snapshots of whole stages in plain text, colour on/off, elision bounds, narrow
//! terminals, closed pipes, and checks of rendered values worked out independently.

use std::io::Read;
use std::process::{Command, Stdio};

use attnstep::config::ConfigSpec;
use attnstep::numeric::{Numeric, Tensor};
use attnstep::render::{self, Selection, View};
use attnstep::trace::{StageId, TensorId, Trace};

use crate::support::command as attnstep;

fn trace(spec: ConfigSpec) -> Trace<Tensor> {
    let cfg = spec.resolve().expect("valid test config");
    attnstep::forward::trace(&cfg, &mut Numeric::new(cfg.seed))
}

fn small(heads: usize, kv_heads: usize) -> ConfigSpec {
    ConfigSpec {
        hidden_size: Some(16),
        num_attention_heads: Some(heads),
        num_key_value_heads: Some(kv_heads),
        seed: Some(7),
        ..ConfigSpec::default()
    }
}

fn plain(width: usize) -> View {
    View {
        width,
        ..View::default()
    }
}

/// Every selected stage of a trace as the `--all` printer writes it.
fn print(t: &Trace<Tensor>, sel: Selection, view: &View) -> String {
    let mut out = Vec::new();
    render::print_trace(&mut out, t, &sel, view).unwrap();
    String::from_utf8(out).unwrap()
}

fn stage(t: &Trace<Tensor>, step: usize, id: StageId, view: &View) -> String {
    let j = t.steps[step]
        .stages
        .iter()
        .position(|s| s.id == id)
        .expect("stage present");
    render::render_stage(t, step, j, view)
}

fn visible_width(s: &str) -> usize {
    render::visible_width(s)
}

// ---------------------------------------------------------------------------------------------
// Snapshots (layout), plain text.

#[test]
fn snapshot_mha_prefill() {
    let t = trace(ConfigSpec {
        seq_len: Some(4),
        tokens: Some("the cat sat down".into()),
        ..small(2, 2)
    });
    insta::assert_snapshot!(print(&t, Selection::default(), &plain(100)));
}

#[test]
fn snapshot_gqa_decode_steps() {
    let t = trace(ConfigSpec {
        steps: Some(vec![3]),
        decode: Some(2),
        ..small(4, 2)
    });
    insta::assert_snapshot!(print(
        &t,
        Selection {
            step: Some(1),
            stage: None
        },
        &View {
            head: 3,
            ..plain(100)
        }
    ));
}

#[test]
fn snapshot_padding_batch_two() {
    let t = trace(ConfigSpec {
        batch: Some(2),
        steps: Some(vec![4]),
        decode: Some(1),
        attention_mask: Some(vec!["00111".into(), "11111".into()]),
        ..small(2, 1)
    });
    let view = plain(100);
    let mut out = String::new();
    for step in 0..2 {
        for id in [StageId::PaddingMask, StageId::Softmax] {
            out.push_str(&stage(&t, step, id, &view));
            out.push('\n');
        }
    }
    insta::assert_snapshot!(out);
}

#[test]
fn snapshot_large_elided() {
    let t = trace(ConfigSpec {
        seq_len: Some(1024),
        ..small(2, 1)
    });
    let view = plain(100);
    let mut out = String::new();
    for id in [StageId::Scores, StageId::CausalMask, StageId::Softmax] {
        out.push_str(&stage(&t, 0, id, &view));
        out.push('\n');
    }
    insta::assert_snapshot!(out);
}

#[test]
fn snapshot_narrow_terminal() {
    let t = trace(ConfigSpec {
        steps: Some(vec![5]),
        decode: Some(1),
        ..small(4, 2)
    });
    let view = plain(60);
    let mut out = String::new();
    for id in [StageId::KvCache, StageId::RepeatKv, StageId::Softmax] {
        out.push_str(&stage(&t, 1, id, &view));
        out.push('\n');
    }
    insta::assert_snapshot!(out);
}

// ---------------------------------------------------------------------------------------------
// Values worked out independently of the renderer.

/// The table row whose label (first cell) is `label`, split into trimmed cells.
fn row<'a>(text: &'a str, label: &str) -> Vec<&'a str> {
    text.lines()
        .map(|l| l.split('│').map(str::trim).collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&label))
        .unwrap_or_else(|| panic!("no row labelled {label:?} in\n{text}"))
}

#[test]
fn causal_mask_blocks_exactly_the_later_keys_of_a_chunk() {
    // steps 3 then a chunk of 2: queries at positions 3 and 4, keys 0..=4.
    // Query p may see key j iff j <= p: position 3 is blocked at key 4 only, position 4 nowhere.
    let t = trace(ConfigSpec {
        steps: Some(vec![3, 2]),
        ..small(2, 1)
    });
    let text = stage(&t, 1, StageId::CausalMask, &plain(100));
    assert_eq!(row(&text, "3")[1..], ["0", "0", "0", "0", "-∞"]);
    assert_eq!(row(&text, "4")[1..], ["0", "0", "0", "0", "0"]);
    // The header says which keys are cached and which are new.
    assert!(text.contains("cache") && text.contains("new"));
}

#[test]
fn weights_rows_sum_to_one_and_blocked_entries_are_zero() {
    let t = trace(ConfigSpec {
        seq_len: Some(4),
        ..small(2, 2)
    });
    let text = stage(&t, 0, StageId::Softmax, &plain(100));
    let weights = &text[text.find("weights[b=0, h=0]").unwrap()..];
    for q in 0..4 {
        let cells = row(weights, &q.to_string());
        // Columns 1..=4 are keys 0..=3, then the Σ row column.
        assert_eq!(cells[5], "1.000", "row {q}: {cells:?}");
        for k in (q + 1)..4 {
            assert!(
                cells[1 + k].starts_with("0.000"),
                "row {q} key {k}: {cells:?}"
            );
        }
    }
    // The first query can only see itself: all its weight is on key 0.
    assert!(row(weights, "0")[1].starts_with("1.000"));
}

#[test]
fn repeat_kv_map_groups_consecutive_heads() {
    // 8 query heads over 2 KV heads: n_rep = 4, KV head h serves query heads 4h..4h+3.
    let t = trace(ConfigSpec {
        hidden_size: Some(32),
        seq_len: Some(2),
        ..small(8, 2)
    });
    let text = stage(
        &t,
        0,
        StageId::RepeatKv,
        &View {
            head: 5,
            ..plain(100)
        },
    );
    assert_eq!(row(&text, "kv0")[1], "q0 q1 q2 q3");
    assert_eq!(row(&text, "kv1")[1], "q4 [q5] q6 q7");
    assert!(text.contains("n_rep=4, head_dim=4]"), "{text}");
}

#[test]
fn kv_cache_marks_the_new_rows() {
    let t = trace(ConfigSpec {
        steps: Some(vec![3]),
        decode: Some(1),
        ..small(2, 1)
    });
    let text = stage(&t, 1, StageId::KvCache, &plain(100));
    assert!(text.contains("cache length: 3 → 4"), "{text}");
    let after = &text[text.find("after:").unwrap()..];
    assert_eq!(row(after, "3 new").len(), 9); // label + 8 head_dim columns
    assert!(after.lines().any(|l| l.starts_with(" 2  ")));
    assert!(!after.contains("2 new"));
    // The shape table shows the cache growing along dim 1.
    assert!(text.contains("past_len=3"));
    assert!(text.contains("*kv_len=4*"));
}

#[test]
fn precision_sets_the_decimals() {
    let t = trace(ConfigSpec {
        seq_len: Some(3),
        ..small(2, 2)
    });
    let text = stage(
        &t,
        0,
        StageId::Softmax,
        &View {
            precision: 1,
            ..plain(100)
        },
    );
    let weights = &text[text.find("weights[").unwrap()..];
    assert_eq!(row(weights, "0")[4], "1.0");
}

// ---------------------------------------------------------------------------------------------
// Elision keeps the work bounded by what is shown.

#[test]
fn large_runs_render_a_bounded_table_for_every_stage() {
    let big = trace(ConfigSpec {
        seq_len: Some(1024),
        ..small(2, 1)
    });
    let tiny = trace(ConfigSpec {
        seq_len: Some(8),
        ..small(2, 1)
    });
    let view = View {
        max_rows: 6,
        max_cols: 6,
        ..plain(100)
    };
    for (j, sg) in big.steps[0].stages.iter().enumerate() {
        let text = render::render_stage(&big, 0, j, &view);
        let small_text = render::render_stage(&tiny, 0, j, &view);
        // Rows: no more lines than the seq_len 8 render plus a stats line per table (and the
        // extra header line for cached/new, wrap slack).
        let extra = text.lines().count() as i64 - small_text.lines().count() as i64;
        assert!(extra <= 8, "{}: {extra} more lines at seq_len 1024", sg.id);
        assert!(text.lines().count() < 120, "{}: too long", sg.id);
        for line in text.lines() {
            assert!(
                visible_width(line) <= 100,
                "{}: line too wide: {line}",
                sg.id
            );
            // Columns: a label, at most max_cols values, an ellipsis and a Σ column.
            assert!(line.matches('│').count() <= 6 + 2, "{}: {line}", sg.id);
        }
    }
    let softmax = stage(&big, 0, StageId::Softmax, &view);
    assert!(softmax.contains("1024×1024 values"), "{softmax}");
    assert!(softmax.contains("⋮"));
    let weights = &softmax[softmax.find("weights[").unwrap()..];
    assert_eq!(row(weights, "1023").len(), 9); // label, 3 keys, …, 3 keys, Σ
    assert_eq!(row(weights, "1023")[8], "1.000");
}

// ---------------------------------------------------------------------------------------------
// The binary: colour decisions, narrow output, closed pipes.

const RUN: &[&str] = &[
    "run",
    "--hidden-size",
    "16",
    "--num-heads",
    "4",
    "--num-kv-heads",
    "2",
    "--seq-len",
    "4",
    "--decode",
    "1",
];

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn color_always_emits_escapes_and_never_does_not() {
    let on = stdout_of(attnstep().args(RUN).args(["--all", "--color", "always"]));
    assert!(on.contains("\u{1b}["));
    let off = stdout_of(attnstep().args(RUN).args(["--all", "--color", "never"]));
    assert!(!off.contains('\u{1b}'));
    // The same text once the escapes are gone.
    let stripped: String = {
        let mut s = String::new();
        let mut chars = on.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c2 in chars.by_ref() {
                    if c2.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                s.push(c);
            }
        }
        s
    };
    assert!(stripped.contains("weights[b=0, h=0]"));
    assert!(stripped.lines().count() > 100);
}

#[test]
fn auto_colour_follows_the_environment() {
    // Through a pipe, auto means no colour…
    let piped = stdout_of(attnstep().args(RUN).args(["--all"]));
    assert!(!piped.contains('\u{1b}'));
    // …NO_COLOR=1 gives none, CLICOLOR_FORCE / FORCE_COLOR force it, and --color never wins
    // over both.
    let no = stdout_of(attnstep().args(RUN).args(["--all"]).env("NO_COLOR", "1"));
    assert!(!no.contains('\u{1b}'));
    let forced = stdout_of(
        attnstep()
            .args(RUN)
            .args(["--all"])
            .env("CLICOLOR_FORCE", "1"),
    );
    assert!(forced.contains("\u{1b}["));
    let forced = stdout_of(attnstep().args(RUN).args(["--all"]).env("FORCE_COLOR", "1"));
    assert!(forced.contains("\u{1b}["));
    let never = stdout_of(
        attnstep()
            .args(RUN)
            .args(["--all", "--color", "never"])
            .env("FORCE_COLOR", "1"),
    );
    assert!(!never.contains('\u{1b}'));
}

#[test]
fn columns_sets_the_layout_width() {
    for width in [60usize, 120] {
        let out = stdout_of(
            attnstep()
                .args(RUN)
                .args(["--all", "--color", "never"])
                .env("COLUMNS", width.to_string()),
        );
        for line in out.lines() {
            assert!(visible_width(line) <= width, "wider than {width}: {line:?}");
        }
    }
}

#[test]
fn stage_and_step_select_what_is_printed() {
    let out = stdout_of(
        attnstep()
            .args(RUN)
            .args(["--stage", "softmax", "--step", "2", "--color", "never"]),
    );
    assert_eq!(out.matches("━━ stage").count(), 1);
    assert!(out.contains("softmax · "));
    assert!(out.contains("step 2/2 decode"));
}

#[test]
fn a_closed_pipe_ends_quietly_with_status_zero() {
    let mut child = attnstep()
        .args([
            "run",
            "--hidden-size",
            "16",
            "--num-heads",
            "2",
            "--num-kv-heads",
            "1",
            "--seq-len",
            "64",
            "--decode",
            "30",
            "--all",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 256];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn score_cells_are_the_scaled_dot_products() {
    // Recompute scores[b=0, h=1, i, j] = q_i · k_j / √head_dim from the transposed q and k,
    // and find each one, to the shown precision, in the rendered matrix.
    let t = trace(ConfigSpec {
        seq_len: Some(3),
        ..small(2, 1)
    });
    let st = &t.steps[0];
    let q = &st.tensor(TensorId::XqT).unwrap().data;
    let k = &st.tensor(TensorId::XkT).unwrap().data;
    let hd = 8;
    let text = stage(
        &t,
        0,
        StageId::Scores,
        &View {
            head: 1,
            ..plain(100)
        },
    );
    assert!(text.contains("scores[b=0, h=1]"));
    for i in 0..3 {
        let cells = row(&text, &i.to_string());
        for j in 0..3 {
            let dot: f64 = (0..hd)
                .map(|d| f64::from(q[[0, 1, i, d]]) * f64::from(k[[0, 1, j, d]]))
                .sum();
            let want = format!("{:.3}", dot / (hd as f64).sqrt());
            let want = if want == "-0.000" {
                "0.000".into()
            } else {
                want
            };
            // Each heat cell is the number followed by one shade character.
            let got = cells[1 + j].trim_end_matches([' ', '░', '▒', '▓', '█']);
            assert_eq!(got, want, "scores[{i}, {j}]");
        }
    }
}

#[test]
fn padding_bias_sits_exactly_under_the_zeros_of_the_mask() {
    let t = trace(ConfigSpec {
        batch: Some(2),
        steps: Some(vec![4]),
        attention_mask: Some(vec!["0101".into(), "1110".into()]),
        ..small(2, 1)
    });
    let text = stage(&t, 0, StageId::PaddingMask, &plain(100));
    let bias = &text[text.find("padding_mask[").unwrap()..];
    // Selected row 0 carries the ◀ marker in plain text.
    assert_eq!(row(bias, "b0 ◀")[1..], ["-1e9", "0", "-1e9", "0"]);
    assert_eq!(row(bias, "b1")[1..], ["0", "0", "0", "-1e9"]);
    let mask = &text[text.find("attention_mask[").unwrap()..];
    assert_eq!(row(mask, "b1")[1..], ["1", "1", "1", "0"]);
}
