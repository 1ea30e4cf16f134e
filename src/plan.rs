//! The resolved plan: everything a command needs to know, decided once, ripgrep-style.
//!
//! [`build`] takes what was asked for ([`Request`]: plain values the command layer fills in
//! from the flags), an optional lesson (a configuration layer under the flags, and the first
//! head and batch row it shows) and the [`Environment`] (are stdin and stdout terminals, the
//! width, the colour variables), and returns a [`Plan`]: the configuration, the view, the
//! selection, the mode, the memory limit. Every incompatible choice is refused here, with one
//! message whichever command asked. Nothing here touches a terminal or knows clap, so the
//! rules are unit-tested with plain values.

use crate::bugs;
use crate::config::{Config, ConfigError, ConfigKey, ConfigSpec};
use crate::error::UsageError;
use crate::lesson::Lesson;
use crate::render::color::{self, ColorChoice};
use crate::render::palette::ThemeChoice;
use crate::render::{Selection, View};
use crate::terminal::Terminal;
use crate::text::{clamp_width, printable_words};
use crate::trace::StageId;

/// How a walk through the trace is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The one-key stepper, full screen: stdin and stdout are both terminals.
    Step { quiz: bool },
    /// One typed command per line on standard input: stdin is not a terminal (a script, a
    /// pipe), or the quiz was asked for with stdout not a terminal.
    Lines { quiz: bool },
    /// Every selected stage printed at once: `--all`, `--stage`/`--step`, or nobody at a
    /// terminal to step.
    Print,
}

/// The facts about the process the plan depends on. A plain struct, so tests need no terminal;
/// [`Environment::probe`] reads the real ones.
// The other engineer's `crate::terminal` probe will replace `probe` when it lands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    pub stdin_terminal: bool,
    pub stdout_terminal: bool,
    /// Standard input is a directory (`attnstep run </tmp`): nothing can be read from it.
    pub stdin_directory: bool,
    /// The terminal's width in columns, when stdout is one and it says.
    pub terminal_width: Option<usize>,
    pub columns: Option<String>,
    pub term: Option<String>,
    pub no_color: Option<String>,
    pub clicolor_force: Option<String>,
    pub force_color: Option<String>,
    /// `COLORFGBG`, which many terminals set to say whether the background is light.
    pub colorfgbg: Option<String>,
}

impl Environment {
    /// Reads this process's standard streams and environment.
    pub fn probe() -> Environment {
        use std::io::IsTerminal;
        let var = |k: &str| std::env::var(k).ok();
        let stdout_terminal = std::io::stdout().is_terminal();
        Environment {
            stdin_terminal: std::io::stdin().is_terminal(),
            stdout_terminal,
            stdin_directory: stdin_is_directory(),
            terminal_width: stdout_terminal
                .then(|| crossterm::terminal::size().ok())
                .flatten()
                .map(|(cols, _)| usize::from(cols)),
            columns: var("COLUMNS"),
            term: var("TERM"),
            no_color: var("NO_COLOR"),
            clicolor_force: var("CLICOLOR_FORCE"),
            force_color: var("FORCE_COLOR"),
            colorfgbg: var("COLORFGBG"),
        }
    }

    /// The terminal facts in the form the stepper and the layout rules read them.
    pub fn terminal(&self) -> Terminal {
        Terminal {
            stdin_tty: self.stdin_terminal,
            stdout_tty: self.stdout_terminal,
            size: self
                .terminal_width
                .map(|w| (u16::try_from(w).unwrap_or(u16::MAX), 0)),
            columns_env: self.columns.clone(),
            term: self.term.clone(),
        }
    }

    fn var(&self, key: &str) -> Option<String> {
        match key {
            "COLUMNS" => self.columns.clone(),
            "TERM" => self.term.clone(),
            "NO_COLOR" => self.no_color.clone(),
            "CLICOLOR_FORCE" => self.clicolor_force.clone(),
            "FORCE_COLOR" => self.force_color.clone(),
            _ => None,
        }
    }
}

#[cfg(unix)]
fn stdin_is_directory() -> bool {
    use std::os::fd::AsFd;
    std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata().ok())
        .is_some_and(|m| m.is_dir())
}

#[cfg(not(unix))]
fn stdin_is_directory() -> bool {
    false
}

/// What was asked for, as far as the plan is concerned.
#[derive(Clone, Debug)]
pub struct Request {
    /// The configuration keys the flags set: a layer over the lesson's.
    pub flags: ConfigSpec,
    /// How messages name a key the flags set (`--seq-len`).
    pub flag_name: fn(ConfigKey) -> &'static str,
    pub view: ViewChoices,
    /// `--stage` as typed (an id or a 1-based number), and `--step` (1-based).
    pub stage: Option<String>,
    pub step: Option<usize>,
    /// `None` for commands that compute no numbers.
    pub max_memory: Option<u64>,
    pub all: bool,
    pub quiz: bool,
    /// `--weights`, `--text`, `--layer`: a real checkpoint instead of random weights.
    pub model: Option<ModelRequest>,
    /// `--bug` as typed: a slip to plant (over the lesson's `bug`).
    pub bug: Option<String>,
    /// `--diff`: print each stage beside MiniMind's faithful run.
    pub diff: bool,
    /// `--variant`: the lesson variant to start with (the first when `None`).
    pub variant: Option<String>,
}

impl Default for Request {
    /// Nothing chosen: a lesson taken from the welcome.
    fn default() -> Request {
        Request {
            flags: ConfigSpec::default(),
            flag_name: ConfigKey::as_str,
            view: ViewChoices::default(),
            stage: None,
            step: None,
            max_memory: None,
            all: false,
            quiz: false,
            model: None,
            bug: None,
            diff: false,
            variant: None,
        }
    }
}

/// The view as chosen; what is `None` takes the lesson's or the default.
#[derive(Clone, Debug, Default)]
pub struct ViewChoices {
    pub head: Option<usize>,
    pub batch_index: Option<usize>,
    pub max_rows: Option<usize>,
    pub max_cols: Option<usize>,
    pub precision: Option<usize>,
    pub color: ColorChoice,
    pub theme: ThemeChoice,
}

/// One named configuration of a lesson with variants, flags laid over it.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub name: String,
    pub config: Config,
}

/// Everything decided: what to compute and how to show it.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The configuration to start with (the chosen variant's, for a lesson with variants).
    pub config: Config,
    /// Every variant of the lesson, resolved (empty without variants), and the chosen one.
    pub variants: Vec<Variant>,
    pub variant: usize,
    pub view: View,
    pub selection: Selection,
    pub mode: Mode,
    /// Ceiling for a numeric trace, in bytes (commands that compute no numbers have none).
    pub max_memory: Option<u64>,
    /// The checkpoint to run, when one was asked for.
    pub model: Option<ModelPlan>,
    /// Print each stage beside MiniMind's faithful run (a slip is planted).
    pub diff: bool,
}

/// The one refusal for a quiz that cannot be taken.
pub const QUIZ_WITH_PRINT: &str = "--quiz asks for each shape while stepping through every \
     stage; drop --all, --stage and --step to take it";

/// The refusal for a quiz with the comparison printed.
pub const QUIZ_WITH_DIFF: &str = "--diff prints every stage beside MiniMind's run, and --quiz \
     steps through the stages asking for shapes: choose one (while stepping, d shows the \
     comparison of a stage)";

/// The one refusal for a comparison with nothing to compare.
pub const DIFF_WITHOUT_BUG: &str = "--diff shows each stage beside MiniMind's faithful run, so it \
     needs a planted slip: add --bug NAME (`attnstep bugs` lists them); to compare two \
     configurations use `attnstep diff`";

/// Builds the plan; every mistake is a [`UsageError`] worded for where the value came from.
pub fn build(
    req: &Request,
    lesson: Option<&Lesson>,
    env: &Environment,
) -> Result<Plan, UsageError> {
    let own_model = lesson.and_then(|l| l.model.as_ref());
    let (model, variants, variant, config) = match (&req.model, own_model) {
        (Some(_), None) if req.bug.is_some() && lesson.is_none() => {
            return Err(UsageError(
                "--bug plants a slip in attnstep's own runs; it cannot be combined with \
                 --weights (drop one of them)"
                    .into(),
            ));
        }
        (Some(m), None) if lesson.is_none() => {
            let (plan, config) = model::resolve(m, &req.flags, req.flag_name, "--weights")?;
            (Some(plan), Vec::new(), 0, config)
        }
        (Some(_), None) => {
            return Err(UsageError(
                "--weights, --text and --layer cannot be used with this lesson: a lesson sets its \
                 own configuration, and this one runs random weights. The lessons with a [model] \
                 take --text and --layer; `attnstep run --weights` runs any checkpoint"
                    .into(),
            ));
        }
        (asked, Some(own)) => {
            let (plan, config) = lesson_model(req, asked.as_ref(), own)?;
            (Some(plan), Vec::new(), 0, config)
        }
        (None, None) => {
            let (variants, variant) = variants(req, lesson)?;
            let config = match variants.get(variant) {
                Some(v) => v.config.clone(),
                None => configuration(req, lesson, None)?,
            };
            (None, variants, variant, config)
        }
    };
    let selection = selection(req, &config, model.is_some())?;
    let printing = req.all || req.diff || selection.step.is_some() || selection.stage.is_some();
    if req.quiz && req.diff {
        return Err(UsageError(QUIZ_WITH_DIFF.to_owned()));
    }
    if req.quiz && printing {
        return Err(UsageError(QUIZ_WITH_PRINT.to_owned()));
    }
    if req.diff && config.bug.is_none() {
        return Err(UsageError(DIFF_WITHOUT_BUG.to_owned()));
    }
    let mode = mode(printing, req.quiz, env);
    if matches!(mode, Mode::Lines { .. }) && env.stdin_directory {
        return Err(UsageError(
            "standard input is a directory: attnstep reads stepping commands from it when it is \
             not a terminal; redirect a file or a pipe into it, or use --all to print every \
             stage"
                .to_owned(),
        ));
    }
    let view = view(&req.view, lesson, &config, env)?;
    Ok(Plan {
        config,
        variants,
        variant,
        view,
        selection,
        mode,
        max_memory: req.max_memory,
        model,
        diff: req.diff,
    })
}

/// The checkpoint run of a lesson with a `[model]`: its weights, with `--text` and `--layer`
/// over its text and layer as flags go over any lesson key; `--steps`/`--decode` split the text
/// into calls. `--weights` is refused: the lesson's prose is about its own model.
fn lesson_model(
    req: &Request,
    asked: Option<&ModelRequest>,
    own: &crate::lesson::LessonModel,
) -> Result<(ModelPlan, Config), UsageError> {
    if asked.is_some_and(|m| m.weights.is_some()) {
        return Err(UsageError(format!(
            "--weights cannot be used with this lesson: a lesson sets its own configuration, and \
             this one runs {}; drop --weights (--text and --layer change what it runs), or run \
             another checkpoint with `attnstep run --weights DIR --text \"…\"`",
            crate::lesson::source::quoted(&own.weights)
        )));
    }
    if let Some(bug) = &req.bug {
        return Err(UsageError(format!(
            "--bug {}: this lesson runs a trained checkpoint, and slips are planted in \
             attnstep's runs of random weights; drop --bug, or take a bug-hunt lesson",
            crate::text::printable_line(bug)
        )));
    }
    if req.variant.is_some() {
        return Err(UsageError(
            "--variant: this lesson has no variants; leave --variant out".into(),
        ));
    }
    let m = ModelRequest {
        weights: Some(own.weights.clone()),
        text: asked
            .and_then(|m| m.text.clone())
            .or_else(|| Some(own.text.clone())),
        layer: asked.and_then(|m| m.layer).or(Some(own.layer)),
    };
    model::resolve(&m, &req.flags, req.flag_name, "this lesson's [model]")
}

/// Flags over the lesson (if any, with variant `variant` laid over it) over presets and
/// defaults, validated, with the slip to plant (`--bug` over the lesson's); errors name flags
/// for what the flags set and the lesson's keys, at their lines, for what the lesson set.
fn configuration(
    req: &Request,
    lesson: Option<&Lesson>,
    variant: Option<usize>,
) -> Result<Config, UsageError> {
    let bug = match &req.bug {
        Some(name) => Some(bugs::lookup(name).map_err(|e| UsageError(format!("--bug: {e}")))?),
        None => lesson.and_then(|l| l.bug),
    };
    let mut config = unplanted(req, lesson, variant)?;
    config.bug = bug;
    if let (Some(bug), Some(why)) = (bug, bugs::shape_error(&config)) {
        let origin = match &req.bug {
            Some(_) => format!("--bug {bug}"),
            None => format!("the lesson's bug = \"{bug}\""),
        };
        return Err(UsageError(format!("{origin}: {why}")));
    }
    Ok(config)
}

/// Every variant of the lesson with the flags over it, and the index of the one `--variant`
/// chose (the first by default).
fn variants(req: &Request, lesson: Option<&Lesson>) -> Result<(Vec<Variant>, usize), UsageError> {
    let names = lesson.map(Lesson::variant_names).unwrap_or_default();
    let chosen = match &req.variant {
        None => 0,
        Some(_) if names.is_empty() => {
            return Err(UsageError(match lesson {
                Some(_) => "--variant: this lesson has no variants; leave --variant out".into(),
                None => {
                    "--variant chooses a variant of a lesson: use it with `attnstep lesson`".into()
                }
            }));
        }
        Some(v) => names.iter().position(|n| n == v).ok_or_else(|| {
            let near = crate::lesson::source::nearest(v, &names)
                .map(|n| format!(" Did you mean \"{n}\"?"))
                .unwrap_or_default();
            UsageError(format!(
                "--variant {}: this lesson has no such variant.{near} Its variants are: {}",
                crate::lesson::source::quoted(v),
                names.join(", ")
            ))
        })?,
    };
    let Some(lesson) = lesson else {
        return Ok((Vec::new(), 0));
    };
    // A flag that sets what the variants differ in would make every variant the same run.
    let erased: Vec<&str> = ConfigKey::ALL
        .into_iter()
        .filter(|&k| req.flags.sets(k) && lesson.variants.iter().any(|v| v.spec.sets(k)))
        .map(req.flag_name)
        .collect();
    if !erased.is_empty() {
        return Err(UsageError(format!(
            "{}: this lesson's variants ({}) differ in what {} sets, so with it every variant \
             would run the same; leave it out and switch variants with v or --variant NAME, or \
             run one configuration of your own with `attnstep run`",
            erased.join(", "),
            names.join(", "),
            if erased.len() == 1 {
                "this flag"
            } else {
                "these flags"
            }
        )));
    }
    let all = (0..names.len())
        .map(|i| {
            Ok(Variant {
                name: names[i].to_owned(),
                config: configuration(req, Some(lesson), Some(i))?,
            })
        })
        .collect::<Result<_, UsageError>>()?;
    Ok((all, chosen))
}

/// The configuration without its slip.
fn unplanted(
    req: &Request,
    lesson: Option<&Lesson>,
    variant: Option<usize>,
) -> Result<Config, UsageError> {
    let mut flags = req.flags.clone();
    flags.tokens = flags.tokens.as_deref().map(printable_words);
    let Some(lesson) = lesson else {
        return flags
            .resolve()
            .map_err(|e| UsageError(e.describe(&|k| (req.flag_name)(k).to_owned())));
    };
    let own = lesson.spec_of(variant);
    let own_batch = own.resolve().map(|c| c.batch).ok();
    let mut spec = own.overridden_by(&flags);
    let length_changed = matches!(spec.resolve(), Err(ConfigError::TokenCount { .. }));
    // A new batch row is another random sequence: the lesson's one sentence does not name it.
    let batch_changed = flags.batch.is_some_and(|b| Some(b) != own_batch);
    if flags.tokens.is_none() && (length_changed || batch_changed) {
        // The flags changed the length or the batch: the lesson's words no longer fit, so
        // number the positions instead of refusing to run.
        spec.tokens = None;
    }
    spec.resolve().map_err(|e| {
        UsageError(lesson.describe_variant_config_error(variant, &e, &flags, &req.flag_name))
    })
}

/// How to walk, from what was asked and what the streams are.
fn mode(printing: bool, quiz: bool, env: &Environment) -> Mode {
    // TERM unset, empty or dumb: nothing can be drawn in place, so walk in lines.
    let dumb = env.terminal().is_dumb();
    if printing {
        Mode::Print
    } else if env.stdin_terminal && env.stdout_terminal && !dumb {
        Mode::Step { quiz }
    } else if !env.stdin_terminal || quiz || dumb {
        Mode::Lines { quiz }
    } else {
        // A person at the keyboard, output going to a file or pager: nobody sees a stepper.
        Mode::Print
    }
}

/// The view: head and batch row (flags, else the lesson's while they exist), limits (flags,
/// else the lesson's `[view]`, else the defaults), colour and width.
fn view(
    choices: &ViewChoices,
    lesson: Option<&Lesson>,
    cfg: &Config,
    env: &Environment,
) -> Result<View, UsageError> {
    let defaults = View::default();
    let own = lesson.map(|l| l.view.clone()).unwrap_or_default();
    let head = choices
        .head
        .or_else(|| own.head.filter(|&h| h < cfg.num_attention_heads));
    let batch = choices
        .batch_index
        .or_else(|| own.batch.filter(|&b| b < cfg.batch));
    let (head, batch) = (head.unwrap_or(0), batch.unwrap_or(0));
    if head >= cfg.num_attention_heads {
        return Err(UsageError(format!(
            "--head {head} is out of range: there are {} query heads (0 to {})",
            cfg.num_attention_heads,
            cfg.num_attention_heads - 1
        )));
    }
    if batch >= cfg.batch {
        return Err(UsageError(format!(
            "--batch-index {batch} is out of range: batch is {} (rows 0 to {})",
            cfg.batch,
            cfg.batch - 1
        )));
    }
    let width = env.terminal().layout_width();
    Ok(View {
        head,
        batch,
        max_rows: choices
            .max_rows
            .or(own.max_rows)
            .unwrap_or(defaults.max_rows)
            .max(2),
        max_cols: choices
            .max_cols
            .or(own.max_cols)
            .unwrap_or(defaults.max_cols)
            .max(2),
        precision: choices
            .precision
            .or(own.precision)
            .unwrap_or(defaults.precision)
            .min(9),
        color: color::decide(choices.color, env.stdout_terminal, &|k| env.var(k)),
        width: clamp_width(width),
        theme: choices.theme.resolve(env.colorfgbg.as_deref()),
        prose: defaults.prose,
        row_tokens: None,
    })
}

/// Checks `--stage` and `--step` (1-based) against the configuration.
fn selection(req: &Request, cfg: &Config, checkpoint: bool) -> Result<Selection, UsageError> {
    let stage = req
        .stage
        .as_deref()
        .map(|s| parse_stage(s, cfg, checkpoint))
        .transpose()?;
    let step = match req.step {
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
fn parse_stage(text: &str, cfg: &Config, checkpoint: bool) -> Result<StageId, UsageError> {
    let present = StageId::present(cfg, checkpoint);
    if let Ok(n) = text.trim().parse::<usize>() {
        return present.get(n.wrapping_sub(1)).copied().ok_or_else(|| {
            UsageError(format!(
                "--stage {n} is out of range: this configuration has stages 1 to {}",
                present.len()
            ))
        });
    }
    let list = present
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match StageId::parse(text) {
        Some(id) if present.contains(&id) => Ok(id),
        Some(id) => Err(UsageError(format!(
            "stage '{id}' does not happen in this configuration ({}); its stages are: {list}",
            match id {
                StageId::QkNorm => "add --qk-norm",
                _ => "add --attention-mask",
            },
        ))),
        None => Err(UsageError(format!(
            "unknown stage '{}'; the stages are: {list}",
            crate::text::printable_line(text)
        ))),
    }
}

mod model;
#[cfg(test)]
mod tests;

pub use model::{ModelPlan, ModelRequest};
