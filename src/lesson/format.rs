//! Reading a lesson file: TOML syntax (toml's parser), keys and value kinds ([`schema`]),
//! values (serde, with `toml::Spanned` where a later check must point back at the file), then
//! what only makes sense together: the configuration resolves, named stages happen in it, note
//! steps exist, the first head and batch row are in range.
//!
//! Every mistake is a [`UsageError`] located as `PATH:LINE:COL`.
//!
//! [`schema`]: crate::lesson::schema

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use crate::bugs::{self, Bug};
use crate::config::{Config, ConfigSpec};
use crate::error::UsageError;
use crate::lesson::model::Lesson;
use crate::lesson::schema::{self, Sites};
use crate::lesson::source::{Source, nearest, quoted};
use crate::presentation::{Hint, Note, Presentation};
use crate::text::{printable, printable_words};
use crate::trace::StageId;

/// The file as serde reads it, once [`schema::check`] has passed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LessonFile {
    #[serde(rename = "format_version")]
    _format_version: u64,
    title: String,
    summary: String,
    covers: Option<String>,
    welcome: Option<String>,
    closing: Option<String>,
    head: Option<Spanned<usize>>,
    batch_index: Option<Spanned<usize>>,
    stages: Option<Spanned<Vec<Spanned<String>>>>,
    bug: Option<Spanned<String>>,
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
    stage: Spanned<String>,
    /// 1-based, like `--step`; absent means every step.
    step: Option<Spanned<usize>>,
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HintFile {
    stage: Spanned<String>,
    text: String,
}

/// Parses and checks a lesson.
pub fn parse(src: Source) -> Result<Lesson, UsageError> {
    let root = DeTable::parse(src.text()).map_err(|e| {
        let msg = e.message().trim().replace('\n', "; ");
        src.err(e.span(), format!("this is not valid TOML: {msg}"))
    })?;
    let sites = schema::check(&src, root.get_ref())?;
    let file = LessonFile::deserialize(toml::de::Deserializer::from(root)).map_err(|e| {
        // The schema check has seen every key and kind; what is left is rare (a number too
        // large for this machine), so serde's own words are kept, located.
        src.err(e.span(), e.message().trim())
    })?;
    build(src, sites, file)
}

/// Checks what needs the whole file and assembles the [`Lesson`].
fn build(src: Source, sites: Sites, file: LessonFile) -> Result<Lesson, UsageError> {
    let mut spec = file.config.clone();
    spec.tokens = spec.tokens.as_deref().map(printable_words);
    let text = |s: &str| printable(s.trim()).into_owned();
    let opt = |s: &Option<String>| s.as_deref().map(text);
    let mut lesson = Lesson {
        name: src.origin().to_owned(),
        number: None,
        title: text(&file.title),
        summary: text(&file.summary),
        covers: opt(&file.covers),
        spec,
        presentation: Presentation::default(),
        head: file.head.as_ref().map(|h| *h.get_ref()),
        batch_index: file.batch_index.as_ref().map(|b| *b.get_ref()),
        bug: None,
        progress_key: src.origin().to_owned(),
        source: src,
        sites,
    };
    let cfg = lesson.spec.resolve().map_err(|e| {
        UsageError(lesson.describe_config_error(&e, &ConfigSpec::default(), &|k| k.as_str()))
    })?;
    let stages_present = stages_in(&cfg);
    let src = &lesson.source;
    let stages = match &file.stages {
        None => None,
        Some(list) => Some(shown_stages(src, list, &stages_present)?),
    };
    lesson.bug = match &file.bug {
        None => None,
        Some(name) => Some(planted(
            src,
            name,
            &cfg,
            file.stages.as_ref(),
            stages.as_deref(),
        )?),
    };
    let notes = notes(src, &file.notes, &stages_present, cfg.steps.len())?;
    let hints = file
        .hints
        .iter()
        .map(|h| {
            Ok(Hint {
                stage: stage(src, &h.stage, &stages_present)?,
                text: text(&h.text),
            })
        })
        .collect::<Result<_, UsageError>>()?;
    check_view(src, &file, &cfg)?;
    lesson.presentation = Presentation {
        title: Some(lesson.title.clone()),
        summary: Some(lesson.summary.clone()),
        welcome: opt(&file.welcome),
        notes,
        hints,
        stages,
        closing: opt(&file.closing),
        hunt: lesson.bug.is_some(),
    };
    Ok(lesson)
}

/// The `bug` key: a known slip, one this configuration can run and show, first showing at a
/// stage the lesson shows (the hunt asks for it).
fn planted(
    src: &Source,
    name: &Spanned<String>,
    cfg: &Config,
    list: Option<&Spanned<Vec<Spanned<String>>>>,
    shown: Option<&[StageId]>,
) -> Result<Bug, UsageError> {
    let at = Some(name.span());
    let bug = bugs::lookup(name.get_ref()).map_err(|e| src.err(at.clone(), e))?;
    let planted_cfg = Config {
        bug: Some(bug),
        ..cfg.clone()
    };
    if let Some(why) = bugs::shape_error(&planted_cfg).or_else(|| bug.hidden_by(cfg)) {
        return Err(src.err(at, why));
    }
    if let (Some(list), Some(shown)) = (list, shown) {
        let first = bug.first_stage();
        if !shown.contains(&first) {
            return Err(src.err(
                Some(list.span()),
                format!(
                    "stages leaves out {first}, where the slip {bug} first shows: the hunt asks \
                     the learner for that stage, so add \"{first}\" to stages"
                ),
            ));
        }
    }
    Ok(bug)
}

/// The stages a configuration goes through (QK-norm and padding only when configured).
pub fn stages_in(cfg: &Config) -> Vec<StageId> {
    StageId::present(cfg, false)
}

/// A stage named in the lesson: known, and happening in its configuration.
fn stage(src: &Source, name: &Spanned<String>, present: &[StageId]) -> Result<StageId, UsageError> {
    let span = Some(name.span());
    let text = name.get_ref();
    let names: Vec<&str> = StageId::ALL.iter().map(|s| s.as_str()).collect();
    let id = StageId::parse(text).ok_or_else(|| {
        let near = nearest(text, &names)
            .map_or_else(|| ".".to_owned(), |n| format!(", did you mean \"{n}\"?"));
        src.err(
            span.clone(),
            format!(
                "unknown stage {}{near} The stages are: {}",
                quoted(text),
                names.join(", ")
            ),
        )
    })?;
    if !present.contains(&id) {
        let need = match id {
            StageId::QkNorm => "qk_norm = true",
            _ => "an attention_mask",
        };
        return Err(src.err(
            span,
            format!(
                "stage {} never happens in this lesson: it needs {need} in [config]",
                quoted(text)
            ),
        ));
    }
    Ok(id)
}

/// The `stages` list: the stages shown, at least one.
fn shown_stages(
    src: &Source,
    list: &Spanned<Vec<Spanned<String>>>,
    present: &[StageId],
) -> Result<Vec<StageId>, UsageError> {
    if list.get_ref().is_empty() {
        return Err(src.err(
            Some(list.span()),
            "stages is empty: list the stages to show, or leave the key out to show them all",
        ));
    }
    list.get_ref()
        .iter()
        .map(|n| stage(src, n, present))
        .collect()
}

/// The notes, with their 1-based steps checked and made 0-based.
fn notes(
    src: &Source,
    notes: &[NoteFile],
    present: &[StageId],
    steps: usize,
) -> Result<Vec<Note>, UsageError> {
    notes
        .iter()
        .map(|n| {
            let stage = stage(src, &n.stage, present)?;
            if let Some(step) = &n.step {
                let s = *step.get_ref();
                if s == 0 || s > steps {
                    return Err(src.err(
                        Some(step.span()),
                        format!(
                            "note step {s} is out of range: this lesson has {steps} step(s), \
                             numbered from 1 (1 is the prefill); leave step out to show the note \
                             on every step"
                        ),
                    ));
                }
            }
            Ok(Note {
                stage,
                step: n.step.as_ref().map(|s| s.get_ref() - 1),
                text: printable(n.text.trim()).into_owned(),
            })
        })
        .collect()
}

/// The lesson's first head and batch row exist in its configuration.
fn check_view(src: &Source, file: &LessonFile, cfg: &Config) -> Result<(), UsageError> {
    if let Some(h) = &file.head
        && *h.get_ref() >= cfg.num_attention_heads
    {
        return Err(src.err(
            Some(h.span()),
            format!(
                "head {} is out of range: this lesson has {} query heads (0 to {})",
                h.get_ref(),
                cfg.num_attention_heads,
                cfg.num_attention_heads - 1
            ),
        ));
    }
    if let Some(b) = &file.batch_index
        && *b.get_ref() >= cfg.batch
    {
        return Err(src.err(
            Some(b.span()),
            format!(
                "batch_index {} is out of range: batch is {} (rows 0 to {})",
                b.get_ref(),
                cfg.batch,
                cfg.batch - 1
            ),
        ));
    }
    Ok(())
}
