//! The lesson file as serde reads it, once the schema check has passed: the top-level keys,
//! `[view]`, `[model]`, `[[variants]]`, `[[notes]]` and `[[hints]]`, with `toml::Spanned` where
//! a later check must point back at the file. Shared by the parser (`format`) and the
//! whole-lesson checks (`checks`), which both read it and neither of which it reads.

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use crate::config::{Config, ConfigSpec};
use crate::trace::StageId;

/// The file as serde reads it, once [`schema::check`] has passed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonFile {
    #[serde(rename = "format_version")]
    pub _format_version: u64,
    pub title: String,
    pub summary: String,
    pub covers: Option<String>,
    pub welcome: Option<Spanned<String>>,
    pub closing: Option<Spanned<String>>,
    pub head: Option<Spanned<usize>>,
    pub batch_index: Option<Spanned<usize>>,
    pub stages: Option<Spanned<Vec<Spanned<String>>>>,
    pub quiz: Option<Spanned<Vec<Spanned<String>>>>,
    pub premise: Option<Spanned<Flex>>,
    pub view: Option<ViewFile>,
    pub bug: Option<Spanned<String>>,
    #[serde(default)]
    pub config: ConfigSpec,
    pub model: Option<ModelFile>,
    #[serde(default)]
    pub variants: Vec<VariantFile>,
    #[serde(default)]
    pub notes: Vec<NoteFile>,
    #[serde(default)]
    pub hints: Vec<HintFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewFile {
    pub head: Option<Spanned<usize>>,
    pub batch: Option<Spanned<usize>>,
    pub max_rows: Option<usize>,
    pub max_cols: Option<usize>,
    pub precision: Option<usize>,
}

/// `[model]`: a checkpoint (a built-in name or a directory), the text and the layer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub weights: Spanned<String>,
    pub text: Spanned<String>,
    pub layer: Option<Spanned<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantFile {
    pub name: Spanned<String>,
    pub about: Option<String>,
    pub premise: Option<Spanned<Flex>>,
    #[serde(default)]
    pub config: ConfigSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteFile {
    pub stage: Spanned<String>,
    /// 1-based, like `--step`; absent (with `steps`) means every step.
    pub step: Option<Spanned<usize>>,
    pub steps: Option<Spanned<StepsFile>>,
    pub when: Option<Spanned<Flex>>,
    pub variant: Option<Spanned<Flex>>,
    pub prose: Option<Spanned<String>>,
    pub text: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HintFile {
    pub stage: Spanned<String>,
    pub step: Option<Spanned<usize>>,
    pub steps: Option<Spanned<StepsFile>>,
    pub when: Option<Spanned<Flex>>,
    pub variant: Option<Spanned<Flex>>,
    pub kind: Option<Spanned<String>>,
    pub text: Spanned<String>,
}

/// One text or an array of texts (`when`, `variant`, `premise`).
#[derive(Debug)]
pub enum Flex {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for Flex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Flex, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flex;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("text, or an array of texts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Flex, E> {
                Ok(Flex::One(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Flex, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<Spanned<String>>()? {
                    out.push(x);
                }
                Ok(Flex::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Each text of a [`Flex`] with where it is (a lone text: the value's place).
pub fn items(flex: &Spanned<Flex>) -> Vec<(Range<usize>, String)> {
    match flex.get_ref() {
        Flex::One(s) => vec![(flex.span(), s.clone())],
        Flex::Many(v) => v.iter().map(|s| (s.span(), s.get_ref().clone())).collect(),
    }
}

/// `steps = [2, 3]` or `steps = "2-4"` / `"2-"`.
#[derive(Debug)]
pub enum StepsFile {
    Range(String),
    List(Vec<Spanned<usize>>),
}

impl<'de> Deserialize<'de> for StepsFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StepsFile, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StepsFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("step numbers, or a range in quotes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StepsFile, E> {
                Ok(StepsFile::Range(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StepsFile, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<Spanned<usize>>()? {
                    out.push(x);
                }
                Ok(StepsFile::List(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Labels per batch row (`tokens = ["…", "…"]` in `[config]`) and where they are.
pub struct Rows {
    pub rows: Vec<Vec<String>>,
    pub span: Range<usize>,
}

/// The stages a configuration goes through (QK-norm and padding only when configured).
pub fn stages_in(cfg: &Config) -> Vec<StageId> {
    StageId::present(cfg, false)
}
