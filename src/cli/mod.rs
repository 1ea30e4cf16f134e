//! Command-line definitions (clap derive). Flags are documented where they are declared; the
//! configuration flags are shared by every command that runs the forward pass.
//!
//! The command line's own vocabulary (the enums clap parses and maps to the engine's types,
//! the value parsers, and [`flag`], with which errors are worded) lives in `values`.

mod values;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::ConfigSpec;
use crate::memory;
use crate::plan::ModelRequest;

pub use values::{ByteSize, ColorArg, DtypeArg, FormatArg, ThemeArg, flag};
use values::{byte_size, index, positive, seed, table_extent, tolerance};

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
        attnstep lesson 1            (the course starts here; `attnstep lessons` lists it)\n  \
        attnstep run --bug no-scale --all --diff      (a planted slip beside MiniMind's run)\n  \
        attnstep diff --preset minimind2 --steps 6,1 -- --steps 3,3,1"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Threads the numeric engine uses; 0 (the default) means RAYON_NUM_THREADS, else one per
    /// core.
    #[arg(long, global = true, value_name = "N", allow_negative_numbers = true, value_parser = index)]
    pub threads: Option<usize>,
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
    /// List the slips `--bug NAME` can plant in the forward pass (`--explain` gives them away).
    Bugs(BugsArgs),
    /// Compare two runs with the same seed, stage by stage: `attnstep diff FLAGS -- FLAGS`.
    ///
    /// The flags before `--` make the first run (A); the flags after it change A into the
    /// second run (B).
    #[command(after_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
}

const DIFF_EXAMPLES: &str = "Examples:\n  \
    attnstep diff --preset minimind2 --steps 6,1 -- --steps 3,3,1    (one-shot vs chunked prefill)\n  \
    attnstep diff --preset minimind2 --seq-len 5 -- --num-kv-heads 8  (GQA vs MHA)\n  \
    attnstep diff --steps 4,3 -- --bug causal-not-offset               (MiniMind vs a slip)\n\n\
    Both runs draw their weights from the same seed, and when they cover the same tokens they \
    read the same input x, split into each run's calls. Calls are paired by the position they \
    end at.";

#[derive(Args, Debug)]
pub struct BugsArgs {
    /// Also say what each slip is, how to spot it, and the stage where it first shows.
    #[arg(long)]
    pub explain: bool,
}

/// `--bug`: a slip planted in the forward pass.
#[derive(Args, Debug, Clone, Default)]
pub struct BugArgs {
    /// Plant a slip in the forward pass (see `attnstep bugs`), e.g. --bug softmax-over-queries.
    #[arg(long, value_name = "NAME")]
    pub bug: Option<String>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub bug: BugArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    /// Largest |difference| still counted as equal (float rounding).
    #[arg(long, value_name = "TOL", default_value_t = 1e-5, value_parser = tolerance)]
    pub tol: f32,
    /// Colour: auto, always, or never.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// The second run: flags that change the first (configuration flags and --bug), after `--`.
    #[arg(last = true, value_name = "FLAGS")]
    pub other: Vec<String>,
}

/// The flags after `attnstep diff … --`.
#[derive(Parser, Debug)]
#[command(
    name = "attnstep diff … --",
    no_binary_name = true,
    disable_help_flag = true
)]
pub struct DiffOther {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub bug: BugArgs,
}

#[derive(Args, Debug)]
pub struct ShapesArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Layers in the model, for the KV-cache and weight totals [default: the preset's
    /// num_hidden_layers, else 1].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive)]
    pub layers: Option<usize>,
    /// Element type for byte counts.
    #[arg(long, value_enum, default_value_t = DtypeArg::Bf16)]
    pub dtype: DtypeArg,
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
    /// Print every stage at once instead of stepping (no prompts; the lesson counts as read).
    #[arg(long)]
    pub all: bool,
    /// Predict each new shape before it is shown.
    #[arg(long)]
    pub quiz: bool,
    /// Start from the beginning, forgetting where you stopped last time.
    #[arg(long)]
    pub restart: bool,
    /// Start with this variant of a lesson that has several (`v` switches while stepping).
    #[arg(long, value_name = "NAME")]
    pub variant: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub bug: BugArgs,
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
    #[command(flatten)]
    pub bug: BugArgs,
    /// With --bug: print each stage beside MiniMind's faithful run, the first stage that
    /// differs marked (implies --all; in the stepper, `d` shows the same comparison).
    #[arg(long)]
    pub diff: bool,
}

/// Which stage and step to print.
#[derive(Args, Debug, Clone, Default)]
pub struct SelectArgs {
    /// Show only this stage: an id (softmax, repeat_kv, …) or its number (1-based).
    #[arg(long, value_name = "ID")]
    pub stage: Option<String>,
    /// Show only this step (1-based: 1 is the prefill).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive)]
    pub step: Option<usize>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub bug: BugArgs,
    /// Where to write the trace; `-` for standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// json (attnstep-trace/1, the default), npz (numpy's np.load gives every tensor by name,
    /// e.g. step1/scores) or safetensors (the same names).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,
}

/// How stages are drawn: which head and batch row, colour, and size limits.
#[derive(Args, Debug, Clone)]
pub struct ViewArgs {
    /// Query head shown in the matrices (0-based) [default: 0, or the lesson's].
    #[arg(long, value_name = "H", allow_negative_numbers = true, value_parser = index)]
    pub head: Option<usize>,
    /// Batch row shown in the matrices (0-based) [default: 0, or the lesson's].
    #[arg(long, value_name = "B", allow_negative_numbers = true, value_parser = index)]
    pub batch_index: Option<usize>,
    /// Rows shown before eliding the middle of a tensor, 2 or more [default: 8, or the
    /// lesson's].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = table_extent)]
    pub max_rows: Option<usize>,
    /// Columns shown before eliding the middle of a tensor, 2 or more [default: 8, or the
    /// lesson's].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = table_extent)]
    pub max_cols: Option<usize>,
    /// Decimals shown [default: 3, or the lesson's].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = index)]
    pub precision: Option<usize>,
    /// Colour: auto (a terminal, NO_COLOR unset or empty, TERM not dumb; CLICOLOR_FORCE or
    /// FORCE_COLOR force it), always, or never.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Colours for the background: auto (reads COLORFGBG, dark when it says nothing), dark, or
    /// light (white terminals and bright projectors).
    #[arg(long, value_name = "THEME", value_enum, default_value_t = ThemeArg::Auto)]
    pub theme: ThemeArg,
}

/// Protection against numeric runs too large for memory.
#[derive(Args, Debug, Clone)]
pub struct GuardArgs {
    /// Refuse numeric runs whose trace would exceed this size (e.g. 512MiB, 2GiB, 8GB, 1e9;
    /// KiB, MiB, … are powers of 1024, KB, MB, … powers of 1000).
    #[arg(long, value_name = "SIZE", default_value_t = ByteSize(memory::DEFAULT_MAX_MEMORY), value_parser = byte_size, allow_hyphen_values = true)]
    pub max_memory: ByteSize,
}

/// The attention configuration. Explicit flags override a preset (and a lesson).
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Run a real MiniMind checkpoint: `tiny` (bundled, trained) or a directory in the Hugging
    /// Face layout (config.json, model.safetensors, tokenizer.json). Needs --text.
    #[arg(long, value_name = "DIR|tiny", help_heading = "Checkpoint")]
    pub weights: Option<String>,
    /// The text to run through the checkpoint; its tokens label the rows and columns.
    #[arg(long, value_name = "TEXT", help_heading = "Checkpoint")]
    pub text: Option<String>,
    /// The checkpoint's layer to step through (0-based) [default: 0].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = index, help_heading = "Checkpoint")]
    pub layer: Option<usize>,
    /// Start from a model's published attention dimensions (minimind2, llama-3-8b, …; see
    /// `attnstep presets`).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Model width: features per token in x.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive)]
    pub hidden_size: Option<usize>,
    /// Query heads.
    #[arg(long, value_name = "N", visible_alias = "num-attention-heads", allow_negative_numbers = true, value_parser = positive)]
    pub num_heads: Option<usize>,
    /// Key/value heads (fewer than query heads: GQA; one: MQA).
    #[arg(long, value_name = "N", visible_alias = "num-key-value-heads", allow_negative_numbers = true, value_parser = positive)]
    pub num_kv_heads: Option<usize>,
    /// Features per head [default: hidden_size / num_heads].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive)]
    pub head_dim: Option<usize>,
    /// Sequences processed together.
    #[arg(long, value_name = "B", allow_negative_numbers = true, value_parser = positive)]
    pub batch: Option<usize>,
    /// Tokens per forward call: the prefill, then calls through the KV cache (e.g. 5,1,1).
    #[arg(
        long,
        value_name = "N,N,…",
        value_delimiter = ',',
        conflicts_with = "seq_len",
        action = ArgAction::Set,
        allow_negative_numbers = true,
        value_parser = positive
    )]
    pub steps: Option<Vec<usize>>,
    /// Tokens in a single prefill call (same as --steps N).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive)]
    pub seq_len: Option<usize>,
    /// Append K one-token decode calls after the steps.
    #[arg(long, value_name = "K", allow_negative_numbers = true, value_parser = index)]
    pub decode: Option<usize>,
    /// Padding mask: one 0/1 string per batch row covering every token of every step
    /// (e.g. 0111111,1111111); 0 marks padding.
    #[arg(long, value_name = "ROWS", value_delimiter = ',', action = ArgAction::Set)]
    pub attention_mask: Option<Vec<String>>,
    /// RMSNorm the queries and keys over head_dim before RoPE (MiniMind-3).
    #[arg(long, conflicts_with = "no_qk_norm")]
    pub qk_norm: bool,
    /// Turn QK-norm off (overrides a preset or lesson that turns it on).
    #[arg(long)]
    pub no_qk_norm: bool,
    /// RMSNorm epsilon (QK-norm).
    #[arg(long, value_name = "EPS", allow_negative_numbers = true)]
    pub rms_norm_eps: Option<f64>,
    /// RoPE base [default: 1e6].
    #[arg(long, value_name = "THETA", allow_negative_numbers = true)]
    pub rope_theta: Option<f64>,
    /// Let every token see every other (turns the causal mask off).
    #[arg(long)]
    pub no_causal: bool,
    /// Seed for the random weights and inputs [default: 7].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = seed)]
    pub seed: Option<u64>,
    /// Token labels for the positions, one word each (e.g. "The cat sat on the mat").
    #[arg(long, value_name = "TEXT")]
    pub tokens: Option<String>,
}

impl ConfigArgs {
    /// The checkpoint asked for, if any.
    pub fn model(&self) -> Option<ModelRequest> {
        let weights = self.weights.clone();
        match (weights, &self.text, self.layer) {
            (None, None, None) => None,
            (weights, text, layer) => Some(ModelRequest {
                weights,
                text: text.clone(),
                layer,
            }),
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigKey;
    use clap::CommandFactory;

    #[test]
    fn every_config_key_has_a_flag_that_exists() {
        let cmd = Cli::command();
        let run = cmd.find_subcommand("run").unwrap();
        for key in ConfigKey::ALL {
            let long = flag(key).trim_start_matches("--");
            assert!(
                run.get_arguments().any(|a| a.get_long() == Some(long)),
                "{key}: {long} is not a flag of run"
            );
        }
    }
}
