//! What several commands share: the plan's request from the flags, the memory guard before a
//! numeric trace, standard input read safely, warnings.

use std::io::{self, BufRead};

use anyhow::Result;

use crate::cli::{self, ByteSize, ConfigArgs, SelectArgs, ViewArgs};
use crate::config::Config;
use crate::error::UsageError;
use crate::files::LineLimit;
use crate::memory;
use crate::numeric::{Numeric, Tensor};
use crate::plan::{Mode, Plan, Request, ViewChoices};
use crate::trace::Trace;

/// The longest line read from standard input (line mode, the welcome's and resume prompts).
pub const MAX_INPUT_LINE: usize = 4096;

/// The plan's request from the flags a command has (`None`: the command has no such flags).
pub fn request(
    config: &ConfigArgs,
    view: Option<&ViewArgs>,
    select: Option<&SelectArgs>,
    max_memory: Option<ByteSize>,
) -> Request {
    Request {
        flags: config.spec(),
        flag_name: cli::flag,
        view: view.map(view_choices).unwrap_or_default(),
        stage: select.and_then(|s| s.stage.clone()),
        step: select.and_then(|s| s.step),
        max_memory: max_memory.map(|b| b.0),
        model: config.model(),
        ..Request::default()
    }
}

fn view_choices(v: &ViewArgs) -> ViewChoices {
    ViewChoices {
        head: v.head,
        batch_index: v.batch_index,
        max_rows: Some(v.max_rows),
        max_cols: Some(v.max_cols),
        precision: Some(v.precision),
        color: v.color.into(),
        theme: v.theme.into(),
    }
}

/// Computes the numeric trace after checking it fits in the memory the plan allows.
pub fn numeric_trace(plan: &Plan) -> Result<Trace<Tensor>> {
    let cfg = &plan.config;
    // A planted slip is compared (`--diff`, the stepper's `d`) with MiniMind's faithful run,
    // which takes as much again.
    let twin = cfg.bug.is_some() && (plan.diff || plan.mode != Mode::Print);
    let runs = if twin { 2 } else { 1 };
    let need = match &plan.model {
        // Memory-mapped weights cost nothing until read; the activations of every layer do.
        Some(m) => m.checkpoint.activation_bytes(cfg),
        None => memory::estimate(cfg).total().saturating_mul(runs),
    };
    guard_memory(cfg, need, plan.max_memory)?;
    match &plan.model {
        Some(m) => Ok(m
            .checkpoint
            .trace(&m.name, &m.tokens, &cfg.steps, m.layer)
            .map_err(|e| UsageError(e.to_string()))?),
        None => Ok(crate::forward::trace(cfg, &mut Numeric::new(cfg.seed))),
    }
}

/// Refuses to compute `need` bytes of traces (of `cfg`, the largest run) over the limit.
pub fn guard_memory(cfg: &Config, need: u128, max_memory: Option<u64>) -> Result<()> {
    let limit = max_memory.unwrap_or(memory::DEFAULT_MAX_MEMORY);
    if need > u128::from(limit) {
        let (name, shape, bytes) = memory::largest_tensor(cfg);
        return Err(UsageError(format!(
            "this numeric trace would need {}, over the --max-memory limit of {}; \
             use `attnstep shapes` with the same flags to see every shape without the numbers, \
             make the run smaller (--seq-len, --batch, --hidden-size), or raise --max-memory \
             (the largest tensor, {name} {shape}, alone takes {} in f32)",
            memory::approx_bytes(need),
            memory::human_bytes(u128::from(limit)),
            memory::human_bytes(bytes)
        ))
        .into());
    }
    Ok(())
}

/// Warns when the planted slip cannot show in this configuration (the flags changed a lesson,
/// or `run --bug` was given a configuration that hides it): the run is MiniMind's after all.
pub fn warn_hidden_slip(plan: &Plan) {
    if let Some(why) = plan.config.bug.and_then(|b| b.hidden_by(&plan.config)) {
        warn(format!(
            "{why}; this run computes exactly what MiniMind's does"
        ));
    }
}

/// Prints a warning that does not stop the command.
pub fn warn(msg: impl std::fmt::Display) {
    eprintln!(
        "attnstep: warning: {}",
        crate::text::printable(&msg.to_string())
    );
}

/// Standard input for line mode: lines of bounded length, errors that name the stream.
pub fn stdin_lines() -> LineLimit<io::StdinLock<'static>> {
    LineLimit::new(io::stdin().lock(), MAX_INPUT_LINE, "standard input")
}

/// One line typed at the terminal, of bounded length.
pub fn read_answer() -> Result<String> {
    let mut line = String::new();
    stdin_lines().read_line(&mut line)?;
    Ok(line)
}
