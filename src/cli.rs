//! Command-line definitions (clap derive). Flags are documented where they are declared; the
//! configuration flags are shared by every command that runs the forward pass.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::ConfigSpec;

#[derive(Parser, Debug)]
#[command(
    name = "attnstep",
    version,
    about = "Step through a transformer's attention forward pass (MiniMind's Attention.forward), \
             one stage at a time, with every tensor's shape and the numbers that matter.",
    after_help = "Examples:\n  \
        attnstep run --preset minimind2 --seq-len 6 --decode 2\n  \
        attnstep run --hidden-size 64 --num-heads 8 --num-kv-heads 2 --steps 5,1,1 --stage softmax\n  \
        attnstep export --preset minimind3 --steps 6,1,1 -o trace.json\n  \
        attnstep shapes --preset llama-3-8b --seq-len 8192 --stage repeat_kv --compare\n  \
        attnstep presets\n  \
        attnstep lesson 1            (the course starts here; `attnstep lessons` lists it)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the forward pass and show each stage.
    Run(RunArgs),
    /// Write the whole trace (config, weights, every tensor of every step) as attnstep-trace/1 JSON.
    Export(ExportArgs),
    /// Every stage's tensor shapes and sizes at any model size, without computing numbers.
    Shapes(ShapesArgs),
    /// List the model presets with their attention dimensions.
    Presets(PresetsArgs),
    /// Take a lesson: a bundled one by name or number (`attnstep lesson 1`), or a lesson file.
    Lesson(LessonArgs),
    /// List the bundled lessons; check lesson files (`lessons check FILE…`); print one (`lessons show NAME`).
    Lessons(LessonsArgs),
}

#[derive(Args, Debug)]
pub struct ShapesArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Layers in the model, for the KV-cache and weight totals [default: the preset's
    /// num_hidden_layers, else 1].
    #[arg(long, value_name = "N")]
    pub layers: Option<usize>,
    /// Element type for byte counts.
    #[arg(long, value_enum, default_value_t = crate::memory::Dtype::Bf16)]
    pub dtype: crate::memory::Dtype,
    /// Also show the KV cache of this configuration as MHA and as MQA, with the saving.
    #[arg(long)]
    pub compare: bool,
    /// Show exact byte counts beside the human units.
    #[arg(long)]
    pub bytes: bool,
    /// Print the whole table as JSON (format attnstep-shapes/2) instead of text; the JSON
    /// holds every stage of every step shown (decode calls alike but for kv_len grouped),
    /// whatever --stage picks.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub select: SelectArgs,
}

#[derive(Args, Debug)]
pub struct PresetsArgs {
    /// Print the presets as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LessonArgs {
    /// A bundled lesson's name or number (see `attnstep lessons`), or a path to a .toml file.
    #[arg(value_name = "NAME|NUMBER|FILE")]
    pub name: String,
    /// Print every stage at once instead of stepping (no prompts, progress not saved).
    #[arg(long)]
    pub all: bool,
    /// Predict each new shape before it is shown.
    #[arg(long)]
    pub quiz: bool,
    /// Start from the beginning, forgetting where you stopped last time.
    #[arg(long)]
    pub restart: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Args, Debug)]
pub struct LessonsArgs {
    #[command(subcommand)]
    pub command: Option<LessonsCommand>,
}

#[derive(Subcommand, Debug)]
pub enum LessonsCommand {
    /// Check lesson files without running them (every bundled lesson when no FILE is given).
    Check {
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print a bundled lesson's TOML, to copy and change (`attnstep lessons show gqa > mine.toml`).
    Show {
        #[arg(value_name = "NAME|NUMBER")]
        name: String,
    },
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub view: ViewArgs,
    /// Print every stage of every step at once instead of stepping.
    #[arg(long)]
    pub all: bool,
    /// Predict each new shape before it is shown.
    #[arg(long)]
    pub quiz: bool,
    #[command(flatten)]
    pub select: SelectArgs,
}

/// Which stage and step to print.
#[derive(Args, Debug, Clone, Default)]
pub struct SelectArgs {
    /// Show only this stage: an id (softmax, repeat_kv, …) or its number (1-based).
    #[arg(long, value_name = "ID")]
    pub stage: Option<String>,
    /// Show only this step (1-based: 1 is the prefill).
    #[arg(long, value_name = "N")]
    pub step: Option<usize>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    /// Where to write the JSON; `-` for standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// How stages are drawn: which head and batch row, colour, and size limits.
#[derive(Args, Debug, Clone)]
pub struct ViewArgs {
    /// Query head shown in the matrices (0-based) [default: 0, or the lesson's].
    #[arg(long, value_name = "H")]
    pub head: Option<usize>,
    /// Batch row shown in the matrices (0-based) [default: 0, or the lesson's].
    #[arg(long, value_name = "B")]
    pub batch_index: Option<usize>,
    /// Rows shown before eliding the middle of a tensor.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_rows: usize,
    /// Columns shown before eliding the middle of a tensor.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_cols: usize,
    /// Decimals shown.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub precision: usize,
    /// Colour: auto (a terminal, NO_COLOR unset or empty, TERM not dumb; CLICOLOR_FORCE or
    /// FORCE_COLOR force it), always, or never.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = crate::render::color::ColorChoice::Auto)]
    pub color: crate::render::color::ColorChoice,
}

/// Protection against numeric runs too large for memory.
#[derive(Args, Debug, Clone)]
pub struct GuardArgs {
    /// Refuse numeric runs whose trace would exceed this size (e.g. 512MiB, 2GiB, 8GB).
    #[arg(long, value_name = "SIZE", default_value = "2GiB")]
    pub max_memory: String,
}

/// The attention configuration. Explicit flags override a preset (and a lesson).
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Start from a model's published attention dimensions (minimind2, llama-3-8b, …; see
    /// `attnstep presets`).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Model width: features per token in x.
    #[arg(long, value_name = "N")]
    pub hidden_size: Option<usize>,
    /// Query heads.
    #[arg(long, value_name = "N", visible_alias = "num-attention-heads")]
    pub num_heads: Option<usize>,
    /// Key/value heads (fewer than query heads: GQA; one: MQA).
    #[arg(long, value_name = "N", visible_alias = "num-key-value-heads")]
    pub num_kv_heads: Option<usize>,
    /// Features per head [default: hidden_size / num_heads].
    #[arg(long, value_name = "N")]
    pub head_dim: Option<usize>,
    /// Sequences processed together.
    #[arg(long, value_name = "B")]
    pub batch: Option<usize>,
    /// Tokens per forward call: the prefill, then calls through the KV cache (e.g. 5,1,1).
    #[arg(
        long,
        value_name = "N,N,…",
        value_delimiter = ',',
        conflicts_with = "seq_len"
    )]
    pub steps: Option<Vec<usize>>,
    /// Tokens in a single prefill call (same as --steps N).
    #[arg(long, value_name = "N")]
    pub seq_len: Option<usize>,
    /// Append K one-token decode calls after the steps.
    #[arg(long, value_name = "K")]
    pub decode: Option<usize>,
    /// Padding mask: one 0/1 string per batch row covering every token of every step
    /// (e.g. 0111111,1111111); 0 marks padding.
    #[arg(long, value_name = "ROWS", value_delimiter = ',')]
    pub attention_mask: Option<Vec<String>>,
    /// RMSNorm the queries and keys over head_dim before RoPE (MiniMind-3).
    #[arg(long, conflicts_with = "no_qk_norm")]
    pub qk_norm: bool,
    /// Turn QK-norm off (overrides a preset or lesson that turns it on).
    #[arg(long)]
    pub no_qk_norm: bool,
    /// RMSNorm epsilon (QK-norm).
    #[arg(long, value_name = "EPS")]
    pub rms_norm_eps: Option<f64>,
    /// RoPE base [default: 1e6].
    #[arg(long, value_name = "THETA")]
    pub rope_theta: Option<f64>,
    /// Let every token see every other (turns the causal mask off).
    #[arg(long)]
    pub no_causal: bool,
    /// Seed for the random weights and inputs [default: 7].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Token labels for the positions, one word each (e.g. "The cat sat on the mat").
    #[arg(long, value_name = "TEXT")]
    pub tokens: Option<String>,
}

impl ConfigArgs {
    /// What the flags set, as a layer over presets and lessons.
    pub fn spec(&self) -> ConfigSpec {
        ConfigSpec {
            preset: self.preset.clone(),
            hidden_size: self.hidden_size,
            num_attention_heads: self.num_heads,
            num_key_value_heads: self.num_kv_heads,
            head_dim: self.head_dim,
            batch: self.batch,
            steps: self.steps.clone(),
            seq_len: self.seq_len,
            decode: self.decode,
            attention_mask: self.attention_mask.clone(),
            qk_norm: if self.qk_norm {
                Some(true)
            } else if self.no_qk_norm {
                Some(false)
            } else {
                None
            },
            rms_norm_eps: self.rms_norm_eps,
            rope_theta: self.rope_theta,
            causal: self.no_causal.then_some(false),
            seed: self.seed,
            tokens: self.tokens.clone(),
        }
    }
}
