//! A checked lesson ([`Lesson`]) and how a configuration error is worded for it: keys the
//! lesson set are named as the file spells them, at their line; keys the flags set are named
//! as the flags.

use crate::config::{ConfigError, ConfigKey, ConfigSpec};
use crate::lesson::schema::Sites;
use crate::lesson::source::Source;
use crate::presentation::Presentation;

/// A checked lesson, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    /// Bundled name, or the file's path for a lesson read from disk.
    pub name: String,
    /// 1-based position in the bundled course.
    pub number: Option<usize>,
    pub title: String,
    pub summary: String,
    pub covers: Option<String>,
    /// The lesson's own configuration layer (flags go over it).
    pub spec: ConfigSpec,
    /// Welcome, notes, hints, stages and closing.
    pub presentation: Presentation,
    /// How the lesson asks its tables to be drawn (flags override each value).
    pub view: ViewSettings,
    /// Named configurations laid over `spec`, in file order (empty: the lesson has one).
    pub variants: Vec<LessonVariant>,
    /// The checkpoint the lesson runs (`[model]`), instead of random weights.
    pub model: Option<LessonModel>,
    /// The slip the lesson plants for the learner to hunt (`bug = "…"`).
    pub bug: Option<crate::bugs::Bug>,
    /// Key used in the progress store.
    pub progress_key: String,
    pub(super) source: Source,
    pub(super) sites: Sites,
}

/// The lesson's `[view]`: the first head and batch row shown, and the table limits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewSettings {
    pub head: Option<usize>,
    pub batch: Option<usize>,
    pub max_rows: Option<usize>,
    pub max_cols: Option<usize>,
    pub precision: Option<usize>,
}

/// The lesson's `[model]`: a checkpoint, the text to run through it and the layer to step
/// through (checked when the lesson is loaded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LessonModel {
    /// A built-in name (`tiny`), or the checkpoint directory resolved against the lesson file's.
    pub weights: String,
    pub text: String,
    pub layer: usize,
}

/// One `[[variants]]` entry: a name and the configuration keys it changes.
#[derive(Clone, Debug, PartialEq)]
pub struct LessonVariant {
    pub name: String,
    pub spec: ConfigSpec,
}

impl Lesson {
    /// The names of the variants, in file order.
    pub fn variant_names(&self) -> Vec<&str> {
        self.variants.iter().map(|v| v.name.as_str()).collect()
    }

    /// The lesson's configuration layer with variant `variant` (an index) laid over it.
    pub fn spec_of(&self, variant: Option<usize>) -> ConfigSpec {
        match variant.and_then(|i| self.variants.get(i)) {
            Some(v) => self.spec.overridden_by(&v.spec),
            None => self.spec.clone(),
        }
    }

    /// Where the lesson came from, as messages show it (`lessons/08-gqa.toml`).
    pub fn origin(&self) -> &str {
        self.source.origin()
    }

    /// Words a configuration error of this lesson's configuration with `flags` laid over it.
    /// Keys the flags set are named by `flag` (`--seq-len`); keys the lesson sets are named
    /// as the file spells them, and the message is located at the first such key (or the
    /// entry of it at fault) when the error is about it.
    pub fn describe_config_error(
        &self,
        e: &ConfigError,
        flags: &ConfigSpec,
        flag: &dyn Fn(ConfigKey) -> &'static str,
    ) -> String {
        self.describe_variant_config_error(None, e, flags, flag)
    }

    /// [`Lesson::describe_config_error`] for variant `variant` (an index): keys the variant
    /// sets are located in its `config`, the others in `[config]`.
    pub fn describe_variant_config_error(
        &self,
        variant: Option<usize>,
        e: &ConfigError,
        flags: &ConfigSpec,
        flag: &dyn Fn(ConfigKey) -> &'static str,
    ) -> String {
        let mut sites = self.sites.config.clone();
        let mut table = self.sites.config_table.clone();
        if let Some((own, span)) = variant.and_then(|i| self.sites.variants.get(i)) {
            sites.extend(own.iter().map(|(k, s)| (*k, s.clone())));
            if !own.is_empty() {
                table = Some(span.clone());
            }
        }
        let sites = &sites;
        let name = |k: ConfigKey| {
            if flags.sets(k) {
                flag(k).to_owned()
            } else {
                sites
                    .get(&k)
                    .map_or_else(|| k.as_str().to_owned(), |s| s.written.clone())
            }
        };
        let msg = e.describe(&name);
        let culprit = e
            .keys()
            .into_iter()
            .find(|(k, _)| flags.sets(*k) || sites.contains_key(k));
        let span = match culprit {
            Some((k, _)) if flags.sets(k) => return msg,
            Some((k, index)) => {
                let site = &sites[&k];
                Some(
                    index
                        .and_then(|i| site.items.get(i))
                        .unwrap_or(&site.key)
                        .clone(),
                )
            }
            None => table,
        };
        let given: Vec<&str> = ConfigKey::ALL
            .into_iter()
            .filter(|k| flags.sets(*k))
            .map(flag)
            .collect();
        let with = if given.is_empty() {
            String::new()
        } else {
            format!(
                " (the lesson's value, with {} from the command line)",
                given.join(", ")
            )
        };
        self.source.err(span, format!("{msg}{with}")).0
    }
}
