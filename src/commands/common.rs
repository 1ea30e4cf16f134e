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
use crate::stepper::Run;
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
        max_rows: v.max_rows,
        max_cols: v.max_cols,
        precision: v.precision,
        color: v.color.into(),
        theme: v.theme.into(),
    }
}

/// Computes the numeric trace after checking it fits in the memory the plan allows.
pub fn numeric_trace(plan: &Plan) -> Result<Trace<Tensor>> {
    numeric_trace_of(&plan.config, plan)
}

/// The runs a walk shows: one per variant of the plan's lesson (each checked against the memory
/// limit), or the plan's one configuration.
///
/// Variants are compared on the same numbers: a variant that differs from the first only in
/// its key/value heads takes the first variant's inputs `x` and `o_proj` (and, drawn first from
/// the same seed, its `q_proj` is the same too), so only `k_proj` and `v_proj`, and what follows
/// from them, differ.
pub fn runs(plan: &Plan) -> Result<Vec<Run>> {
    if plan.variants.is_empty() {
        return Ok(Run::single(numeric_trace(plan)?));
    }
    let mut runs: Vec<Run> = Vec::new();
    for v in &plan.variants {
        let mut trace = numeric_trace_of(&v.config, plan)?;
        if let Some(first) = runs.first()
            && same_but_kv_heads(&first.trace.config, &v.config)
        {
            trace = shared_inputs(&first.trace, &v.config);
        }
        runs.push(Run {
            name: Some(v.name.clone()),
            trace,
        });
    }
    Ok(runs)
}

/// Whether two configurations differ at most in their key/value heads.
fn same_but_kv_heads(a: &Config, b: &Config) -> bool {
    let mut b = b.clone();
    b.num_key_value_heads = a.num_key_value_heads;
    *a == b
}

/// The trace of `cfg` with the inputs and `o_proj` of `reference` (whose configuration differs
/// only in its key/value heads), and its own `q_proj`, `k_proj`, `v_proj` from the seed.
fn shared_inputs(reference: &Trace<Tensor>, cfg: &Config) -> Trace<Tensor> {
    use crate::forward::{self, Weights};
    use crate::trace::{TensorId, WeightId};
    let mut b = Numeric::new(cfg.seed);
    let mut weights = Weights::init(cfg, &mut b);
    if let Some(o) = reference.weight(WeightId::OProj) {
        weights.o_proj = o.clone();
    }
    let inputs = reference
        .steps
        .iter()
        .filter_map(|st| st.tensor(TensorId::X).cloned())
        .collect();
    forward::trace_with(cfg, &mut b, weights, inputs)
}

/// Refuses a numeric trace of the plan that would not fit in the memory it allows (closed form:
/// no tensor is allocated).
pub fn memory_guard(plan: &Plan) -> Result<()> {
    guard_config(&plan.config, plan)
}

/// The memory guard for configuration `cfg` of the plan (a variant's, or the plan's own).
fn guard_config(cfg: &Config, plan: &Plan) -> Result<()> {
    // A planted slip is compared (`--diff`, the stepper's `d`) with MiniMind's faithful run,
    // which takes as much again.
    let twin = cfg.bug.is_some() && (plan.diff || plan.mode != Mode::Print);
    let runs = if twin { 2 } else { 1 };
    let need = match &plan.model {
        // Memory-mapped weights cost nothing until read; the activations of every layer do.
        Some(m) => m.checkpoint.activation_bytes(cfg),
        None => memory::estimate(cfg).total().saturating_mul(runs),
    };
    guard_memory(cfg, need, plan.max_memory)
}

/// [`numeric_trace`] for configuration `cfg` under the plan's memory limit.
fn numeric_trace_of(cfg: &Config, plan: &Plan) -> Result<Trace<Tensor>> {
    guard_config(cfg, plan)?;
    match &plan.model {
        Some(m) => Ok(m
            .checkpoint
            .trace(&m.name, &m.tokens, &cfg.steps, m.layer)
            .map_err(|e| UsageError(e.to_string()))?),
        None => {
            // A stepper may show any slice, so row summaries are worth taking as rows are
            // written; a printed run (or an export) scans only what it shows.
            let mut backend = match plan.mode {
                Mode::Print => Numeric::new(cfg.seed).without_row_summaries(),
                Mode::Step { .. } | Mode::Lines { .. } => Numeric::new(cfg.seed),
            };
            Ok(crate::forward::trace(cfg, &mut backend))
        }
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
