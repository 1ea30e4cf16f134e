//! `attnstep run`: the forward pass, stepped through or printed.

use std::io::Write;

use anyhow::Result;

use super::common;
use crate::cli::RunArgs;
use crate::diff;
use crate::error;
use crate::numeric::Tensor;
use crate::plan::{self, Environment, Mode, Request};
use crate::presentation::Presentation;
use crate::render;
use crate::render::palette::Role;
use crate::stepper::{self, Options, Run};
use crate::trace::Trace;

/// What `run`'s flags ask of the plan (also what the dry run checks).
pub(super) fn request(args: &RunArgs) -> Request {
    Request {
        all: args.all,
        quiz: args.quiz,
        bug: args.bug.bug.clone(),
        diff: args.diff,
        ..common::request(
            &args.config,
            Some(&args.view),
            Some(&args.select),
            Some(args.guard.max_memory),
        )
    }
}

pub fn run(args: &RunArgs, env: &Environment) -> Result<()> {
    let plan = plan::build(&request(args), None, env)?;
    common::warn_hidden_slip(&plan);
    let trace = common::numeric_trace(&plan)?;
    let mut out = error::stdout();
    let pres = Presentation::default();
    if plan.mode == Mode::Print {
        if plan.diff {
            print_compared(&mut out, &trace, &plan)?;
        } else {
            render::print_trace(&mut out, &trace, &plan.selection, &plan.view)?;
        }
        out.flush()?;
        return Ok(());
    }
    let runs = Run::single(trace);
    match plan.mode {
        Mode::Step { quiz } => {
            let opts = Options {
                quiz,
                ..Options::default()
            };
            stepper::present(&mut out, &runs, &pres, &plan.view, &opts)?;
        }
        _ => {
            let quiz = matches!(plan.mode, Mode::Lines { quiz: true });
            let opts = Options {
                quiz,
                ..Options::default()
            };
            stepper::present_lines(
                &mut common::stdin_lines(),
                &mut out,
                &runs,
                &pres,
                &plan.view,
                &opts,
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `--diff`: every selected stage of the planted run, each followed by how it compares with
/// MiniMind's faithful run (and MiniMind's numbers where they differ), then the verdict.
fn print_compared(
    out: &mut dyn Write,
    trace: &Trace<Tensor>,
    plan: &plan::Plan,
) -> std::io::Result<()> {
    let faithful = diff::faithful_twin(trace).expect("the plan refuses --diff without a slip");
    let d = diff::diff(&faithful, trace);
    let bug = trace.config.bug.expect("planted");
    let view = &plan.view;
    let pal = view.palette();
    let intro = format!(
        "Planted slip: --bug {bug} ({}). Each stage below is the planted run; under it, how it \
         compares with MiniMind's faithful run of the same seed, with MiniMind's numbers where \
         they differ. ▶ marks the first stage that goes wrong.",
        bug.symptom()
    );
    writeln!(
        out,
        "{}",
        render::wrap_words(&intro, view.width.min(100), "")
    )?;
    let sel = &plan.selection;
    for (i, step) in trace.steps.iter().enumerate() {
        if sel.step.is_some_and(|s| s != i) {
            continue;
        }
        for (j, stage) in step.stages.iter().enumerate() {
            if sel.stage.is_some_and(|s| s != stage.id) {
                continue;
            }
            writeln!(out, "{}", render::render_stage(trace, i, j, view))?;
            let cmp = render::diff::stage_comparison(&faithful, &d, i, j, diff::SLIP_TOL, view);
            writeln!(out, "{cmp}")?;
        }
    }
    let verdict = render::diff::summary(&d, diff::SLIP_TOL);
    write!(
        out,
        "{}",
        pal.paint(
            &render::wrap_words(verdict.trim_end(), view.width.min(100), ""),
            Role::Heading
        )
    )
}
