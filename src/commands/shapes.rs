//! `attnstep shapes`: every stage's shapes and sizes at any model size, no numbers computed.

use std::io::Write;

use anyhow::Result;

use super::common;
use crate::cli::ShapesArgs;
use crate::error::{self, UsageError};
use crate::plan::{self, Environment, Request};

pub fn run(args: &ShapesArgs, env: &Environment) -> Result<()> {
    write(args, env, &mut error::stdout())
}

/// The table (or JSON) for `args`, written to `out`.
pub(super) fn write(args: &ShapesArgs, env: &Environment, out: &mut dyn Write) -> Result<()> {
    let request = Request {
        all: true,
        ..common::request(&args.config, None, Some(&args.select), None)
    };
    let plan = plan::build(&request, None, env)?;
    let cfg = &plan.config;
    let layers = match args.layers {
        Some(0) => {
            return Err(UsageError(
                "--layers must be at least 1 (the model has at least one attention layer)".into(),
            )
            .into());
        }
        Some(n) => n,
        None => cfg
            .preset
            .as_deref()
            .and_then(crate::presets::find)
            .map_or(1, |p| p.num_hidden_layers),
    };
    let report = crate::report::report(cfg, layers, args.dtype.into(), plan.selection.step);
    if args.json {
        crate::report::write_json(&report, &mut *out)?;
        writeln!(out)?;
    } else {
        let opt = crate::render::report::TextOptions {
            exact_bytes: args.bytes,
            compare: args.compare,
            stage: plan.selection.stage,
            step: plan.selection.step,
        };
        crate::render::report::write_text(&mut *out, &report, &opt)?;
    }
    out.flush()?;
    Ok(())
}
