//! `attnstep run`: the forward pass, stepped through or printed.

use std::io::Write;

use anyhow::Result;

use super::common;
use crate::cli::RunArgs;
use crate::error;
use crate::plan::{self, Environment, Mode, Request};
use crate::presentation::Presentation;
use crate::render;
use crate::stepper::{self, Options, Run};

pub fn run(args: &RunArgs, env: &Environment) -> Result<()> {
    let request = Request {
        all: args.all,
        quiz: args.quiz,
        ..common::request(
            &args.config,
            Some(&args.view),
            Some(&args.select),
            Some(args.guard.max_memory),
        )
    };
    let plan = plan::build(&request, None, env)?;
    let trace = common::numeric_trace(&plan)?;
    let mut out = error::stdout();
    let pres = Presentation::default();
    if plan.mode == Mode::Print {
        render::print_trace(&mut out, &trace, &plan.selection, &plan.view)?;
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
