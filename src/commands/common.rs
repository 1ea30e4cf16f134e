//! What several commands share: the plan's request from the flags, the memory guard before a
//! numeric trace, standard input read safely, warnings.

use std::io::{self, BufRead};

use anyhow::Result;

use crate::cli::{self, ByteSize, ConfigArgs, SelectArgs, ViewArgs};
use crate::error::UsageError;
use crate::files::LineLimit;
use crate::memory;
use crate::numeric::{Numeric, Tensor};
use crate::plan::{Plan, Request, ViewChoices};
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
    memory_guard(plan)?;
    Ok(crate::forward::trace(
        &plan.config,
        &mut Numeric::new(plan.config.seed),
    ))
}

/// Refuses a numeric trace that would not fit in the memory the plan allows (closed form: no
/// tensor is allocated).
pub fn memory_guard(plan: &Plan) -> Result<()> {
    let cfg = &plan.config;
    let limit = plan.max_memory.unwrap_or(memory::DEFAULT_MAX_MEMORY);
    let need = memory::estimate(cfg).total();
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
