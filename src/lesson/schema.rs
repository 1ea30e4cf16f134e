//! The lesson format's keys and the kind of value each holds, checked on toml's spanned tree
//! ([`DeTable`]) before serde reads the file: so an unknown key gets "did you mean", a value of
//! the wrong kind gets plain words at its own line, and a missing key is reported at the table
//! it is missing from.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::ConfigKey;
use crate::error::UsageError;
use crate::lesson::source::{Source, nearest, quoted};

/// The lesson format this build reads.
pub const FORMAT_VERSION: i64 = 1;

/// What a key's value must be.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Text,
    Whole,
    Number,
    Bool,
    TextList,
    WholeList,
    Table,
    TableList,
    /// One text, or an array of them (`when = "gqa"`, `when = ["gqa", "cached"]`).
    TextOrList,
    /// Steps: an array of step numbers, or a range in quotes (`"2-4"`, `"2-"`).
    Steps,
}

impl Kind {
    fn wanted(self) -> &'static str {
        match self {
            Kind::Text => "text in quotes",
            Kind::Whole => "a whole number (0 or more)",
            Kind::Number => "a number",
            Kind::Bool => "true or false",
            Kind::TextList => "an array of texts in quotes, like [\"a\", \"b\"]",
            Kind::WholeList => "an array of whole numbers, like [5, 1, 1]",
            Kind::Table => {
                "a table: write [config] (or [view], [model]) on its own line, then one key per \
                 line"
            }
            Kind::TableList => {
                "an array of tables: write [[notes]] (or [[hints]], [[variants]]) before each \
                 entry, then one key per line"
            }
            Kind::TextOrList => "text in quotes, or an array of texts like [\"a\", \"b\"]",
            Kind::Steps => {
                "step numbers, like [2, 3], or a range in quotes, like \"2-4\" or \"2-\" (2 to \
                 the end)"
            }
        }
    }
}

type Keys = &'static [(&'static str, Kind)];

const TOP: Keys = &[
    ("format_version", Kind::Whole),
    ("title", Kind::Text),
    ("summary", Kind::Text),
    ("covers", Kind::Text),
    ("welcome", Kind::Text),
    ("closing", Kind::Text),
    ("head", Kind::Whole),
    ("batch_index", Kind::Whole),
    ("stages", Kind::TextList),
    ("bug", Kind::Text),
    ("quiz", Kind::TextList),
    ("premise", Kind::TextOrList),
    ("view", Kind::Table),
    ("config", Kind::Table),
    ("model", Kind::Table),
    ("variants", Kind::TableList),
    ("notes", Kind::TableList),
    ("hints", Kind::TableList),
];
const REQUIRED: &[&str] = &["format_version", "title", "summary"];
const NOTE: Keys = &[
    ("stage", Kind::Text),
    ("step", Kind::Whole),
    ("steps", Kind::Steps),
    ("when", Kind::TextOrList),
    ("variant", Kind::TextOrList),
    ("prose", Kind::Text),
    ("text", Kind::Text),
];
const HINT: Keys = &[
    ("stage", Kind::Text),
    ("step", Kind::Whole),
    ("steps", Kind::Steps),
    ("when", Kind::TextOrList),
    ("variant", Kind::TextOrList),
    ("kind", Kind::Text),
    ("text", Kind::Text),
];
const VIEW: Keys = &[
    ("head", Kind::Whole),
    ("batch", Kind::Whole),
    ("max_rows", Kind::Whole),
    ("max_cols", Kind::Whole),
    ("precision", Kind::Whole),
];
const MODEL: Keys = &[
    ("weights", Kind::Text),
    ("text", Kind::Text),
    ("layer", Kind::Whole),
];
const VARIANT: Keys = &[
    ("name", Kind::Text),
    ("about", Kind::Text),
    ("premise", Kind::TextOrList),
    ("config", Kind::Table),
];

/// The kind of each configuration key's value.
fn config_kind(key: ConfigKey) -> Kind {
    match key {
        ConfigKey::Preset => Kind::Text,
        // One text for every batch row, or one per row.
        ConfigKey::Tokens => Kind::TextOrList,
        ConfigKey::Steps => Kind::WholeList,
        ConfigKey::AttentionMask => Kind::TextList,
        ConfigKey::QkNorm | ConfigKey::Causal => Kind::Bool,
        ConfigKey::RmsNormEps | ConfigKey::RopeTheta => Kind::Number,
        _ => Kind::Whole,
    }
}

/// Every name a `[config]` key may have, aliases included.
fn config_names() -> Vec<&'static str> {
    ConfigKey::ALL
        .iter()
        .flat_map(|k| std::iter::once(k.as_str()).chain(k.aliases().iter().copied()))
        .collect()
}

/// Where a `[config]` key sits in the file: for pointing at it when its value does not work.
#[derive(Clone, Debug, PartialEq)]
pub struct KeySite {
    /// The key as the file spells it (`num_heads` or `num_attention_heads`).
    pub written: String,
    pub key: Range<usize>,
    /// Each entry's span, for arrays (`steps`, `attention_mask`).
    pub items: Vec<Range<usize>>,
}

/// What the check found out on the way: where each `[config]` key and the table itself are,
/// and the same for each variant's `config`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sites {
    pub config: BTreeMap<ConfigKey, KeySite>,
    pub config_table: Option<Range<usize>>,
    /// For each `[[variants]]` entry in file order: its config keys and the entry's span.
    pub variants: Vec<(BTreeMap<ConfigKey, KeySite>, Range<usize>)>,
}

type Entry<'a, 'i> = (
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
);

/// A table's entries in file order.
fn entries<'a, 'i>(table: &'a DeTable<'i>) -> Vec<Entry<'a, 'i>> {
    let mut v: Vec<_> = table.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

/// Checks every key and value kind of a parsed lesson; returns where the config keys are.
pub fn check(src: &Source, root: &DeTable) -> Result<Sites, UsageError> {
    check_version(src, root)?;
    check_table(src, root, TOP, "")?;
    let mut sites = Sites::default();
    if let Some((k, v)) = root.iter().find(|(k, _)| k.get_ref() == "config")
        && let DeValue::Table(t) = v.get_ref()
    {
        sites.config_table = Some(k.span());
        sites.config = check_config(src, t)?;
    }
    if let Some((_, v)) = root.iter().find(|(k, _)| k.get_ref() == "view")
        && let DeValue::Table(t) = v.get_ref()
    {
        check_table(src, t, VIEW, "view")?;
    }
    if let Some((k, v)) = root.iter().find(|(k, _)| k.get_ref() == "model")
        && let DeValue::Table(t) = v.get_ref()
    {
        check_table(src, t, MODEL, "model")?;
        check_required(src, t, &["weights", "text"], k.span(), "model")?;
    }
    for (name, keys, required) in [
        ("notes", NOTE, &["stage", "text"][..]),
        ("hints", HINT, &["stage", "text"][..]),
        ("variants", VARIANT, &["name"][..]),
    ] {
        if let Some((_, v)) = root.iter().find(|(k, _)| k.get_ref() == name)
            && let DeValue::Array(items) = v.get_ref()
        {
            for item in items.iter() {
                if let DeValue::Table(t) = item.get_ref() {
                    check_table(src, t, keys, name)?;
                    check_required(src, t, required, item.span(), name)?;
                    if name == "variants" {
                        sites.variants.push((variant_config(src, t)?, item.span()));
                    }
                }
            }
        }
    }
    check_required(src, root, REQUIRED, 0..0, "")?;
    Ok(sites)
}

/// The `config` table of a `[[variants]]` entry: the same keys as `[config]`.
fn variant_config(
    src: &Source,
    entry: &DeTable,
) -> Result<BTreeMap<ConfigKey, KeySite>, UsageError> {
    match entry.iter().find(|(k, _)| k.get_ref() == "config") {
        Some((_, v)) => match v.get_ref() {
            DeValue::Table(t) => check_config(src, t),
            _ => Ok(BTreeMap::new()),
        },
        None => Ok(BTreeMap::new()),
    }
}

/// The version first: a lesson written for a newer format may use keys this build lacks.
fn check_version(src: &Source, root: &DeTable) -> Result<(), UsageError> {
    let Some((_, v)) = root.iter().find(|(k, _)| k.get_ref() == "format_version") else {
        return Ok(());
    };
    let Some(i) = v.get_ref().as_integer() else {
        return Ok(());
    };
    if i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) == Ok(FORMAT_VERSION) {
        return Ok(());
    }
    Err(src.err(
        Some(v.span()),
        format!(
            "format_version {} is not one this attnstep reads; use format_version = \
             {FORMAT_VERSION} (or a newer attnstep)",
            i.as_str()
        ),
    ))
}

/// Unknown keys (with a suggestion) and value kinds of one table.
fn check_table(src: &Source, table: &DeTable, known: Keys, name: &str) -> Result<(), UsageError> {
    let names: Vec<&str> = known.iter().map(|(k, _)| *k).collect();
    for (k, v) in entries(table) {
        let key = k.get_ref().as_ref();
        match known.iter().find(|(n, _)| *n == key) {
            Some((_, kind)) => check_kind(src, key, v, *kind)?,
            None => return Err(unknown_key(src, k, &names, name)),
        }
    }
    Ok(())
}

fn unknown_key(
    src: &Source,
    k: &Spanned<std::borrow::Cow<'_, str>>,
    known: &[&str],
    table: &str,
) -> UsageError {
    let key = k.get_ref().as_ref();
    let hint = if let Some(n) = nearest(key, known) {
        format!(", did you mean \"{n}\"?")
    } else if table.is_empty() && ConfigKey::from_name(key).is_some() {
        " at the top level: configuration keys go in the [config] table".to_owned()
    } else if table == "config" && TOP.iter().any(|(n, _)| *n == key) {
        " in [config]: it belongs at the top of the file, before [config]".to_owned()
    } else {
        let place = if table.is_empty() {
            String::new()
        } else {
            format!(" in [{table}]")
        };
        format!("{place}; the keys here are: {}", known.join(", "))
    };
    src.err(Some(k.span()), format!("unknown key {}{hint}", quoted(key)))
}

/// Checks `[config]`: known keys, no key given twice under two names, value kinds.
fn check_config(src: &Source, table: &DeTable) -> Result<BTreeMap<ConfigKey, KeySite>, UsageError> {
    let names = config_names();
    let mut sites: BTreeMap<ConfigKey, KeySite> = BTreeMap::new();
    for (k, v) in entries(table) {
        let written = k.get_ref().as_ref();
        let Some(key) = ConfigKey::from_name(written) else {
            return Err(unknown_key(src, k, &names, "config"));
        };
        if let Some(first) = sites.get(&key) {
            return Err(src.err(
                Some(k.span()),
                format!(
                    "\"{written}\" sets {key} again: \"{}\" at {} already set it ({} is another \
                     name for {key}); keep one of the two",
                    first.written,
                    src.at(first.key.start),
                    key.aliases().first().unwrap_or(&written)
                ),
            ));
        }
        check_kind(src, written, v, config_kind(key))?;
        let items = match v.get_ref() {
            DeValue::Array(a) => a.iter().map(|x| x.span()).collect(),
            _ => Vec::new(),
        };
        sites.insert(
            key,
            KeySite {
                written: written.to_owned(),
                key: k.span(),
                items,
            },
        );
    }
    Ok(sites)
}

/// What a value is, in a lesson author's words.
fn found(v: &DeValue) -> String {
    match v {
        DeValue::String(s) => format!("the text {}", quoted(s)),
        DeValue::Integer(i) => format!("the number {}", i.as_str()),
        DeValue::Float(f) => format!("the number {}", f.as_str()),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(_) => "a date".to_owned(),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// Checks one value's kind (and each entry's, for arrays).
fn check_kind(src: &Source, key: &str, v: &Spanned<DeValue>, kind: Kind) -> Result<(), UsageError> {
    let fits = |val: &DeValue, kind: Kind| match (val, kind) {
        (DeValue::String(_), Kind::Text) => true,
        (DeValue::Integer(i), Kind::Whole) => !i.as_str().starts_with('-'),
        (DeValue::Integer(_) | DeValue::Float(_), Kind::Number) => true,
        (DeValue::Boolean(_), Kind::Bool) => true,
        (DeValue::Table(_), Kind::Table) => true,
        _ => false,
    };
    let item_kind = match kind {
        Kind::TextList | Kind::TextOrList => Some(Kind::Text),
        Kind::WholeList | Kind::Steps => Some(Kind::Whole),
        Kind::TableList => Some(Kind::Table),
        _ => None,
    };
    // The one-value forms of the flexible kinds.
    match (kind, v.get_ref()) {
        (Kind::TextOrList | Kind::Steps, DeValue::String(_)) => return Ok(()),
        (Kind::TextOrList | Kind::Steps, DeValue::Array(_)) => {}
        (Kind::TextOrList | Kind::Steps, val) => {
            return Err(src.err(
                Some(v.span()),
                format!("{key} must be {}, but it is {}", kind.wanted(), found(val)),
            ));
        }
        _ => {}
    }
    match (v.get_ref(), item_kind) {
        (DeValue::Array(items), Some(each)) => {
            for (i, item) in items.iter().enumerate() {
                if !fits(item.get_ref(), each) {
                    return Err(src.err(
                        Some(item.span()),
                        format!(
                            "{key} must be {}, but entry {} is {}",
                            kind.wanted(),
                            i + 1,
                            found(item.get_ref())
                        ),
                    ));
                }
            }
            Ok(())
        }
        (val, None) if fits(val, kind) => Ok(()),
        (val, _) => Err(src.err(
            Some(v.span()),
            format!("{key} must be {}, but it is {}", kind.wanted(), found(val)),
        )),
    }
}

/// Checks a table has its required keys; a missing one is reported at `span` (the table's
/// header: `[[notes]]` of that very entry).
fn check_required(
    src: &Source,
    table: &DeTable,
    required: &[&str],
    span: Range<usize>,
    name: &str,
) -> Result<(), UsageError> {
    for key in required {
        if !table.iter().any(|(k, _)| k.get_ref() == key) {
            let msg = if name.is_empty() {
                format!(
                    "missing key \"{key}\": every lesson starts with format_version = \
                     {FORMAT_VERSION}, title = \"…\" and summary = \"…\""
                )
            } else if name == "model" {
                format!(
                    "[model] is missing key \"{key}\"; a model needs weights = \"tiny\" (the \
                     bundled trained model, or a checkpoint directory relative to this file) and \
                     text = \"…\" (what to run through it)"
                )
            } else if name == "variants" {
                "this [[variants]] entry is missing key \"name\"; each variant needs \
                 name = \"…\" (used by --variant and the v key)"
                    .to_owned()
            } else {
                format!(
                    "this [[{name}]] entry is missing key \"{key}\"; each entry needs \
                     stage = \"…\" and text = \"…\""
                )
            };
            return Err(src.err(Some(span), msg));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSpec;

    #[test]
    fn config_kinds_cover_every_config_spec_field() {
        // Every field ConfigSpec serialises is a config key (the lesson's [config] is the
        // same vocabulary as ConfigSpec).
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
        fields.sort_unstable();
        let mut keys: Vec<&str> = ConfigKey::ALL.iter().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(fields, keys);
        for key in ConfigKey::ALL {
            assert!(full.sets(key));
        }
    }
}
