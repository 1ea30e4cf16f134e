//! Dispatch: turns parsed command-line arguments into work, and errors into exit statuses.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use anyhow::{Context, Result};

use crate::cli::{
    Cli, Command, ExportArgs, GuardArgs, PresetsArgs, RunArgs, SelectArgs, ShapesArgs,
};
use crate::config::{Config, ConfigError};
use crate::memory;
use crate::numeric::{Numeric, Tensor};
use crate::presentation::Presentation;
use crate::render::{self, Selection};
use crate::trace::{StageId, Trace};

/// A mistake in what the user asked for: reported with exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Run(args)) => cmd_run(args),
        Some(Command::Export(args)) => cmd_export(args),
        Some(Command::Shapes(args)) => cmd_shapes(args),
        Some(Command::Presets(args)) => cmd_presets(args),
        Some(Command::Lesson(args)) => crate::lesson::cmd_lesson(args),
        Some(Command::Lessons(args)) => crate::lesson::cmd_lessons(args),
        None => crate::lesson::cmd_welcome(),
    }
}

/// Maps an error to its exit status: 2 for bad input, 0 for a closed pipe, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if is_broken_pipe(err) {
        0
    } else if err.downcast_ref::<UsageError>().is_some()
        || err.downcast_ref::<ConfigError>().is_some()
    {
        2
    } else {
        1
    }
}

/// True when the error is a write to a closed pipe (`attnstep run | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == io::ErrorKind::BrokenPipe)
    })
}

/// Computes the numeric trace after checking it fits in the memory the user allows.
pub fn numeric_trace(cfg: &Config, guard: &GuardArgs) -> Result<Trace<Tensor>> {
    let limit = memory::parse_bytes(&guard.max_memory)
        .map_err(|e| UsageError(format!("--max-memory: {e}")))?;
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

fn cmd_run(args: RunArgs) -> Result<()> {
    let cfg = args.config.spec().resolve()?;
    let Selection { step, stage } = selection(&args.select, &cfg)?;
    if args.quiz && (stage.is_some() || step.is_some() || args.all) {
        return Err(UsageError(
            "--quiz asks for each shape while stepping through every stage; \
             drop --all, --stage and --step to take it"
                .into(),
        )
        .into());
    }
    let trace = numeric_trace(&cfg, &args.guard)?;
    let view = view_from(&args.view, &cfg)?;
    let mut out = BufWriter::new(io::stdout().lock());
    if stage.is_some() || step.is_some() || args.all {
        render::print_trace(&mut out, &trace, &Selection { step, stage }, &view)?;
    } else {
        let opts = crate::stepper::Options {
            quiz: args.quiz,
            start: None,
        };
        crate::stepper::present(&mut out, &trace, &Presentation::default(), &view, &opts)?;
    }
    out.flush()?;
    Ok(())
}

/// Checks the view flags against the configuration and builds the [`render::View`].
pub fn view_from(args: &crate::cli::ViewArgs, cfg: &Config) -> Result<render::View, UsageError> {
    let head = args.head.unwrap_or(0);
    let batch_index = args.batch_index.unwrap_or(0);
    if head >= cfg.num_attention_heads {
        return Err(UsageError(format!(
            "--head {} is out of range: there are {} query heads (0 to {})",
            head,
            cfg.num_attention_heads,
            cfg.num_attention_heads - 1
        )));
    }
    if batch_index >= cfg.batch {
        return Err(UsageError(format!(
            "--batch-index {} is out of range: batch is {} (rows 0 to {})",
            batch_index,
            cfg.batch,
            cfg.batch - 1
        )));
    }
    Ok(render::View {
        head,
        batch: batch_index,
        max_rows: args.max_rows.max(2),
        max_cols: args.max_cols.max(2),
        precision: args.precision.min(9),
        color: render::color::decide_from_env(args.color),
        width: render::color::width_from_env(),
        ..render::View::default()
    })
}

/// Checks `--stage` and `--step` (1-based) against the configuration.
pub fn selection(args: &SelectArgs, cfg: &Config) -> Result<Selection, UsageError> {
    let stage = args
        .stage
        .as_deref()
        .map(|s| parse_stage(s, cfg))
        .transpose()?;
    let step = match args.step {
        None => None,
        Some(n) if n >= 1 && n <= cfg.steps.len() => Some(n - 1),
        Some(n) => {
            return Err(UsageError(format!(
                "--step {n} is out of range: this configuration has {} step(s) (1 is the prefill)",
                cfg.steps.len()
            )));
        }
    };
    Ok(Selection { step, stage })
}

/// Parses `--stage`: an id (`softmax`) or a 1-based number among the stages this config has.
pub fn parse_stage(text: &str, cfg: &Config) -> Result<StageId, UsageError> {
    let present: Vec<StageId> = StageId::ALL
        .into_iter()
        .filter(|id| match id {
            StageId::QkNorm => cfg.qk_norm,
            StageId::PaddingMask => cfg.attention_mask.is_some(),
            _ => true,
        })
        .collect();
    if let Ok(n) = text.trim().parse::<usize>() {
        return present.get(n.wrapping_sub(1)).copied().ok_or_else(|| {
            UsageError(format!(
                "--stage {n} is out of range: this configuration has stages 1 to {}",
                present.len()
            ))
        });
    }
    let list = || {
        present
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match StageId::parse(text) {
        Some(id) if present.contains(&id) => Ok(id),
        Some(id) => Err(UsageError(format!(
            "stage '{id}' does not happen in this configuration ({}); its stages are: {}",
            match id {
                StageId::QkNorm => "add --qk-norm",
                _ => "add --attention-mask",
            },
            list()
        ))),
        None => Err(UsageError(format!(
            "unknown stage '{text}'; the stages are: {}",
            list()
        ))),
    }
}

fn cmd_export(args: ExportArgs) -> Result<()> {
    let cfg = args.config.spec().resolve()?;
    let trace = numeric_trace(&cfg, &args.guard)?;
    if args.output.as_os_str() == "-" {
        let mut out = BufWriter::new(io::stdout().lock());
        crate::export::write_json(&trace, &mut out)?;
        writeln!(out)?;
        out.flush()?;
    } else {
        let path = &args.output;
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = BufWriter::new(file);
        crate::export::write_json(&trace, &mut out)
            .with_context(|| format!("cannot write {}", path.display()))?;
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn cmd_shapes(args: ShapesArgs) -> Result<()> {
    let cfg = args.config.spec().resolve()?;
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
    let Selection { step, stage } = selection(&args.select, &cfg)?;
    let report = crate::shapes::report(&cfg, layers, args.dtype);
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        crate::shapes::write_json(&report, &mut out)?;
        writeln!(out)?;
    } else {
        let opt = crate::shapes::TextOptions {
            exact_bytes: args.bytes,
            compare: args.compare,
            stage,
            step,
        };
        crate::shapes::write_text(&mut out, &report, &opt)?;
    }
    out.flush()?;
    Ok(())
}

fn cmd_presets(args: PresetsArgs) -> Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, crate::presets::PRESETS)?;
        writeln!(out)?;
    } else {
        crate::shapes::write_presets(&mut out)?;
    }
    out.flush()?;
    Ok(())
}
