//! The command layer: one module per command, the only code that knows both the command line
//! ([`crate::cli`]) and lessons ([`crate::lesson`]). Each command builds its [`Plan`] (the one
//! place choices are resolved and refused) and carries it out.

mod export;
mod lesson;
mod lessons;
mod presets;
mod run;
mod shapes;
mod welcome;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::error::UsageError;
use crate::memory;
use crate::numeric::{Numeric, Tensor};
use crate::plan::{Environment, Plan};
use crate::trace::Trace;

/// Runs the parsed command line in this process's environment.
pub fn dispatch(cli: Cli) -> Result<()> {
    let env = Environment::probe();
    match cli.command {
        Some(Command::Run(args)) => run::run(&args, &env),
        Some(Command::Export(args)) => export::run(&args, &env),
        Some(Command::Shapes(args)) => shapes::run(&args, &env),
        Some(Command::Presets(args)) => presets::run(&args),
        Some(Command::Lesson(args)) => lesson::run(&args, &env),
        Some(Command::Lessons(args)) => lessons::run(&args),
        None => welcome::run(&env),
    }
}

/// Computes the numeric trace after checking it fits in the memory the plan allows.
fn numeric_trace(plan: &Plan) -> Result<Trace<Tensor>> {
    let cfg = &plan.config;
    let limit = plan.max_memory.unwrap_or(memory::DEFAULT_MAX_MEMORY);
    let need = memory::numeric_trace_bytes(cfg);
    if need > u128::from(limit) {
        let (name, shape, bytes) = memory::largest_tensor(cfg);
        return Err(UsageError(format!(
            "this numeric trace would need about {} ({} bytes), over the --max-memory limit of {}; \
             use `attnstep shapes` with the same flags to see every shape without the numbers, \
             make the run smaller (--seq-len, --batch, --hidden-size), or raise --max-memory \
             (the largest tensor, {name} {shape}, alone takes {} in f32)",
            memory::human_bytes(need),
            need,
            memory::human_bytes(u128::from(limit)),
            memory::human_bytes(bytes)
        ))
        .into());
    }
    Ok(crate::forward::trace(cfg, &mut Numeric::new(cfg.seed)))
}

/// Prints a warning that does not stop the command.
fn warn(msg: impl std::fmt::Display) {
    eprintln!(
        "attnstep: warning: {}",
        crate::text::printable(&msg.to_string())
    );
}
