//! A lesson's `[model]`: the checkpoint it names is opened and the text tokenized when the
//! lesson is loaded, so a missing checkpoint, text the tokenizer cannot take or a layer the
//! model lacks is a located error like any other, and the checks that follow see the real
//! configuration (heads, tokens, the checkpoint's stages).
//!
//! A lesson with a model takes its whole configuration from the checkpoint: `[config]`,
//! `[[variants]]` and `bug` are refused with it. The text runs as one prefill; the learner can
//! split it into calls with `--steps`/`--decode`, and give other text or another layer with
//! `--text`/`--layer` (the plan lays those over the lesson's).

use toml::Spanned;

use crate::checkpoint::{BUNDLED, open_named};
use crate::config::Config;
use crate::error::UsageError;
use crate::lesson::file::{LessonFile, ModelFile};
use crate::lesson::model::LessonModel;
use crate::lesson::schema::Sites;
use crate::lesson::source::{Source, quoted};

/// Checks `[model]` and what may not go with it; returns the model and the configuration of its
/// layer for the text.
pub fn resolve(
    src: &Source,
    sites: &Sites,
    file: &LessonFile,
    m: &ModelFile,
) -> Result<(LessonModel, Config), UsageError> {
    refuse_alongside(src, sites, file)?;
    let written = m.weights.get_ref().trim();
    let weights = if BUNDLED.contains(&written) {
        written.to_owned()
    } else {
        src.resolve_path(written).display().to_string()
    };
    let at = |s: &Spanned<String>| Some(s.span());
    let checkpoint = open_named(&weights).map_err(|e| {
        src.err(
            at(&m.weights),
            format!(
                "weights {}: {e}; name a bundled model ({}) or a checkpoint directory, \
                 relative to this lesson file",
                quoted(written),
                BUNDLED.join(", ")
            ),
        )
    })?;
    let text = m.text.get_ref().trim();
    if text.is_empty() {
        return Err(src.err(
            at(&m.text),
            "text is empty: give the words to run through the model",
        ));
    }
    let tokens = checkpoint
        .tokenize(text)
        .map_err(|e| src.err(at(&m.text), format!("text: {e}")))?;
    let layers = checkpoint.config.num_hidden_layers;
    let layer = match &m.layer {
        None => 0,
        Some(l) if *l.get_ref() < layers => *l.get_ref(),
        Some(l) => {
            return Err(src.err(
                Some(l.span()),
                format!(
                    "layer {} is out of range: {} has {layers} layer(s), numbered 0 to {}",
                    l.get_ref(),
                    quoted(written),
                    layers - 1
                ),
            ));
        }
    };
    let config = checkpoint
        .attention_config(&[tokens.ids.len()], Some(tokens.labels))
        .map_err(|e| src.err(at(&m.text), format!("text: {e}")))?;
    let model = LessonModel {
        weights,
        text: text.to_owned(),
        layer,
    };
    Ok((model, config))
}

/// `[config]` keys, `[[variants]]` and `bug` contradict a checkpoint: each is refused where it
/// is written.
fn refuse_alongside(src: &Source, sites: &Sites, file: &LessonFile) -> Result<(), UsageError> {
    if let Some(site) = sites.config.values().min_by_key(|s| s.key.start) {
        return Err(src.err(
            Some(site.key.clone()),
            format!(
                "{} cannot be set in a lesson with [model]: the checkpoint's config.json decides \
                 the sizes and the text decides the tokens; remove it from [config] (a learner \
                 splits the text into calls with --steps or --decode)",
                quoted(&site.written)
            ),
        ));
    }
    if let Some(v) = file.variants.first() {
        return Err(src.err(
            Some(v.name.span()),
            "a lesson with [model] runs one configuration, the checkpoint's, so it has no \
             [[variants]]; remove them (a learner picks another layer with --layer)",
        ));
    }
    if let Some(b) = &file.bug {
        return Err(src.err(
            Some(b.span()),
            "bug plants a slip in attnstep's runs of random weights; it cannot be combined with \
             [model]: remove one of them",
        ));
    }
    Ok(())
}
