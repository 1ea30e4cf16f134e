//! Reading a lesson file: TOML syntax (toml's parser), keys and value kinds ([`schema`]),
//! values (serde, with `toml::Spanned` where a later check must point back at the file), then
//! what only makes sense together (the `checks` module): the configuration and every variant
//! resolve (or the checkpoint of `[model]` opens, in the `trained` module),
//! named stages happen and are shown, steps exist, placeholders resolve, hints have a question
//! to go with, the first head and batch row are in range.
//!
//! Every mistake is a [`UsageError`] located as `PATH:LINE:COL`.
//!
//! [`schema`]: crate::lesson::schema

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::bugs::{self, Bug};
use crate::config::{Config, ConfigSpec};
use crate::error::UsageError;
use crate::lesson::checks::Checker;
use crate::lesson::file::{LessonFile, Rows};
use crate::lesson::model::{Lesson, LessonVariant, ViewSettings};
use crate::lesson::schema::{self, Sites};
use crate::lesson::source::{Source, quoted};
use crate::lesson::trained;
use crate::presentation::{Presentation, VariantInfo};
use crate::text::{printable, printable_words};
use crate::trace::StageId;

/// Parses and checks a lesson.
pub fn parse(src: Source) -> Result<Lesson, UsageError> {
    let mut root = DeTable::parse(src.text()).map_err(|e| {
        let msg = e.message().trim().replace('\n', "; ");
        src.err(e.span(), format!("this is not valid TOML: {msg}"))
    })?;
    let sites = schema::check(&src, root.get_ref())?;
    let rows = take_rows(&src, root.get_mut())?;
    let file = LessonFile::deserialize(toml::de::Deserializer::from(root)).map_err(|e| {
        // The schema check has seen every key and kind; what is left is rare (a number too
        // large for this machine), so serde's own words are kept, located.
        src.err(e.span(), e.message().trim())
    })?;
    build(src, sites, file, rows)
}

/// Takes `tokens = ["…", "…"]` (one text per batch row) out of `[config]`, leaving the first
/// row as the configuration's labels; a variant's `tokens` must be one text.
fn take_rows(src: &Source, root: &mut DeTable) -> Result<Option<Rows>, UsageError> {
    if let Some(variants) = root.get("variants")
        && let DeValue::Array(list) = variants.get_ref()
    {
        for entry in list.iter() {
            if let DeValue::Table(t) = entry.get_ref()
                && let Some(cfg) = t.get("config")
                && let DeValue::Table(c) = cfg.get_ref()
                && let Some(tok) = c.get("tokens")
                && matches!(tok.get_ref(), DeValue::Array(_))
            {
                return Err(src.err(
                    Some(tok.span()),
                    "a variant's tokens is one text: labels per batch row go in the lesson's \
                     [config]",
                ));
            }
        }
    }
    let Some(cfg) = root.get_mut("config") else {
        return Ok(None);
    };
    let DeValue::Table(table) = cfg.get_mut() else {
        return Ok(None);
    };
    let Some(tokens) = table.get_mut("tokens") else {
        return Ok(None);
    };
    let span = tokens.span();
    let DeValue::Array(list) = tokens.get_ref() else {
        return Ok(None);
    };
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| match r.get_ref() {
            DeValue::String(s) => printable_words(s)
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    if rows.is_empty() {
        return Err(src.err(
            Some(span),
            "tokens is an empty array: give one text per batch row, or one text for all rows",
        ));
    }
    *tokens.get_mut() = DeValue::String(rows[0].join(" ").into());
    Ok(Some(Rows { rows, span }))
}

/// Checks what needs the whole file and assembles the [`Lesson`].
fn build(
    src: Source,
    sites: Sites,
    file: LessonFile,
    rows: Option<Rows>,
) -> Result<Lesson, UsageError> {
    let trained = match &file.model {
        Some(m) => Some(trained::resolve(&src, &sites, &file, m)?),
        None => None,
    };
    let mut spec = file.config.clone();
    spec.tokens = spec.tokens.as_deref().map(printable_words);
    let text = |s: &str| printable(s.trim()).into_owned();
    let mut lesson = Lesson {
        name: src.origin().to_owned(),
        number: None,
        title: text(&file.title),
        summary: text(&file.summary),
        covers: file.covers.as_deref().map(text),
        spec,
        presentation: Presentation::default(),
        model: None,
        bug: None,
        view: ViewSettings::default(),
        variants: Vec::new(),
        progress_key: src.origin().to_owned(),
        source: src,
        sites,
    };
    lesson.variants = variants(&lesson.source, &file)?;
    let runs = match trained {
        Some((model, config)) => {
            lesson.model = Some(model);
            vec![(None, config)]
        }
        None => configurations(&lesson)?,
    };
    let checker = Checker::new(&lesson.source, &runs, &file)?;
    let row_tokens = match &rows {
        Some(r) => Some(checker.rows(r)?),
        None => None,
    };
    lesson.bug = match &file.bug {
        None => None,
        Some(name) => Some(planted(
            &lesson.source,
            name,
            &runs[0].1,
            file.stages.as_ref(),
            checker.stages.as_deref(),
        )?),
    };
    lesson.view = view(&lesson.source, &file, &runs)?;
    lesson.presentation = Presentation {
        title: Some(lesson.title.clone()),
        summary: Some(lesson.summary.clone()),
        welcome: file
            .welcome
            .as_ref()
            .map(|w| checker.text(w, &[]))
            .transpose()?,
        closing: file
            .closing
            .as_ref()
            .map(|c| checker.text(c, &[]))
            .transpose()?,
        notes: checker.notes(&file.notes)?,
        hints: checker.hints(&file.hints)?,
        stages: checker.stages.clone(),
        quiz: checker.quiz.clone(),
        premise: checker.premise(file.premise.as_ref(), None)?,
        row_tokens,
        hunt: lesson.bug,
        variants: file
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                Ok(VariantInfo {
                    name: lesson.variants[i].name.clone(),
                    about: v.about.as_deref().map(text),
                    premise: checker.premise(v.premise.as_ref(), Some(i))?,
                })
            })
            .collect::<Result<_, UsageError>>()?,
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

/// The `[[variants]]`: names given once each, configurations kept as layers.
fn variants(src: &Source, file: &LessonFile) -> Result<Vec<LessonVariant>, UsageError> {
    let mut out: Vec<LessonVariant> = Vec::new();
    for v in &file.variants {
        let name = v.name.get_ref().trim();
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(src.err(
                Some(v.name.span()),
                format!(
                    "variant name {} must be a short word (letters, digits, - and _), as it is \
                     typed after --variant",
                    quoted(name)
                ),
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(src.err(
                Some(v.name.span()),
                format!(
                    "variant {} is named twice; give each variant its own name",
                    quoted(name)
                ),
            ));
        }
        let mut spec = v.config.clone();
        spec.tokens = spec.tokens.as_deref().map(printable_words);
        out.push(LessonVariant {
            name: name.to_owned(),
            spec,
        });
    }
    Ok(out)
}

/// Every configuration the lesson runs: its own, or each variant's over it.
fn configurations(lesson: &Lesson) -> Result<Vec<(Option<String>, Config)>, UsageError> {
    let resolve = |variant: Option<usize>| {
        lesson.spec_of(variant).resolve().map_err(|e| {
            UsageError(lesson.describe_variant_config_error(
                variant,
                &e,
                &ConfigSpec::default(),
                &|k| k.as_str(),
            ))
        })
    };
    if lesson.variants.is_empty() {
        return Ok(vec![(None, resolve(None)?)]);
    }
    (0..lesson.variants.len())
        .map(|i| Ok((Some(lesson.variants[i].name.clone()), resolve(Some(i))?)))
        .collect()
}

/// The lesson's `[view]` (or the older top-level `head` and `batch_index`), in range for every
/// configuration it runs.
fn view(
    src: &Source,
    file: &LessonFile,
    runs: &[(Option<String>, Config)],
) -> Result<ViewSettings, UsageError> {
    let v = file.view.as_ref();
    fn twice<'f>(
        src: &Source,
        old: &'f Option<Spanned<usize>>,
        new: Option<&'f Spanned<usize>>,
        name: &str,
    ) -> Result<Option<&'f Spanned<usize>>, UsageError> {
        match (old, new) {
            (Some(o), Some(_)) => Err(src.err(
                Some(o.span()),
                format!("{name} is set twice, here and in [view]; keep the one in [view]"),
            )),
            (Some(o), None) => Ok(Some(o)),
            (None, n) => Ok(n),
        }
    }
    let head = twice(src, &file.head, v.and_then(|v| v.head.as_ref()), "head")?;
    let batch = twice(
        src,
        &file.batch_index,
        v.and_then(|v| v.batch.as_ref()),
        "batch_index",
    )?;
    let min_heads = runs
        .iter()
        .map(|(_, c)| c.num_attention_heads)
        .min()
        .unwrap_or(1);
    let min_batch = runs.iter().map(|(_, c)| c.batch).min().unwrap_or(1);
    if let Some(h) = head
        && *h.get_ref() >= min_heads
    {
        return Err(src.err(
            Some(h.span()),
            format!(
                "head {} is out of range: this lesson has {min_heads} query heads (0 to {})",
                h.get_ref(),
                min_heads - 1
            ),
        ));
    }
    if let Some(b) = batch
        && *b.get_ref() >= min_batch
    {
        return Err(src.err(
            Some(b.span()),
            format!(
                "batch row {} is out of range: batch is {min_batch} (rows 0 to {})",
                b.get_ref(),
                min_batch - 1
            ),
        ));
    }
    Ok(ViewSettings {
        head: head.map(|h| *h.get_ref()),
        batch: batch.map(|b| *b.get_ref()),
        max_rows: v.and_then(|v| v.max_rows),
        max_cols: v.and_then(|v| v.max_cols),
        precision: v.and_then(|v| v.precision),
    })
}
