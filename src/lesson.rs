//! Lessons: the TOML lesson format, the bundled course (compiled in with `include_str!`), and
//! the `lesson`, `lessons`, `lessons check` commands and the no-argument welcome.
//!
//! A lesson file sets a configuration (`[config]`, the same keys as the command-line flags) and
//! tells the story around it (welcome, notes on stages, quiz hints, closing). Loading checks
//! everything before anything runs; every mistake is reported as `PATH:LINE:COL: message`
//! with exit status 2. The only calls into the stepper are in [`walk`].

use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::app::{self, UsageError};
use crate::cli::{LessonArgs, LessonsArgs, LessonsCommand};
use crate::config::{Config, ConfigError, ConfigSpec};
use crate::numeric::Tensor;
use crate::presentation::{Hint, Note, Presentation};
use crate::progress::{self, Entry, QuizRecord, Store};
use crate::render::View;
use crate::trace::{StageId, Trace};

/// The lesson format this build reads.
pub const FORMAT_VERSION: i64 = 1;

/// A lesson compiled into the binary.
#[derive(Clone, Copy, Debug)]
pub struct Bundled {
    /// Short name used on the command line (`attnstep lesson gqa`).
    pub name: &'static str,
    /// File name under `lessons/`, shown in error locations.
    pub file: &'static str,
    pub source: &'static str,
}

macro_rules! bundled {
    ($($name:literal => $file:literal),* $(,)?) => {
        &[$(Bundled { name: $name, file: $file, source: include_str!(concat!("../lessons/", $file)) }),*]
    };
}

/// The bundled course, in the order it is meant to be taken.
pub const BUNDLED: &[Bundled] = bundled![
    "tour" => "01-tour.toml",
    "heads" => "02-heads.toml",
    "scores" => "03-scores.toml",
    "causal" => "04-causal.toml",
    "padding" => "05-padding.toml",
    "kv-cache" => "06-kv-cache.toml",
    "chunked-prefill" => "07-chunked-prefill.toml",
    "gqa" => "08-gqa.toml",
    "mqa" => "09-mqa.toml",
    "rope" => "10-rope.toml",
    "minimind2" => "11-minimind2.toml",
    "minimind3" => "12-minimind3.toml",
];

const TOP_KEYS: &[&str] = &[
    "format_version",
    "title",
    "summary",
    "covers",
    "welcome",
    "closing",
    "head",
    "batch_index",
    "stages",
    "config",
    "notes",
    "hints",
];
const REQUIRED_KEYS: &[&str] = &["format_version", "title", "summary"];
/// Every key `ConfigSpec` accepts, aliases included (a unit test keeps this in step).
const CONFIG_KEYS: &[&str] = &[
    "preset",
    "hidden_size",
    "num_attention_heads",
    "num_heads",
    "num_key_value_heads",
    "num_kv_heads",
    "head_dim",
    "batch",
    "steps",
    "seq_len",
    "decode",
    "attention_mask",
    "qk_norm",
    "rms_norm_eps",
    "rope_theta",
    "causal",
    "seed",
    "tokens",
];
const NOTE_KEYS: &[&str] = &["stage", "step", "text"];
const HINT_KEYS: &[&str] = &["stage", "text"];

/// The file as serde reads it, after the key check has passed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LessonFile {
    /// Checked before serde runs; kept here so a wrong type is reported like any other.
    #[serde(rename = "format_version")]
    _format_version: i64,
    title: String,
    summary: String,
    covers: Option<String>,
    welcome: Option<String>,
    closing: Option<String>,
    head: Option<usize>,
    batch_index: Option<usize>,
    stages: Option<Vec<String>>,
    #[serde(default)]
    config: ConfigSpec,
    #[serde(default)]
    notes: Vec<NoteFile>,
    #[serde(default)]
    hints: Vec<HintFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteFile {
    stage: String,
    /// 1-based, like `--step`; absent means every step.
    step: Option<usize>,
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HintFile {
    stage: String,
    text: String,
}

/// A checked lesson, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    /// Bundled name, or the file's path for a lesson read from disk.
    pub name: String,
    /// 1-based position in the bundled course.
    pub number: Option<usize>,
    /// Where the lesson came from, as errors show it (`lessons/08-gqa.toml`).
    pub origin: String,
    pub title: String,
    pub summary: String,
    pub covers: Option<String>,
    /// The lesson's own configuration layer (flags go over it).
    pub spec: ConfigSpec,
    /// Welcome, notes, hints, stages and closing; `head`/`batch_index` as the lesson sets them.
    pub presentation: Presentation,
    pub head: Option<usize>,
    pub batch_index: Option<usize>,
    /// Key used in the progress store.
    pub progress_key: String,
}

/// Finds a bundled lesson by name (`gqa`, `kv_cache`, `08-gqa`) or number (`8`).
pub fn find_bundled(name: &str) -> Option<(usize, &'static Bundled)> {
    let key = normalise(name);
    if let Ok(n) = key.parse::<usize>() {
        return (1..=BUNDLED.len())
            .contains(&n)
            .then(|| (n, &BUNDLED[n - 1]));
    }
    BUNDLED.iter().enumerate().find_map(|(i, b)| {
        let stem = b.file.trim_end_matches(".toml");
        (normalise(b.name) == key || normalise(stem) == key).then_some((i + 1, b))
    })
}

fn normalise(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace('_', "-")
}

/// Loads a lesson named on the command line: a bundled name or number, or a path to a file.
pub fn load(arg: &str) -> Result<Lesson, UsageError> {
    let looks_like_path =
        arg.ends_with(".toml") || arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR);
    if !looks_like_path {
        if let Some((number, b)) = find_bundled(arg) {
            return load_bundled(number, b);
        }
        if !Path::new(arg).exists() {
            return Err(unknown_lesson(arg, true));
        }
    }
    load_file(Path::new(arg))
}

/// Parses and checks bundled lesson `number` (1-based).
pub fn load_bundled(number: usize, b: &Bundled) -> Result<Lesson, UsageError> {
    let mut lesson = parse(&format!("lessons/{}", b.file), b.source)?;
    lesson.name = b.name.to_owned();
    lesson.number = Some(number);
    lesson.progress_key = b.name.to_owned();
    Ok(lesson)
}

/// Reads, parses and checks a lesson file.
pub fn load_file(path: &Path) -> Result<Lesson, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read lesson file {}: {e}", path.display())))?;
    let mut lesson = parse(&path.display().to_string(), &text)?;
    lesson.progress_key = std::fs::canonicalize(path)
        .unwrap_or_else(|_| PathBuf::from(path))
        .display()
        .to_string();
    Ok(lesson)
}

/// The error for a name that is no bundled lesson (`also_file`: nor a file on disk).
fn unknown_lesson(arg: &str, also_file: bool) -> UsageError {
    let names: Vec<&str> = BUNDLED.iter().map(|b| b.name).collect();
    let near = nearest(arg, &names)
        .map(|n| format!(" Did you mean \"{n}\"?"))
        .unwrap_or_default();
    let list = BUNDLED
        .iter()
        .enumerate()
        .map(|(i, b)| format!("{} {}", i + 1, b.name))
        .collect::<Vec<_>>()
        .join(", ");
    UsageError(format!(
        "no bundled lesson is called \"{arg}\"{}.{near} The bundled lessons are: {list}. \
         Give a name or a number{}.",
        if also_file {
            " and there is no such file"
        } else {
            ""
        },
        if also_file {
            ", or a path to a .toml file"
        } else {
            ""
        },
    ))
}

/// Turns byte offsets into `PATH:LINE:COL` (1-based line and column, column in characters).
struct Located<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Located<'_> {
    fn at(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{col}", self.origin)
    }

    fn err(&self, span: Option<Range<usize>>, msg: impl std::fmt::Display) -> UsageError {
        UsageError(format!("{}: {msg}", self.at(span.map_or(0, |s| s.start))))
    }
}

type Table<'i> = DeTable<'i>;

fn entries<'a, 'i>(
    table: &'a Table<'i>,
) -> Vec<(
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
)> {
    let mut v: Vec<_> = table.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

fn get<'a, 'i>(
    table: &'a Table<'i>,
    keys: &[&str],
) -> Option<(
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
)> {
    table
        .iter()
        .find(|(k, _)| keys.contains(&k.get_ref().as_ref()))
}

/// The nearest known key by edit distance, if it is near enough to be a likely typo.
fn nearest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(word, k), *k))
        .filter(|(d, k)| *d <= (k.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Checks every key of a table against the keys it may hold.
fn check_keys(
    loc: &Located,
    table: &Table,
    known: &[&str],
    table_name: &str,
) -> Result<(), UsageError> {
    for (k, _) in entries(table) {
        let key = k.get_ref().as_ref();
        if known.contains(&key) {
            continue;
        }
        let hint = if let Some(n) = nearest(key, known) {
            format!(", did you mean \"{n}\"?")
        } else if table_name.is_empty() && CONFIG_KEYS.contains(&key) {
            " at the top level: configuration keys go in the [config] table".to_owned()
        } else if table_name == "config" && TOP_KEYS.contains(&key) {
            " in [config]: it belongs at the top of the file, before [config]".to_owned()
        } else {
            format!(
                "{}; the keys here are: {}",
                if table_name.is_empty() {
                    String::new()
                } else {
                    format!(" in [{table_name}]")
                },
                known.join(", ")
            )
        };
        return Err(loc.err(Some(k.span()), format!("unknown key \"{key}\"{hint}")));
    }
    Ok(())
}

/// The name of the key whose value holds byte `offset`, searching nested tables first (a
/// table's own span need not cover its body, so every table is searched).
fn key_at(table: &Table, offset: usize) -> Option<String> {
    let contains = |s: Range<usize>| s.start <= offset && offset < s.end.max(s.start + 1);
    for (k, v) in table.iter() {
        let nested = match v.get_ref() {
            DeValue::Table(t) => key_at(t, offset),
            DeValue::Array(a) => a.iter().find_map(|item| match item.get_ref() {
                DeValue::Table(t) => key_at(t, offset),
                _ => None,
            }),
            _ => None,
        };
        if nested.is_some() {
            return nested;
        }
        if contains(v.span()) || contains(k.span()) {
            return Some(k.get_ref().to_string());
        }
    }
    None
}

/// Serde's words for types, in the words a lesson author uses.
fn plain_types(msg: &str) -> String {
    msg.replace("expected usize", "expected a whole number")
        .replace("expected u64", "expected a whole number")
        .replace("expected i64", "expected a whole number")
        .replace("expected f64", "expected a number")
        .replace("expected a sequence", "expected an array [ … ]")
        .replace("expected a boolean", "expected true or false")
}

/// Parses and checks a lesson. `origin` is how error messages name the file.
pub fn parse(origin: &str, text: &str) -> Result<Lesson, UsageError> {
    let loc = Located { origin, text };
    let root = DeTable::parse(text).map_err(|e| {
        loc.err(
            e.span(),
            format!("this is not valid TOML: {}", e.message().trim()),
        )
    })?;
    let root = root.get_ref();

    // The version first: a lesson written for a newer format may use keys this build lacks.
    if let Some((_, v)) = get(root, &["format_version"])
        && let Some(i) = v.get_ref().as_integer()
        && i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) != Ok(FORMAT_VERSION)
    {
        return Err(loc.err(
            Some(v.span()),
            format!(
                "format_version {} is not one this attnstep reads; use format_version = \
                 {FORMAT_VERSION} (or a newer attnstep)",
                i.as_str()
            ),
        ));
    }

    // Keys next, so a typo gets "did you mean" rather than a serde message.
    check_keys(&loc, root, TOP_KEYS, "")?;
    for (key, known) in [
        ("config", CONFIG_KEYS),
        ("notes", NOTE_KEYS),
        ("hints", HINT_KEYS),
    ] {
        match get(root, &[key]).map(|(_, v)| v) {
            None => {}
            Some(v) => match v.get_ref() {
                DeValue::Table(t) if key == "config" => check_keys(&loc, t, known, key)?,
                DeValue::Array(items) if key != "config" => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::Table(t) => check_keys(&loc, t, known, key)?,
                            _ => {
                                return Err(loc.err(
                                    Some(item.span()),
                                    format!(
                                        "each entry of \"{key}\" must be a table; write [[{key}]] \
                                         followed by stage = \"…\" and text = \"…\""
                                    ),
                                ));
                            }
                        }
                    }
                }
                _ => {
                    let how = if key == "config" {
                        "a table: write [config] on its own line, then one key per line"
                    } else {
                        "an array of tables: write [[notes]] (or [[hints]]) before each entry"
                    };
                    return Err(loc.err(Some(v.span()), format!("key \"{key}\" must be {how}")));
                }
            },
        }
    }
    for key in REQUIRED_KEYS {
        if get(root, &[key]).is_none() {
            return Err(loc.err(
                None,
                format!(
                    "missing key \"{key}\": every lesson starts with format_version = {FORMAT_VERSION}, \
                     title = \"…\" and summary = \"…\""
                ),
            ));
        }
    }

    let file: LessonFile = toml::from_str(text).map_err(|e| {
        let span = e.span();
        let key = span.as_ref().and_then(|s| key_at(root, s.start));
        let msg = e.message().trim();
        if let Some(field) = msg
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'))
        {
            let table = match key.as_deref() {
                Some(k @ ("notes" | "hints")) => format!("a [[{k}]] entry"),
                Some(k) => format!("[{k}]"),
                None => "the lesson".to_owned(),
            };
            return loc.err(span, format!("{table} is missing key \"{field}\""));
        }
        let what = key.map(|k| format!("key \"{k}\": ")).unwrap_or_default();
        loc.err(span, format!("{what}{}", plain_types(msg)))
    })?;

    let value_span = |keys: &[&str]| get(root, keys).map(|(_, v)| v.span());
    let config_table = get(root, &["config"]).and_then(|(_, v)| match v.get_ref() {
        DeValue::Table(t) => Some(t),
        _ => None,
    });
    let config_span = |keys: &[&str], index: Option<usize>| -> Option<Range<usize>> {
        let t = config_table?;
        let (k, v) = get(t, keys)?;
        match (index, v.get_ref()) {
            (Some(i), DeValue::Array(a)) => a.get(i).map(|x| x.span()).or(Some(v.span())),
            _ => Some(k.span()),
        }
    };

    let cfg = file.config.resolve().map_err(|e| {
        let span = config_error_keys(&e)
            .iter()
            .find_map(|(keys, index)| config_span(keys, *index))
            .or_else(|| get(root, &["config"]).map(|(k, _)| k.span()));
        loc.err(span, e)
    })?;

    let stage_list = present_stages(&cfg);
    let parse_stage = |name: &str, span: Option<Range<usize>>| -> Result<StageId, UsageError> {
        let names: Vec<&str> = StageId::ALL.iter().map(|s| s.as_str()).collect();
        let id = StageId::parse(name).ok_or_else(|| {
            let near = nearest(name, &names)
                .map_or_else(|| ".".to_owned(), |n| format!(", did you mean \"{n}\"?"));
            loc.err(
                span.clone(),
                format!(
                    "unknown stage \"{name}\"{near} The stages are: {}",
                    names.join(", ")
                ),
            )
        })?;
        if !stage_list.contains(&id) {
            let need = match id {
                StageId::QkNorm => "qk_norm = true",
                _ => "an attention_mask",
            };
            return Err(loc.err(
                span,
                format!(
                    "stage \"{name}\" never happens in this lesson: it needs {need} in [config]"
                ),
            ));
        }
        Ok(id)
    };
    let array_item_span = |key: &str, i: usize, field: &str| -> Option<Range<usize>> {
        let (_, v) = get(root, &[key])?;
        let DeValue::Array(a) = v.get_ref() else {
            return None;
        };
        let item = a.get(i)?;
        match item.get_ref() {
            DeValue::Table(t) => get(t, &[field])
                .map(|(_, v)| v.span())
                .or(Some(item.span())),
            _ => Some(item.span()),
        }
    };

    let stages = match &file.stages {
        None => None,
        Some(names) => {
            let spans: Vec<Option<Range<usize>>> = match get(root, &["stages"]).map(|(_, v)| v) {
                Some(v) => match v.get_ref() {
                    DeValue::Array(a) => a.iter().map(|x| Some(x.span())).collect(),
                    _ => vec![],
                },
                None => vec![],
            };
            let mut ids = Vec::new();
            for (i, n) in names.iter().enumerate() {
                ids.push(parse_stage(n, spans.get(i).cloned().flatten())?);
            }
            if ids.is_empty() {
                return Err(loc.err(
                    value_span(&["stages"]),
                    "stages is empty: list the stages to show, or leave the key out to show them all",
                ));
            }
            Some(ids)
        }
    };

    let mut notes = Vec::new();
    for (i, n) in file.notes.iter().enumerate() {
        let stage = parse_stage(&n.stage, array_item_span("notes", i, "stage"))?;
        if let Some(step) = n.step
            && (step == 0 || step > cfg.steps.len())
        {
            return Err(loc.err(
                array_item_span("notes", i, "step"),
                format!(
                    "note step {step} is out of range: this lesson has {} step(s), numbered from 1 \
                     (1 is the prefill); leave step out to show the note on every step",
                    cfg.steps.len()
                ),
            ));
        }
        notes.push(Note {
            stage,
            step: n.step.map(|s| s - 1),
            text: n.text.trim().to_owned(),
        });
    }
    let mut hints = Vec::new();
    for (i, h) in file.hints.iter().enumerate() {
        let stage = parse_stage(&h.stage, array_item_span("hints", i, "stage"))?;
        hints.push(Hint {
            stage,
            text: h.text.trim().to_owned(),
        });
    }

    if let Some(h) = file.head
        && h >= cfg.num_attention_heads
    {
        return Err(loc.err(
            value_span(&["head"]),
            format!(
                "head {h} is out of range: this lesson has {} query heads (0 to {})",
                cfg.num_attention_heads,
                cfg.num_attention_heads - 1
            ),
        ));
    }
    if let Some(b) = file.batch_index
        && b >= cfg.batch
    {
        return Err(loc.err(
            value_span(&["batch_index"]),
            format!(
                "batch_index {b} is out of range: batch is {} (rows 0 to {})",
                cfg.batch,
                cfg.batch - 1
            ),
        ));
    }

    let trimmed = |s: &Option<String>| s.as_ref().map(|t| t.trim().to_owned());
    Ok(Lesson {
        name: origin.to_owned(),
        number: None,
        origin: origin.to_owned(),
        title: file.title.trim().to_owned(),
        summary: file.summary.trim().to_owned(),
        covers: trimmed(&file.covers),
        spec: file.config,
        presentation: Presentation {
            title: Some(file.title.trim().to_owned()),
            summary: Some(file.summary.trim().to_owned()),
            welcome: trimmed(&file.welcome),
            notes,
            hints,
            stages,
            closing: trimmed(&file.closing),
        },
        head: file.head,
        batch_index: file.batch_index,
        progress_key: origin.to_owned(),
    })
}

/// The stages a configuration goes through (QK-norm and padding only when configured).
fn present_stages(cfg: &Config) -> Vec<StageId> {
    StageId::ALL
        .into_iter()
        .filter(|id| match id {
            StageId::QkNorm => cfg.qk_norm,
            StageId::PaddingMask => cfg.attention_mask.is_some(),
            _ => true,
        })
        .collect()
}

/// The `[config]` keys to point at for a configuration error, most specific first (with an
/// array index for errors about one entry of `steps` or `attention_mask`).
fn config_error_keys(e: &ConfigError) -> Vec<(&'static [&'static str], Option<usize>)> {
    const HIDDEN: &[&str] = &["hidden_size"];
    const HEADS: &[&str] = &["num_attention_heads", "num_heads"];
    const KV: &[&str] = &["num_key_value_heads", "num_kv_heads"];
    const HEAD_DIM: &[&str] = &["head_dim"];
    const PRESET: &[&str] = &["preset"];
    const STEPS: &[&str] = &["steps", "seq_len"];
    const MASK: &[&str] = &["attention_mask"];
    match e {
        ConfigError::UnknownPreset { .. } => vec![(PRESET, None)],
        ConfigError::Zero { field, .. } => match *field {
            "hidden_size" => vec![(HIDDEN, None)],
            "num_attention_heads" => vec![(HEADS, None)],
            "num_key_value_heads" => vec![(KV, None)],
            "head_dim" => vec![(HEAD_DIM, None), (HIDDEN, None)],
            "batch" => vec![(&["batch"], None)],
            _ => vec![],
        },
        ConfigError::HeadDimUndefined { .. } => vec![(HIDDEN, None), (HEADS, None)],
        ConfigError::HeadsNotDivisible { .. } => vec![(KV, None), (HEADS, None), (PRESET, None)],
        ConfigError::OddHeadDim { .. } => vec![(HEAD_DIM, None), (HIDDEN, None), (HEADS, None)],
        ConfigError::NoSteps => vec![(STEPS, None)],
        ConfigError::ZeroStep { index } => vec![(STEPS, Some(index - 1))],
        ConfigError::MaskRows { .. } => vec![(MASK, None), (&["batch"], None)],
        ConfigError::MaskChar { row, .. } | ConfigError::MaskLen { row, .. } => {
            vec![(MASK, Some(*row))]
        }
        ConfigError::TokenCount { .. } => vec![(&["tokens"], None), (STEPS, None)],
        ConfigError::BadEps { .. } => vec![(&["rms_norm_eps"], None)],
        ConfigError::BadTheta { .. } => vec![(&["rope_theta"], None)],
        // Variants added later (limits on sizes, …) point at the [config] table as a whole.
        #[allow(unreachable_patterns)]
        _ => vec![],
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

/// `attnstep lesson NAME`: runs a lesson, flags over the lesson's configuration.
pub fn cmd_lesson(args: LessonArgs) -> Result<()> {
    let lesson = load(&args.name)?;
    // Flags go over the lesson; a configuration the flags make invalid gets the CLI's message.
    let flags = args.config.spec();
    let mut spec = lesson.spec.overridden_by(&flags);
    if flags.tokens.is_none() && matches!(spec.resolve(), Err(ConfigError::TokenCount { .. })) {
        // The flags changed the length: the lesson's words no longer fit, so number the
        // positions instead of refusing to run.
        spec.tokens = None;
    }
    let cfg = spec.resolve().map_err(|e| match e {
        ConfigError::MaskRows { .. } | ConfigError::MaskLen { .. }
            if flags.attention_mask.is_none() =>
        {
            UsageError(format!(
                "{}: the lesson's attention_mask does not fit the flags: {e}",
                lesson.origin
            ))
            .into()
        }
        e => anyhow::Error::from(e),
    })?;
    let trace = app::numeric_trace(&cfg, &args.guard)?;
    let mut view_args = args.view.clone();
    // The lesson's first head and batch row apply unless a flag chose, and while they exist.
    if view_args.head.is_none() {
        view_args.head = lesson.head.filter(|&h| h < cfg.num_attention_heads);
    }
    if view_args.batch_index.is_none() {
        view_args.batch_index = lesson.batch_index.filter(|&b| b < cfg.batch);
    }
    let view = app::view_from(&view_args, &cfg)?;
    let pres = lesson.presentation.clone();
    // Notes for steps the flags removed simply never show.

    let mut out = BufWriter::new(io::stdout().lock());
    if args.all {
        walk(&mut out, &trace, &pres, &view, &WalkMode::All)?;
        out.flush()?;
        return Ok(());
    }

    let dir = progress::state_dir();
    let mut store = match &dir {
        Some(d) => Store::load(d).unwrap_or_else(|e| {
            eprintln!("attnstep: warning: ignoring saved progress: {e}");
            Store::default()
        }),
        None => Store::default(),
    };
    if args.restart {
        store.clear(&lesson.progress_key);
    }
    // A saved position is offered only if it still exists (flags may have changed the run).
    let saved = store.resumable(&lesson.progress_key).filter(|e| {
        trace
            .steps
            .get(e.step)
            .is_some_and(|s| e.stage < s.stages.len())
    });
    let start = match saved {
        Some(e) if io::stdin().is_terminal() && io::stdout().is_terminal() => {
            let at = describe_position(&trace, e.step, e.stage);
            let name = lesson
                .number
                .map_or(lesson.name.clone(), |n| format!("{n} ({})", lesson.name));
            ask_yes(&mut out, &format!("Resume lesson {name} at {at}? [Y/n] "))?
                .then_some((e.step, e.stage))
        }
        _ => None,
    };
    let walked = walk(
        &mut out,
        &trace,
        &pres,
        &view,
        &WalkMode::Step {
            quiz: args.quiz,
            start,
        },
    )?;
    out.flush()?;
    if let Some(d) = &dir {
        store.set(&lesson.progress_key, walked.entry());
        if let Err(e) = store.save(d) {
            eprintln!(
                "attnstep: warning: could not save progress in {}: {e}",
                d.display()
            );
        }
    }
    Ok(())
}

fn describe_position(trace: &Trace<Tensor>, step: usize, stage: usize) -> String {
    match trace.steps.get(step).and_then(|s| s.stages.get(stage)) {
        Some(sg) => format!("step {}, stage {} ({})", step + 1, stage + 1, sg.id),
        None => format!("step {}, stage {}", step + 1, stage + 1),
    }
}

/// Asks a yes/no question on the terminal; Enter means yes.
fn ask_yes(out: &mut dyn Write, question: &str) -> io::Result<bool> {
    write!(out, "{question}")?;
    out.flush()?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(answer_is_yes(&line))
}

fn answer_is_yes(line: &str) -> bool {
    !matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "n" | "no" | "q" | "quit"
    )
}

/// How a lesson is walked.
enum WalkMode {
    /// `--all`: every shown stage printed at once, no prompts, no progress.
    All,
    /// The stepper, optionally quizzing and starting from a saved (step, stage).
    Step {
        quiz: bool,
        start: Option<(usize, usize)>,
    },
}

/// What a walk reports back, for the progress store.
#[derive(Clone, Debug, PartialEq)]
struct Walked {
    /// (step, stage index within the step) of the last stage shown.
    position: (usize, usize),
    finished: bool,
    /// (right, asked) when quizzing.
    quiz: Option<(usize, usize)>,
}

impl Walked {
    fn entry(&self) -> Entry {
        Entry {
            step: self.position.0,
            stage: self.position.1,
            finished: self.finished,
            quiz: self
                .quiz
                .map(|(correct, asked)| QuizRecord { correct, asked }),
        }
    }
}

/// The one place lessons call the stepper: every stage at once (`--all`), or the interactive
/// walk, which reports where the learner stopped and the quiz score.
fn walk(
    out: &mut dyn Write,
    trace: &Trace<Tensor>,
    pres: &Presentation,
    view: &View,
    mode: &WalkMode,
) -> Result<Walked> {
    match mode {
        WalkMode::All => {
            crate::stepper::print_all(out, trace, pres, view)?;
            let last = trace.steps.len() - 1;
            Ok(Walked {
                position: (last, trace.steps[last].stages.len() - 1),
                finished: true,
                quiz: None,
            })
        }
        WalkMode::Step { quiz, start } => {
            let options = crate::stepper::Options {
                quiz: *quiz,
                start: start.map(|(step, stage)| crate::stepper::Position { step, stage }),
            };
            let outcome = crate::stepper::present(out, trace, pres, view, &options)?;
            Ok(Walked {
                position: (outcome.position.step, outcome.position.stage),
                finished: outcome.finished,
                quiz: outcome.quiz.map(|q| (q.first_try, q.asked)),
            })
        }
    }
}

/// `attnstep lessons` and `attnstep lessons check`.
pub fn cmd_lessons(args: LessonsArgs) -> Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    match args.command {
        None => {
            list(&mut out, true)?;
            out.flush()?;
            Ok(())
        }
        Some(LessonsCommand::Check { files }) => {
            let result = check(&mut out, &files);
            out.flush()?;
            result
        }
        Some(LessonsCommand::Show { name }) => {
            let (_, b) = find_bundled(&name).ok_or_else(|| unknown_lesson(&name, false))?;
            out.write_all(b.source.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// Checks lesson files (or every bundled lesson when none is given) without running them.
fn check(out: &mut dyn Write, files: &[PathBuf]) -> Result<()> {
    let mut failed = Vec::new();
    if files.is_empty() {
        for (i, b) in BUNDLED.iter().enumerate() {
            match load_bundled(i + 1, b) {
                Ok(l) => writeln!(out, "ok  lessons/{}  {}", b.file, l.title)?,
                Err(e) => failed.push(e.0),
            }
        }
    } else {
        for f in files {
            match load_file(f) {
                Ok(l) => writeln!(out, "ok  {}  {}", f.display(), l.title)?,
                Err(e) => failed.push(e.0),
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(UsageError(failed.join("\n")).into())
    }
}

/// Prints the bundled course with each lesson's progress; `detailed` adds the summary and
/// topics under each title.
pub fn list(out: &mut dyn Write, detailed: bool) -> Result<()> {
    let store = progress::state_dir()
        .and_then(|d| Store::load(&d).ok())
        .unwrap_or_default();
    writeln!(
        out,
        "The course: twelve lessons, from the first query to MiniMind's real attention."
    )?;
    writeln!(
        out,
        "Run one with `attnstep lesson NAME` or `attnstep lesson NUMBER`.\n"
    )?;
    for (i, b) in BUNDLED.iter().enumerate() {
        let lesson = load_bundled(i + 1, b)?;
        let status = match store.get(b.name) {
            Some(e) if e.finished => match e.quiz {
                Some(q) => format!("  [done, quiz {}/{}]", q.correct, q.asked),
                None => "  [done]".to_owned(),
            },
            Some(e) => format!("  [stopped at step {}, stage {}]", e.step + 1, e.stage + 1),
            None => String::new(),
        };
        writeln!(out, "{:>3}  {:<16} {}{status}", i + 1, b.name, lesson.title)?;
        if detailed {
            writeln!(out, "     {:<16} {}", "", lesson.summary)?;
            if let Some(c) = &lesson.covers {
                writeln!(out, "     {:<16} covers: {c}", "")?;
            }
        }
    }
    if detailed {
        writeln!(
            out,
            "\nAny lesson file runs too: `attnstep lesson path/to/mine.toml`; \
             check one with `attnstep lessons check FILE`."
        )?;
    }
    Ok(())
}

const WELCOME: &str = "\
attnstep: learn how attention works by watching it run.

Every lesson runs the attention layer of MiniMind, a small open language model, on a few
tokens, and stops at each line of its forward pass to show you the tensors: their shapes,
with every dimension named, and the numbers that matter. Lesson 1 assumes only that you
know what a matrix product is.";

/// The lesson (1-based) a returning learner most likely wants: the first one not finished.
fn next_lesson(store: &Store) -> usize {
    BUNDLED
        .iter()
        .position(|b| !store.get(b.name).is_some_and(|e| e.finished))
        .map_or(1, |i| i + 1)
}

/// `attnstep` with no arguments: the welcome and the course; in a terminal, Enter starts a lesson.
pub fn cmd_welcome() -> Result<()> {
    let interactive = io::stdin().is_terminal() && io::stdout().is_terminal();
    let store = progress::state_dir()
        .and_then(|d| Store::load(&d).ok())
        .unwrap_or_default();
    let next = next_lesson(&store);
    let choice = {
        let mut out = BufWriter::new(io::stdout().lock());
        writeln!(out, "{WELCOME}\n")?;
        list(&mut out, false)?;
        if !interactive {
            writeln!(
                out,
                "\nStart the course with `attnstep lesson {next}`.\n\
                 `attnstep lessons` says more about each lesson; `attnstep --help` lists the rest."
            )?;
            out.flush()?;
            return Ok(());
        }
        write!(
            out,
            "\nPress Enter to start lesson {next} ({}), type a lesson number or name, \
             or q to quit: ",
            BUNDLED[next - 1].name
        )?;
        out.flush()?;
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line)?;
        line.trim().to_owned()
    };
    if matches!(choice.as_str(), "q" | "quit" | "exit") {
        return Ok(());
    }
    let name = if choice.is_empty() {
        next.to_string()
    } else {
        choice
    };
    use clap::Parser;
    let cli = crate::cli::Cli::try_parse_from(["attnstep", "lesson", name.as_str()])
        .map_err(|e| UsageError(e.to_string()))?;
    app::run(cli)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "format_version = 1\ntitle = \"T\"\nsummary = \"S\"\n";

    fn err(text: &str) -> String {
        parse("mine.toml", text).unwrap_err().0
    }

    #[test]
    fn every_bundled_lesson_loads_and_is_numbered_in_order() {
        for (i, b) in BUNDLED.iter().enumerate() {
            let l = load_bundled(i + 1, b).unwrap_or_else(|e| panic!("{}: {}", b.file, e.0));
            assert!(b.file.starts_with(&format!("{:02}-", i + 1)), "{}", b.file);
            assert!(
                l.presentation.welcome.is_some(),
                "{} has no welcome",
                b.file
            );
            assert!(
                l.presentation.closing.is_some(),
                "{} has no closing",
                b.file
            );
            assert!(!l.presentation.notes.is_empty(), "{} has no notes", b.file);
        }
    }

    #[test]
    fn bundled_lessons_hint_every_shape_changing_stage_they_show() {
        for (i, b) in BUNDLED.iter().enumerate() {
            let l = load_bundled(i + 1, b).unwrap();
            for id in StageId::ALL {
                if id.changes_shape() && l.presentation.shows(id) {
                    assert!(
                        l.presentation.hint_for(id).is_some(),
                        "{} shows {id} without a quiz hint",
                        b.file
                    );
                }
            }
        }
    }

    #[test]
    fn finds_bundled_by_name_number_or_stem() {
        assert_eq!(find_bundled("gqa").unwrap().0, 8);
        assert_eq!(find_bundled("8").unwrap().1.name, "gqa");
        assert_eq!(find_bundled("kv_cache").unwrap().0, 6);
        assert_eq!(find_bundled("01-tour").unwrap().1.name, "tour");
        assert!(find_bundled("13").is_none());
        assert!(find_bundled("0").is_none());
        assert!(find_bundled("attention").is_none());
    }

    #[test]
    fn minimal_lesson_parses_with_defaults() {
        let l = parse("m.toml", MINIMAL).unwrap();
        assert_eq!(l.title, "T");
        assert_eq!(l.spec, ConfigSpec::default());
        assert!(l.presentation.stages.is_none());
    }

    #[test]
    fn config_keys_list_matches_config_spec() {
        let full = ConfigSpec {
            preset: Some("x".into()),
            hidden_size: Some(1),
            num_attention_heads: Some(1),
            num_key_value_heads: Some(1),
            head_dim: Some(1),
            batch: Some(1),
            steps: Some(vec![1]),
            seq_len: Some(1),
            decode: Some(1),
            attention_mask: Some(vec![]),
            qk_norm: Some(true),
            rms_norm_eps: Some(1.0),
            rope_theta: Some(1.0),
            causal: Some(true),
            seed: Some(1),
            tokens: Some(String::new()),
        };
        let table: toml::Table = toml::from_str(&toml::to_string(&full).unwrap()).unwrap();
        let mut fields: Vec<&str> = table.keys().map(String::as_str).collect();
        fields.extend(["num_heads", "num_kv_heads"]);
        fields.sort_unstable();
        let mut known = CONFIG_KEYS.to_vec();
        known.sort_unstable();
        assert_eq!(fields, known);
    }

    #[test]
    fn unknown_key_gets_location_and_suggestion() {
        let text = format!("{MINIMAL}\n[config]\nhidden_size = 8\nnum_head = 2\n");
        assert_eq!(
            err(&text),
            "mine.toml:7:1: unknown key \"num_head\", did you mean \"num_heads\"?"
        );
        let text = format!("{MINIMAL}wellcome = \"hi\"\n");
        assert_eq!(
            err(&text),
            "mine.toml:4:1: unknown key \"wellcome\", did you mean \"welcome\"?"
        );
        let text = format!("{MINIMAL}hidden_size = 8\n");
        assert!(err(&text).starts_with(
            "mine.toml:4:1: unknown key \"hidden_size\" at the top level: configuration keys go in the [config] table"
        ));
        let text = format!("{MINIMAL}[[notes]]\nstage = \"scores\"\ntxt = \"x\"\n");
        assert_eq!(
            err(&text),
            "mine.toml:6:1: unknown key \"txt\", did you mean \"text\"?"
        );
    }

    #[test]
    fn wrong_type_names_the_key_and_location() {
        let text = format!("{MINIMAL}[config]\nhidden_size = \"eight\"\n");
        assert_eq!(
            err(&text),
            "mine.toml:5:15: key \"hidden_size\": invalid type: string \"eight\", expected a whole number"
        );
    }

    #[test]
    fn invalid_config_gets_the_cli_message_at_the_key() {
        let text = format!("{MINIMAL}[config]\nhidden_size = 8\nnum_heads = 4\nnum_kv_heads = 3\n");
        let e = err(&text);
        let cli = ConfigError::HeadsNotDivisible {
            heads: 4,
            kv_heads: 3,
        }
        .to_string();
        assert_eq!(e, format!("mine.toml:7:1: {cli}"));
    }

    #[test]
    fn mask_of_wrong_length_points_at_the_row() {
        let text = format!(
            "{MINIMAL}[config]\nseq_len = 4\nbatch = 2\nattention_mask = [\"1111\", \"011\"]\n"
        );
        let e = err(&text);
        assert!(
            e.starts_with("mine.toml:7:27: --attention-mask row 1 has 3 entries"),
            "{e}"
        );
    }

    #[test]
    fn stage_names_are_checked() {
        let text = format!("{MINIMAL}[[notes]]\nstage = \"scroes\"\ntext = \"x\"\n");
        assert!(
            err(&text)
                .starts_with("mine.toml:5:9: unknown stage \"scroes\", did you mean \"scores\"?"),
            "{}",
            err(&text)
        );
        let text = format!("{MINIMAL}stages = [\"scores\", \"qk_norm\"]\n");
        assert_eq!(
            err(&text),
            "mine.toml:4:21: stage \"qk_norm\" never happens in this lesson: it needs qk_norm = true in [config]"
        );
    }

    #[test]
    fn note_steps_are_one_based_and_checked() {
        let ok = format!(
            "{MINIMAL}[config]\nsteps = [3, 1]\n[[notes]]\nstage = \"scores\"\nstep = 2\ntext = \"x\"\n"
        );
        let l = parse("m.toml", &ok).unwrap();
        assert_eq!(l.presentation.notes[0].step, Some(1));
        let bad = ok.replace("step = 2", "step = 3");
        assert!(err(&bad).starts_with("mine.toml:8:8: note step 3 is out of range"));
    }

    #[test]
    fn missing_and_future_format_are_reported() {
        assert!(
            err("title = \"t\"\nsummary = \"s\"\n")
                .starts_with("mine.toml:1:1: missing key \"format_version\"")
        );
        let e = err(&MINIMAL.replace("= 1", "= 2"));
        assert!(e.starts_with("mine.toml:1:18: format_version 2"), "{e}");
    }

    #[test]
    fn a_newer_format_is_refused_before_its_keys_are_judged() {
        let text = "format_version = 2\ntitle = \"T\"\nsummary = \"S\"\nsparkles = true\n";
        let e = err(text);
        assert!(
            e.starts_with("mine.toml:1:18: format_version 2 is not one"),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_inside_a_note_names_the_note_key() {
        let text =
            format!("{MINIMAL}[[notes]]\nstage = \"scores\"\nstep = \"two\"\ntext = \"x\"\n");
        assert_eq!(
            err(&text),
            "mine.toml:6:8: key \"step\": invalid type: string \"two\", expected a whole number"
        );
        let text = format!("{MINIMAL}head = \"first\"\n");
        assert!(err(&text).starts_with("mine.toml:4:8: key \"head\": invalid type"));
    }

    #[test]
    fn notes_and_config_of_the_wrong_kind_say_how_to_write_them() {
        let text = format!("{MINIMAL}notes = \"hello\"\n");
        assert!(err(&text).starts_with("mine.toml:4:9: key \"notes\" must be an array of tables"));
        let text = format!("{MINIMAL}config = 3\n");
        assert!(err(&text).starts_with("mine.toml:4:10: key \"config\" must be a table"));
    }

    #[test]
    fn a_note_without_text_says_what_is_missing() {
        let text = format!("{MINIMAL}[[notes]]\nstage = \"scores\"\n");
        assert_eq!(
            err(&text),
            "mine.toml:4:1: a [[notes]] entry is missing key \"text\""
        );
    }

    #[test]
    fn head_out_of_range_is_reported() {
        let text = format!("{MINIMAL}head = 9\n[config]\nnum_heads = 4\nhidden_size = 16\n");
        assert!(err(&text).starts_with("mine.toml:4:8: head 9 is out of range"));
    }

    #[test]
    fn syntax_error_is_located() {
        let e = err("format_version = 1\ntitle = \"unclosed\n");
        assert!(e.starts_with("mine.toml:2:"), "{e}");
        assert!(e.contains("not valid TOML"), "{e}");
    }

    #[test]
    fn welcome_offers_the_first_unfinished_lesson() {
        let mut store = Store::default();
        assert_eq!(next_lesson(&store), 1);
        let done = Entry {
            finished: true,
            ..Entry::default()
        };
        store.set("tour", done.clone());
        store.set("scores", done.clone());
        assert_eq!(next_lesson(&store), 2);
        store.set("heads", Entry::default());
        assert_eq!(next_lesson(&store), 2, "started but unfinished");
        for b in BUNDLED {
            store.set(b.name, done.clone());
        }
        assert_eq!(next_lesson(&store), 1, "all done: start again");
    }

    #[test]
    fn yes_is_the_default_answer() {
        assert!(answer_is_yes("\n"));
        assert!(answer_is_yes("y\n"));
        assert!(!answer_is_yes("n\n"));
        assert!(!answer_is_yes(" No \n"));
    }

    #[test]
    fn walked_maps_to_a_progress_entry() {
        let w = Walked {
            position: (2, 5),
            finished: false,
            quiz: Some((3, 4)),
        };
        assert_eq!(
            w.entry(),
            Entry {
                step: 2,
                stage: 5,
                finished: false,
                quiz: Some(QuizRecord {
                    correct: 3,
                    asked: 4
                })
            }
        );
    }
}
