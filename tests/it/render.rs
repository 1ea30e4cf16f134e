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
            // Columns: a label, at most max_cols values, an ellipsis (two when a pinned column,
            // like the scale view's largest weight, sits in the middle) and a Σ column.
            assert!(line.matches('│').count() <= 6 + 3, "{}: {line}", sg.id);
        }
    }
    let softmax = stage(&big, 0, StageId::Softmax, &view);
    assert!(softmax.contains("all 1024×1024: min"), "{softmax}");
    assert!(
        softmax.contains("showing 6 of 1024 rows, 6 of 1024 columns"),
        "{softmax}"
    );
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
            // Each heat cell is the number followed by one glyph.
            let got = cells[1 + j].trim_end_matches([' ', '░', '▒', '▓', '█', '⡀', '⣀', '⣤', '⣿']);
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

// ---------------------------------------------------------------------------------------------
// Views that never mislead (issue 13).

use attnstep::render::matrix::{self, Grid, Kind};
use attnstep::render::palette::{NEG_SHADES, ROW_MAX, SHADES};
use attnstep::render::{Prose, Theme, demos};

/// The glyph a heat cell ends with, without colour (and the row-max mark, if any, removed).
fn glyph_of(cell: &str) -> char {
    cell.trim_end_matches([' ', ROW_MAX])
        .chars()
        .last()
        .unwrap_or(' ')
}

fn strip(s: &str) -> String {
    attnstep::text::strip_ansi(s)
}

#[test]
fn equal_scores_of_opposite_sign_get_different_glyphs() {
    let data = ndarray::arr2(&[[1.0f32, -1.0, 0.5, -0.5, 0.0]]);
    let row = |_: usize| "r".to_string();
    let col = |j: usize| j.to_string();
    let grid = Grid::new(
        "t".into(),
        data.view(),
        "",
        &row,
        &col,
        Kind::Signed { scale: None },
    );
    let text = matrix::render(&grid, &plain(100), &render::palette::Palette::new(false));
    let cells = row_cells(&text, "r");
    let g: Vec<char> = cells.iter().map(|c| glyph_of(c)).collect();
    // Same size, opposite sign: different glyph families.
    assert_ne!(g[0], g[1], "{text}");
    assert_ne!(g[2], g[3], "{text}");
    assert!(SHADES.contains(&g[0]) && SHADES.contains(&g[2]));
    assert!(NEG_SHADES.contains(&g[1]) && NEG_SHADES.contains(&g[3]));
    // Different size, same sign: different fill.
    assert_ne!(g[0], g[2]);
    assert_ne!(g[1], g[3]);
    // The legend says what the glyphs mean and the range.
    assert!(text.contains("⡀⣀⣤⣿ negative"), "{text}");
    assert!(text.contains("shown -1.000 … 1.000"), "{text}");
}

/// The cells of the row labelled `label`, untrimmed except for the label.
fn row_cells(text: &str, label: &str) -> Vec<String> {
    let r = row(text, label);
    r[1..].iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_score_glyph_matches_the_sign_of_its_number() {
    // The padding lesson's scores (issue 13: -1.358 and 0.315 both got the darkest block).
    let out = stdout_of(
        attnstep()
            .args(["lesson", "padding", "--all", "--color", "never"])
            .env("COLUMNS", "120"),
    );
    let mut checked = 0;
    for line in out.lines() {
        let cells: Vec<&str> = line.split('│').collect();
        for cell in cells.iter().skip(1) {
            let t = cell.trim();
            let Some(g) = t.chars().last() else { continue };
            let number: String = t
                .chars()
                .take_while(|c| !(SHADES.contains(c) || NEG_SHADES.contains(c)))
                .collect();
            let Ok(v) = number.trim().parse::<f64>() else {
                continue;
            };
            if NEG_SHADES[1..].contains(&g) {
                assert!(v <= 0.0, "{t} in {line}");
                checked += 1;
            } else if SHADES[1..].contains(&g) {
                assert!(v >= 0.0, "{t} in {line}");
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} glyph cells found");
}

#[test]
fn the_largest_weight_of_each_row_is_marked_with_and_without_colour() {
    let t = trace(ConfigSpec {
        seq_len: Some(5),
        causal: Some(false),
        ..small(2, 2)
    });
    let w = &t.steps[0].tensor(TensorId::Weights).unwrap().data;
    for color in [false, true] {
        let view = View {
            color,
            head: 1,
            ..plain(100)
        };
        let text = strip(&stage(&t, 0, StageId::Softmax, &view));
        let weights = &text[text.find("weights[b=0, h=1]").unwrap()..];
        for q in 0..5 {
            // The row's largest weight, from the tensor.
            let best = (0..5)
                .max_by(|&a, &b| w[[0, 1, q, a]].total_cmp(&w[[0, 1, q, b]]))
                .unwrap();
            let cells = row_cells(weights, &q.to_string());
            for (k, cell) in cells[..5].iter().enumerate() {
                assert_eq!(cell.contains(ROW_MAX), k == best, "row {q}: {cells:?}");
            }
        }
        assert!(weights.contains(&format!("{ROW_MAX} row's largest")));
    }
    // In colour the marked cell is also bold (SGR 1) on its heat colour.
    let text = stage(
        &t,
        0,
        StageId::Softmax,
        &View {
            color: true,
            ..plain(100)
        },
    );
    let marked = text
        .lines()
        .find(|l| l.contains(ROW_MAX))
        .expect("a marked cell");
    assert!(
        marked.contains("\u{1b}[1;") || marked.contains(";1m"),
        "{marked:?}"
    );
}

#[test]
fn twelve_features_with_head_one_selected_show_features_four_to_seven() {
    // Lesson 2's shape: 3 heads of 4 features.
    let t = trace(ConfigSpec {
        hidden_size: Some(12),
        num_attention_heads: Some(3),
        num_key_value_heads: Some(3),
        seq_len: Some(5),
        seed: Some(7),
        ..ConfigSpec::default()
    });
    for width in [80, 120] {
        let view = View {
            head: 1,
            ..plain(width)
        };
        for (id, table) in [
            (StageId::Project, "xq_proj["),
            (StageId::Project, "xk_proj["),
            (StageId::MergeHeads, "merged["),
        ] {
            let text = stage(&t, 0, id, &view);
            let part = &text[text.find(table).unwrap()..];
            // Two header lines: the band of each column ([h1] selected), then its number.
            let mut lines = part.lines().skip_while(|l| !l.starts_with(" pos"));
            let split = |l: &str| {
                l.split('│')
                    .map(|c| c.trim().to_string())
                    .collect::<Vec<_>>()
            };
            let bands = split(lines.next().unwrap());
            let cols = split(lines.next().unwrap());
            let want: Vec<String> = if id == StageId::MergeHeads {
                (0..4).map(|d| d.to_string()).collect()
            } else {
                (4..8).map(|d| d.to_string()).collect()
            };
            let sel: Vec<usize> = (0..bands.len())
                .filter(|&k| bands[k] == "[h1]" || bands[k] == "[kv1]")
                .collect();
            assert_eq!(sel.len(), 4, "{width}: {part}");
            let shown: Vec<String> = sel.iter().map(|&k| cols[k].clone()).collect();
            assert_eq!(shown, want, "{width}: {part}");
        }
    }
}

#[test]
fn repeat_kv_keeps_the_boundary_between_groups_and_says_it_shrank() {
    // Lesson 8: 8 query heads over 2 KV heads; the stepper shrinks tables to 6 rows.
    let t = trace(ConfigSpec {
        hidden_size: Some(48),
        seq_len: Some(3),
        ..small(8, 2)
    });
    for head in 0..8 {
        let text = stage(
            &t,
            0,
            StageId::RepeatKv,
            &View {
                head,
                max_rows: 6,
                ..plain(120)
            },
        );
        let part = &text[text.find("xk_repeat[").unwrap()..];
        let labels: Vec<String> = part
            .lines()
            .filter_map(|l| l.split('│').next())
            .map(|l| l.trim().to_string())
            .filter(|l| l.starts_with('q'))
            .collect();
        for want in [
            "q3 ← kv0".to_string(),
            "q4 ← kv1".into(),
            format!("q{head} ← kv{}", head / 4),
        ] {
            assert!(labels.contains(&want), "head {head}: {labels:?}");
        }
        assert!(part.contains("showing 6 of 8 rows"), "{part}");
    }
}

#[test]
fn no_shape_is_cut_inside_its_brackets_at_80_and_100_columns() {
    let runs = [
        ConfigSpec {
            preset: Some("minimind2".into()),
            steps: Some(vec![3]),
            decode: Some(1),
            seed: Some(1),
            ..ConfigSpec::default()
        },
        ConfigSpec {
            steps: Some(vec![5]),
            decode: Some(1),
            qk_norm: Some(true),
            batch: Some(2),
            attention_mask: Some(vec!["011111".into(), "111111".into()]),
            ..small(4, 2)
        },
    ];
    for spec in runs {
        let t = trace(spec);
        for width in [60usize, 80, 100] {
            let text = print(&t, Selection::default(), &plain(width));
            for line in text.lines() {
                assert!(visible_width(line) <= width, "{width}: {line}");
                if width >= 80 {
                    let open = line.matches('[').count();
                    assert_eq!(open, line.matches(']').count(), "{width}: {line}");
                }
            }
        }
    }
    // The same through the binary, in colour, at 80 columns.
    let out = stdout_of(
        attnstep()
            .args([
                "run",
                "--preset",
                "minimind2",
                "--seq-len",
                "3",
                "--decode",
                "1",
            ])
            .args(["--all", "--color", "always"])
            .env("COLUMNS", "80"),
    );
    for line in out.lines() {
        let plain = strip(line);
        assert!(visible_width(&plain) <= 80, "{plain}");
        assert_eq!(
            plain.matches('[').count(),
            plain.matches(']').count(),
            "{plain}"
        );
    }
}

#[test]
fn stats_lines_count_infinities_only_when_there_are_some() {
    let t = trace(ConfigSpec {
        seq_len: Some(64),
        ..small(2, 1)
    });
    let view = View {
        max_rows: 4,
        max_cols: 4,
        ..plain(100)
    };
    let scores = stage(&t, 0, StageId::Scores, &view);
    let line = scores.lines().find(|l| l.contains("showing")).unwrap();
    assert!(
        !line.contains("-∞") && !line.contains("NaN") && !line.contains("inf"),
        "{line}"
    );
    let softmax = stage(&t, 0, StageId::Softmax, &view);
    let line = softmax.lines().find(|l| l.contains("showing")).unwrap();
    // Causal prefill of 64: the strict upper triangle, 64·63/2 entries, is -∞.
    assert!(line.contains(", 2016 -∞"), "{line}");
    assert!(!line.contains("NaN"), "{line}");
}

#[test]
fn the_softmax_legend_names_the_causal_mask_only_where_it_blocks() {
    let legend_has_mask = |spec: ConfigSpec, step: usize| {
        let t = trace(spec);
        let text = stage(&t, step, StageId::Softmax, &plain(100));
        text.contains("-∞ = causal mask")
    };
    assert!(legend_has_mask(
        ConfigSpec {
            seq_len: Some(4),
            ..small(2, 1)
        },
        0
    ));
    assert!(!legend_has_mask(
        ConfigSpec {
            seq_len: Some(4),
            causal: Some(false),
            ..small(2, 1)
        },
        0
    ));
    // A one-token decode step: nothing comes after the new query.
    assert!(!legend_has_mask(
        ConfigSpec {
            steps: Some(vec![3]),
            decode: Some(1),
            ..small(2, 1)
        },
        1
    ));
    // A one-token prompt.
    assert!(!legend_has_mask(
        ConfigSpec {
            seq_len: Some(1),
            ..small(2, 1)
        },
        0
    ));
}

#[test]
fn rope_shows_the_rotated_rows_and_they_are_the_rotation_of_the_originals() {
    // Lesson 10's setup: head_dim 8, theta 10000, prefill of 3 then decode steps.
    let t = trace(ConfigSpec {
        hidden_size: Some(16),
        num_attention_heads: Some(2),
        num_key_value_heads: Some(2),
        steps: Some(vec![3]),
        decode: Some(2),
        rope_theta: Some(10000.0),
        seed: Some(7),
        ..ConfigSpec::default()
    });
    let hd = 8;
    for step in 0..3 {
        let st = &t.steps[step];
        let text = stage(
            &t,
            step,
            StageId::Rope,
            &View {
                head: 1,
                ..plain(100)
            },
        );
        for (id, before_id, what) in [
            (TensorId::XqRope, TensorId::XqHeads, "xq_rope[b=0, :, 1, :]"),
            (TensorId::XkRope, TensorId::XkHeads, "xk_rope[b=0, :, 1, :]"),
        ] {
            let part = &text[text
                .find(what)
                .unwrap_or_else(|| panic!("{what} in {text}"))..];
            let part = part.split("\n\n").next().unwrap();
            let before = &st.tensor(before_id).unwrap().data;
            let after = &st.tensor(id).unwrap().data;
            let rotated: Vec<Vec<String>> = part
                .lines()
                .filter(|l| l.trim_start().starts_with("rotated"))
                .map(|l| l.split('│').skip(1).map(|c| c.trim().to_string()).collect())
                .collect();
            assert_eq!(rotated.len(), st.seq_len, "{part}");
            for (i, cells) in rotated.iter().enumerate() {
                let pos = (st.start_pos + i) as f64;
                for d in 0..hd {
                    // x·cos + rotate_half(x)·sin at angle pos · θ^(-2i/hd), i = d mod hd/2.
                    let f = 10000f64.powf(-((2 * (d % (hd / 2))) as f64) / hd as f64);
                    let x = |k: usize| f64::from(before[[0, i, 1, k]]);
                    let partner = if d < hd / 2 {
                        -x(d + hd / 2)
                    } else {
                        x(d - hd / 2)
                    };
                    let want = x(d) * (pos * f).cos() + partner * (pos * f).sin();
                    assert!((want - f64::from(after[[0, i, 1, d]])).abs() < 1e-5);
                    let shown: f64 = cells[d].parse().unwrap();
                    assert!(
                        (shown - want).abs() <= 0.0005 + 1e-6,
                        "{what} row {i} d {d}: {shown} vs {want}"
                    );
                }
            }
        }
        assert!(text.contains("relative positions:"), "{text}");
    }
}

/// `q` rotated to position `m` by hand, in f64: pair (d, d + hd/2) turned by m·θ^(−2d/hd).
fn rotate_by_hand(q: &[f32], m: usize, theta: f64) -> Vec<f64> {
    let hd = q.len();
    let half = hd / 2;
    (0..hd)
        .map(|d| {
            let a = m as f64 * theta.powf(-((2 * (d % half)) as f64) / hd as f64);
            let x = f64::from(q[d]);
            let partner = if d < half {
                -f64::from(q[d + half])
            } else {
                f64::from(q[d - half])
            };
            x * a.cos() + partner * a.sin()
        })
        .collect()
}

#[test]
fn rope_equal_distances_give_equal_dot_products() {
    for (seed, hd, theta) in [
        (1u64, 8usize, 1e4),
        (2, 64, 1e6),
        (3, 16, 1e4),
        (4, 128, 5e5),
    ] {
        let t = trace(ConfigSpec {
            hidden_size: Some(2 * hd),
            num_attention_heads: Some(2),
            num_key_value_heads: Some(1),
            head_dim: Some(hd),
            steps: Some(vec![4, 2]),
            rope_theta: Some(theta),
            seed: Some(seed),
            ..ConfigSpec::default()
        });
        for (step, st) in t.steps.iter().enumerate() {
            let q_all = &st.tensor(TensorId::XqHeads).unwrap().data;
            let k_all = &st.tensor(TensorId::XkHeads).unwrap().data;
            let last = st.seq_len - 1;
            let q: Vec<f32> = (0..hd).map(|d| q_all[[0, last, 1, d]]).collect();
            let k: Vec<f32> = (0..hd).map(|d| k_all[[0, 0, 0, d]]).collect();
            let (m0, n0) = (st.start_pos + last, st.start_pos);
            let pairs = demos::rope_pairs(m0, n0);
            let scores = demos::rope_scores(&q, &k, &pairs, theta);
            for (&(m, n), s) in pairs.iter().zip(&scores) {
                // Every pair of the same distance agrees with the first of that distance…
                let first = pairs.iter().position(|p| p.0 - p.1 == m - n).unwrap();
                assert!(
                    (s - scores[first]).abs() < 1e-5,
                    "{seed} {step}: {pairs:?} {scores:?}"
                );
                // …and with the rotation worked out by hand.
                let (qm, kn) = (rotate_by_hand(&q, m, theta), rotate_by_hand(&k, n, theta));
                let dot: f64 =
                    qm.iter().zip(&kn).map(|(a, b)| a * b).sum::<f64>() / (hd as f64).sqrt();
                assert!((s - dot).abs() < 1e-4, "{seed} ({m}, {n}): {s} vs {dot}");
            }
            // The first pair is the step's own score of query `last` against key n0.
            let own = st.tensor(TensorId::Scores).unwrap().data[[0, 1, last, n0]];
            assert!((scores[0] - f64::from(own)).abs() < 1e-5);
            // The table on screen shows these numbers.
            let text = stage(
                &t,
                step,
                StageId::Rope,
                &View {
                    head: 1,
                    ..plain(100)
                },
            );
            let part = &text[text.find("relative positions:").unwrap()..];
            for (&(m, n), s) in pairs.iter().zip(&scores) {
                let cells = row(part, &m.to_string());
                assert_eq!(cells[1], n.to_string());
                let shown: f64 = cells[3].parse().unwrap();
                assert!((shown - s).abs() <= 0.0005 + 1e-9, "{cells:?} vs {s}");
            }
        }
    }
}

#[test]
fn the_scale_view_softmaxes_one_row_with_and_without_the_division() {
    let t = trace(ConfigSpec {
        seq_len: Some(4),
        ..small(2, 1)
    });
    let hd = 8f64;
    let st = &t.steps[0];
    let masked = &st.tensor(TensorId::ScoresMasked).unwrap().data;
    let text = stage(
        &t,
        0,
        StageId::Softmax,
        &View {
            head: 1,
            ..plain(100)
        },
    );
    let part = &text[text.find("why ÷√head_dim").unwrap()..];
    let soft = |xs: &[f64]| {
        let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = xs.iter().map(|x| (x - max).exp()).collect();
        let s: f64 = e.iter().sum();
        e.into_iter().map(|v| v / s).collect::<Vec<f64>>()
    };
    let row3: Vec<f64> = (0..4).map(|j| f64::from(masked[[0, 1, 3, j]])).collect();
    let with = soft(&row3);
    let without = soft(&row3.iter().map(|v| v * hd.sqrt()).collect::<Vec<_>>());
    for (label, want) in [("÷√8 (MiniMind)", &with), ("without ÷√8", &without)] {
        let cells = row_cells(part, label);
        for j in 0..4 {
            let shown: f64 = cells[j]
                .trim_end_matches([' ', ROW_MAX, '░', '▒', '▓', '█'])
                .parse()
                .unwrap();
            assert!(
                (shown - want[j]).abs() <= 0.0005 + 1e-9,
                "{label} {j}: {cells:?}"
            );
        }
    }
    // Without the division the softmax is sharper.
    let top = |w: &[f64]| w.iter().copied().fold(0.0, f64::max);
    assert!(top(&without) > top(&with));
}

#[test]
fn the_softmax_stage_says_which_path_minimind_takes() {
    let path = |spec: ConfigSpec, step: usize| {
        let t = trace(spec);
        let text = stage(&t, step, StageId::Softmax, &plain(100));
        let start = text.find("MiniMind's path:").expect("a path line");
        text[start..]
            .split("\n\n")
            .next()
            .unwrap()
            .replace('\n', " ")
    };
    // A plain causal prefill: fused.
    let p = path(
        ConfigSpec {
            steps: Some(vec![4]),
            decode: Some(1),
            ..small(2, 1)
        },
        0,
    );
    assert!(
        p.contains("calls its fused F.scaled_dot_product_attention"),
        "{p}"
    );
    assert!(p.contains("same output without materialising"), "{p}");
    // The decode step after it: explicit, one new token.
    let p = path(
        ConfigSpec {
            steps: Some(vec![4]),
            decode: Some(1),
            ..small(2, 1)
        },
        1,
    );
    assert!(
        p.contains("explicit branch too, because there is one new token"),
        "{p}"
    );
    // A chunk after a prefill, causal: explicit.
    let p = path(
        ConfigSpec {
            steps: Some(vec![3, 2]),
            ..small(2, 1)
        },
        1,
    );
    assert!(p.contains("a causal mask meets cached keys"), "{p}");
    // Padding: explicit.
    let p = path(
        ConfigSpec {
            steps: Some(vec![3]),
            attention_mask: Some(vec!["011".into()]),
            ..small(2, 1)
        },
        0,
    );
    assert!(p.contains("the attention mask has padding"), "{p}");
    // No causal mask and a cache: fused again.
    let p = path(
        ConfigSpec {
            steps: Some(vec![3, 2]),
            causal: Some(false),
            ..small(2, 1)
        },
        1,
    );
    assert!(p.contains("fused") && p.contains("no causal mask"), "{p}");
}

#[test]
fn a_lesson_can_shorten_or_hide_the_generic_paragraph() {
    let t = trace(ConfigSpec {
        seq_len: Some(3),
        ..small(2, 1)
    });
    let id = StageId::Scores;
    let full = stage(&t, 0, id, &plain(100));
    let j = t.steps[0].stages.iter().position(|s| s.id == id).unwrap();
    let about = render::about(&t, 0, j, &plain(100));
    let first = about.split(". ").next().unwrap();
    assert!(first.len() + 10 < about.len(), "{about}");
    let short = stage(
        &t,
        0,
        id,
        &View {
            prose: Prose::Short,
            ..plain(100)
        },
    );
    let hidden = stage(
        &t,
        0,
        id,
        &View {
            prose: Prose::Hidden,
            ..plain(100)
        },
    );
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat(&full).contains(&flat(&about)));
    assert!(flat(&short).contains(first) && !flat(&short).contains(&flat(&about)));
    assert!(!flat(&hidden).contains(first));
    // Everything else is the same.
    assert!(full.starts_with(&hidden));
}

#[test]
fn the_light_theme_changes_text_colours_only() {
    let t = trace(ConfigSpec {
        seq_len: Some(3),
        ..small(2, 1)
    });
    let view = |theme| View {
        color: true,
        theme,
        ..plain(100)
    };
    let dark = print(&t, Selection::default(), &view(Theme::Dark));
    let light = print(&t, Selection::default(), &view(Theme::Light));
    assert_ne!(dark, light);
    assert_eq!(strip(&dark), strip(&light));
    assert_eq!(Theme::parse("auto", Some("0;15")), Ok(Theme::Light));
}

// ---------------------------------------------------------------------------------------------
// Sentences right at the edges: every stage of random configurations, checked for phrases
// that degenerate at 1 vs many, MHA, MQA, decode steps, no causal mask and padding.

use proptest::prelude::*;

/// What a step's text may truthfully say.
struct Truth {
    n_heads: usize,
    n_kv: usize,
    seq_len: usize,
    causal: bool,
}

fn trimmed(w: &str) -> &str {
    w.trim_matches(|c: char| ",.;:()[]'\"│◀".contains(c))
}

/// The degenerate phrases in `text`, as messages.
fn degenerate(text: &str, t: &Truth) -> Vec<String> {
    const PLURALS: &[&str] = &[
        "heads",
        "keys",
        "queries",
        "tokens",
        "rows",
        "values",
        "features",
        "positions",
        "columns",
        "sequences",
        "steps",
        "outputs",
        "entries",
        "numbers",
    ];
    const MODIFIERS: &[&str] = &[
        "new", "cached", "earlier", "KV", "query", "key", "value", "head", "real", "padded",
    ];
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let words: Vec<&str> = flat.split(' ').collect();
    let mut bad = Vec::new();
    let num = |w: &str| trimmed(w).parse::<usize>().ok();
    for (i, w) in words.iter().enumerate() {
        let next = |k: usize| words.get(i + k).map_or("", |w| trimmed(w));
        // "1 heads", "1 new keys".
        if w.trim_start_matches(['(', '[']) == "1"
            && (PLURALS.contains(&next(1))
                || (MODIFIERS.contains(&next(1)) && PLURALS.contains(&next(2))))
        {
            bad.push(format!("plural after 1: 1 {} {}", next(1), next(2)));
        }
        // A KV head or query head that does not exist.
        let index_after = |k: usize| words.get(i + k).and_then(|w| num(w));
        let lower = trimmed(w).to_ascii_lowercase();
        if (lower == "kv" || lower == "key")
            && next(1) == "head"
            && let Some(n) = index_after(2).filter(|&n| n >= t.n_kv)
        {
            bad.push(format!("KV head {n} of {}", t.n_kv));
        }
        if lower == "query"
            && next(1) == "head"
            && let Some(n) = index_after(2).filter(|&n| n >= t.n_heads)
        {
            bad.push(format!("query head {n} of {}", t.n_heads));
        }
        let tw = trimmed(w);
        for (prefix, limit) in [("kv", t.n_kv), ("q", t.n_heads), ("h", t.n_heads)] {
            let n = tw
                .strip_prefix(prefix)
                .and_then(|r| r.parse::<usize>().ok());
            if n.is_some_and(|n| n >= limit) {
                bad.push(format!("{tw} with {limit}"));
            }
        }
        // A range "a…b" with a == b, or reaching past the last head.
        let range = tw
            .split_once('…')
            .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
        if let Some((a, b)) = range {
            if a == b {
                bad.push(format!("empty range {tw}"));
            }
            let before = |k: usize| i.checked_sub(k).map_or("", |j| trimmed(words[j]));
            if (before(1) == "heads" || before(2) == "heads") && b >= t.n_heads {
                bad.push(format!("heads {tw} of {}", t.n_heads));
            }
        }
    }
    // "N X, not N" and "N … instead of N" within one sentence.
    for marker in [", not ", "instead of "] {
        for (at, _) in flat.match_indices(marker) {
            let n: String = flat[at + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let start = flat[..at].rfind(". ").map_or(0, |s| s + 2);
            if !n.is_empty() && flat[start..at].split(' ').any(|w| trimmed(w) == n) {
                bad.push(format!("\"{}{marker}{n}\"", &flat[start..at]));
            }
        }
    }
    for phrase in [
        "Each of the 1 ",
        "among the 1 ",
        "its 1 ",
        "all 1 ",
        "last 1 of",
        " 1× ",
    ] {
        if flat.contains(phrase) {
            bad.push(format!("degenerate \"{phrase}\""));
        }
    }
    for phrase in ["-inf 0", "NaN 0", ", 0 -∞", ", 0 NaN"] {
        if flat.contains(phrase) {
            bad.push(format!("zero count \"{phrase}\""));
        }
    }
    let nothing_later = t.seq_len == 1;
    if nothing_later && flat.contains("keys that come after it") {
        bad.push("later keys on a one-token step".into());
    }
    if (nothing_later || !t.causal)
        && (flat.contains("= causal mask") || flat.contains("key comes after the query"))
    {
        bad.push("causal mask legend where it blocks nothing".into());
    }
    bad
}

#[derive(Clone, Debug)]
struct Case {
    n_kv: usize,
    n_rep: usize,
    head_dim: usize,
    steps: Vec<usize>,
    batch: usize,
    causal: bool,
    qk_norm: bool,
    mask: Option<Vec<bool>>,
    head: usize,
    row: usize,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        (1..=3usize, 1..=3usize, prop_oneof![Just(2usize), Just(4)]),
        (1..=4usize, prop::collection::vec(1..=2usize, 0..=2)),
        (1..=2usize, any::<bool>(), any::<bool>()),
        prop::option::of(prop::collection::vec(any::<bool>(), 16)),
        (0..9usize, 0..2usize),
    )
        .prop_map(
            |(
                (n_kv, n_rep, head_dim),
                (prefill, later),
                (batch, causal, qk_norm),
                mask,
                (head, row),
            )| {
                let mut steps = vec![prefill];
                steps.extend(later);
                Case {
                    n_kv,
                    n_rep,
                    head_dim,
                    steps,
                    batch,
                    causal,
                    qk_norm,
                    mask,
                    head,
                    row,
                }
            },
        )
}

impl Case {
    fn spec(&self) -> ConfigSpec {
        let heads = self.n_kv * self.n_rep;
        let total: usize = self.steps.iter().sum();
        ConfigSpec {
            hidden_size: Some(heads * self.head_dim),
            num_attention_heads: Some(heads),
            num_key_value_heads: Some(self.n_kv),
            head_dim: Some(self.head_dim),
            steps: Some(self.steps.clone()),
            batch: Some(self.batch),
            causal: Some(self.causal),
            qk_norm: Some(self.qk_norm),
            attention_mask: self.mask.as_ref().map(|bits| {
                (0..self.batch)
                    .map(|r| {
                        (0..total)
                            .map(|c| if bits[r * 8 + c] { '1' } else { '0' })
                            .collect()
                    })
                    .collect()
            }),
            seed: Some(3),
            ..ConfigSpec::default()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_sentences_never_degenerate(case in cases()) {
        let spec = case.spec();
        let t = trace(spec);
        let cfg = &t.config;
        let view = View {
            head: case.head % cfg.num_attention_heads,
            batch: case.row % cfg.batch,
            ..plain(100)
        };
        for (i, st) in t.steps.iter().enumerate() {
            let truth = Truth {
                n_heads: cfg.num_attention_heads,
                n_kv: cfg.num_key_value_heads,
                seq_len: st.seq_len,
                causal: cfg.causal,
            };
            for j in 0..st.stages.len() {
                let text = render::render_stage(&t, i, j, &view);
                let bad = degenerate(&text, &truth);
                prop_assert!(
                    bad.is_empty(),
                    "{case:?} step {i} {}: {bad:?}\n{text}",
                    st.stages[j].id
                );
            }
        }
    }
}

#[test]
fn the_degenerate_phrase_check_catches_the_phrases_of_issue_13() {
    let t = Truth {
        n_heads: 8,
        n_kv: 1,
        seq_len: 1,
        causal: true,
    };
    for text in [
        "the cache holds 2 KV heads, not 2.",
        "it holds 2 KV heads instead of 2: 1× less memory",
        "query heads 0…7 read KV head 0, the next 8 read KV head 1",
        "all 1 heads of 6",
        "Nothing is hidden yet: a query still scores the keys that come after it.",
        "elided; all 3×3 values: -inf 0, NaN 0",
        "key: -∞ = causal mask",
        "appends 1 new keys",
    ] {
        assert!(!degenerate(text, &t).is_empty(), "{text}");
    }
    assert!(degenerate("query head 7 reads KV head 0; 1 new row of 3 rows.", &t).is_empty());
}
