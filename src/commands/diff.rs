//! `attnstep diff FLAGS -- FLAGS`: two runs with the same seed compared stage by stage.
//!
//! The flags before `--` make run A; the flags after it change A into run B (B is A's flags
//! with B's laid over them, as a lesson's flags are laid over its file). Both draw their weights
//! from the seed in the same order; when they cover the same tokens (same batch, width and
//! length) B reads A's very input x, split into B's calls, so one-shot against chunked prefill
//! compares the same tokens whatever the batch. Calls are paired by the position they end at
//! ([`crate::diff`]), and the report ([`crate::render::diff::report`]) says stage by stage
//! where numbers or shapes differ, then how the last call's output compares.

use std::io::Write;

use anyhow::Result;
use clap::Parser;
use ndarray::{Axis, Slice, concatenate};

use super::common;
use crate::cli::{self, DiffArgs, DiffOther};
use crate::config::Config;
use crate::diff::{self, TraceDiff};
use crate::error::{self, UsageError};
use crate::forward::{self, Weights};
use crate::memory;
use crate::numeric::{Numeric, Tensor};
use crate::plan::{self, Environment, Plan, Request, ViewChoices};
use crate::render::palette::Role;
use crate::render::{self, diff::report};
use crate::shape;
use crate::trace::{StageId, TensorId, Trace};

/// What to type when the second run is missing.
const USAGE: &str = "attnstep diff --preset minimind2 --steps 6,1 -- --steps 3,3,1";

pub fn run(args: &DiffArgs, env: &Environment) -> Result<()> {
    if args.other.is_empty() {
        return Err(UsageError(format!(
            "diff compares two runs: give the first run's flags, then `--`, then what to change \
             for the second, e.g. `{USAGE}` (one-shot against chunked prefill) or `attnstep \
             diff --preset minimind2 --seq-len 5 -- --num-kv-heads 8` (GQA against MHA)"
        ))
        .into());
    }
    let other = DiffOther::try_parse_from(&args.other).map_err(|e| {
        let text = e.render().to_string();
        let first = text.lines().next().unwrap_or_default();
        UsageError(format!(
            "in the second run's flags (after --): {}; after -- come configuration flags and \
             --bug, e.g. `{USAGE}`",
            first.trim_start_matches("error: ")
        ))
    })?;
    let view = ViewChoices {
        color: args.color.into(),
        ..ViewChoices::default()
    };
    let request = |flags, bug: Option<String>| Request {
        flags,
        flag_name: cli::flag,
        view: view.clone(),
        max_memory: Some(args.guard.max_memory.0),
        all: true,
        bug,
        ..Request::default()
    };
    let flags_a = args.config.spec();
    let plan_a = plan::build(&request(flags_a.clone(), args.bug.bug.clone()), None, env)?;
    let bug_b = other.bug.bug.clone().or_else(|| args.bug.bug.clone());
    let plan_b = plan::build(
        &request(flags_a.overridden_by(&other.config.spec()), bug_b),
        None,
        env,
    )
    .map_err(|e| UsageError(format!("in the second run (after --): {}", e.0)))?;
    let (a, b) = (&plan_a.config, &plan_b.config);
    let (need_a, need_b) = (memory::estimate(a).total(), memory::estimate(b).total());
    let larger = if need_a >= need_b { a } else { b };
    common::guard_memory(larger, need_a.saturating_add(need_b), plan_a.max_memory)?;

    let trace_a = forward::trace(a, &mut Numeric::new(a.seed));
    let shared = shares_input(a, b);
    let trace_b = if shared {
        let mut backend = Numeric::new(b.seed);
        let weights = Weights::init(b, &mut backend);
        forward::trace_with(b, &mut backend, weights, resplit(&trace_a, &b.steps))
    } else {
        forward::trace(b, &mut Numeric::new(b.seed))
    };
    let d = diff::diff(&trace_a, &trace_b);
    let mut out = error::stdout();
    write_diff(
        &mut out,
        &plan_a,
        (&trace_a, &trace_b),
        &d,
        shared,
        args.tol,
    )?;
    out.flush()?;
    Ok(())
}

/// Whether run B can read A's input tokens: same seed, batch, width and number of tokens.
fn shares_input(a: &Config, b: &Config) -> bool {
    a.seed == b.seed
        && a.batch == b.batch
        && a.hidden_size == b.hidden_size
        && a.total_len() == b.total_len()
}

/// A's inputs (one `x` per call) joined along the tokens and cut into `steps` calls.
fn resplit(a: &Trace<Tensor>, steps: &[usize]) -> Vec<Tensor> {
    let xs: Vec<_> = a
        .steps
        .iter()
        .map(|st| {
            st.tensor(TensorId::X)
                .expect("every call records its input")
                .data
                .view()
        })
        .collect();
    let all = concatenate(Axis(1), &xs).expect("the calls' inputs differ only in length");
    let (batch, hidden) = (all.shape()[0], all.shape()[2]);
    let mut start = 0;
    steps
        .iter()
        .map(|&n| {
            let part = all
                .slice_axis(Axis(1), Slice::from(start..start + n))
                .to_owned();
            start += n;
            Tensor::new(
                shape![(Bsz, batch), (SeqLen, n), (Hidden, hidden)],
                part.into_dyn(),
            )
        })
        .collect()
}

/// One line describing a run's configuration.
fn describe(cfg: &Config) -> String {
    let steps: Vec<String> = cfg.steps.iter().map(usize::to_string).collect();
    let mut s = format!(
        "hidden {}, {} heads, {} KV heads, head_dim {}, batch {}, steps {}, seed {}",
        cfg.hidden_size,
        cfg.num_attention_heads,
        cfg.num_key_value_heads,
        cfg.head_dim,
        cfg.batch,
        steps.join(","),
        cfg.seed
    );
    if let Some(p) = &cfg.preset {
        s = format!("{p}: {s}");
    }
    if cfg.qk_norm {
        s.push_str(", QK-norm");
    }
    if let Some(bug) = cfg.bug {
        s.push_str(&format!(", --bug {bug}"));
    }
    s
}

/// The header, the stage-by-stage report and the verdict on the last call's output.
fn write_diff(
    out: &mut dyn Write,
    plan: &Plan,
    (a, b): (&Trace<Tensor>, &Trace<Tensor>),
    d: &TraceDiff,
    shared: bool,
    tol: f32,
) -> std::io::Result<()> {
    let view = &plan.view;
    let pal = view.palette();
    let width = view.width.min(100);
    let para = |out: &mut dyn Write, text: &str| -> std::io::Result<()> {
        write!(out, "{}", render::wrap_words(text, width, "   "))
    };
    para(out, &format!("A: {}", describe(&a.config)))?;
    para(out, &format!("B: {}", describe(&b.config)))?;
    let same: Vec<&str> = a
        .weights
        .iter()
        .filter(|w| b.weight(w.id) == Some(&w.value))
        .map(|w| w.id.name())
        .collect();
    let weights = if same.len() == a.weights.len() && a.weights.len() == b.weights.len() {
        "the same weights".to_owned()
    } else if same.is_empty() {
        "different weights (their shapes differ, and so do the draws that follow)".to_owned()
    } else {
        format!(
            "the same {} (the other weights differ in shape, or in the draws after one that \
             does)",
            same.join(", ")
        )
    };
    let input = if shared {
        "the same input x, split into each run's calls"
    } else {
        "inputs drawn separately (the runs differ in seed, batch, width or length)"
    };
    para(
        out,
        &format!(
            "Same seed: {weights}; {input}. Calls are paired by the position they end at; \
             numbers within {tol:e} count as equal; ▶ marks the first stage that differs."
        ),
    )?;
    writeln!(out)?;
    for line in report(d, ("A", "B"), tol, &pal).lines() {
        write!(out, "{}", wrap_stage_line(line, width))?;
    }
    if let Some(line) = last_output(a, b, d, tol) {
        for piece in render::wrap_words(&line, width, "").lines() {
            writeln!(out, "{}", pal.paint(piece, Role::Heading))?;
        }
    }
    Ok(())
}

/// A line of the report fitted to `width`: the stage lines (`▶ scores        xq shape … vs
/// …; …`) list every shape that differs and wrap under the verdict column, past the 16 columns
/// of mark and stage name; the others wrap as prose.
fn wrap_stage_line(line: &str, width: usize) -> String {
    const COLUMN: usize = 16;
    let stage_line = line.starts_with(' ') || line.starts_with('▶');
    let split = line.char_indices().nth(COLUMN).map(|(i, _)| i);
    match split {
        Some(i) if stage_line && render::visible_width(line) > width => {
            let rest = render::wrap_words(&line[i..], width.saturating_sub(COLUMN), "");
            let mut out = String::new();
            for (k, piece) in rest.lines().enumerate() {
                let lead = if k == 0 { &line[..i] } else { "" };
                out.push_str(&format!("{lead:<COLUMN$}{piece}\n"));
            }
            out
        }
        _ if line.is_empty() => "\n".to_owned(),
        _ => render::wrap_words(line, width, ""),
    }
}

/// How the output of the last call compares, when both runs end at the same position.
fn last_output(a: &Trace<Tensor>, b: &Trace<Tensor>, d: &TraceDiff, tol: f32) -> Option<String> {
    let pair = (a.steps.len() - 1, b.steps.len() - 1);
    let t = d
        .tensors
        .iter()
        .find(|t| t.steps == pair && t.stage == StageId::OProj && t.tensor == TensorId::Output)?;
    let last = a.steps[pair.0].kv_len() - 1;
    let m = t.max_abs?;
    let (verdict, rel) = if m <= tol {
        ("agrees", "within")
    } else {
        ("differs", "over")
    };
    Some(format!(
        "Last call's output (o_proj, up to position {last}) {verdict}: largest |Δ| {m:.3e}, \
         {rel} the tolerance {tol:e}."
    ))
}
