//! Lesson text computed from the run: `{placeholders}` filled from the [`Facts`] of the step and
//! view being shown, and conditions that say when a note applies. `lessons check` validates
//! both before anything runs, so a misspelt name is a located error, not a wrong sentence.
//!
//! Placeholders: `{bsz}`, `{seq_len}`, `{past_len}`, `{kv_len}`, `{hidden}`, `{n_heads}`,
//! `{n_kv_heads}`, `{n_rep}`, `{head_dim}`, `{head}`, `{kv_head}` (the KV head the selected
//! query head reads), `{batch}`, `{step}` (1-based), `{steps}`, `{first_pos}`, `{last_pos}`,
//! `{scale}` (√head_dim to 3 decimals), `{theta}`, `{q_features}` (n_heads·head_dim),
//! `{kv_features}`, `{head_first}`/`{head_last}` (the selected head's features in xq_proj),
//! `{token:N}` (the label of position N), `{shape:NAME}` (a tensor's shape in this step). `{{`
//! and `}}` write braces.

use std::fmt::Write;

use super::{Facts, TensorId};
use crate::trace::{StepKind, Trace};

/// Every plain placeholder name.
pub const NAMES: [&str; 20] = [
    "bsz",
    "seq_len",
    "past_len",
    "kv_len",
    "hidden",
    "n_heads",
    "n_kv_heads",
    "n_rep",
    "head_dim",
    "head",
    "kv_head",
    "batch",
    "step",
    "steps",
    "first_pos",
    "last_pos",
    "scale",
    "theta",
    "q_features",
    "kv_features",
];

const MORE: [&str; 2] = ["head_first", "head_last"];

/// What is wrong with a template, at a byte offset into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

/// One piece of a parsed template.
#[derive(Clone, Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Value(&'a str),
    Token(usize),
    Shape(TensorId),
}

fn parse(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(i) = rest.find(['{', '}']) {
        out.push(Piece::Text(&rest[..i]));
        let brace = &rest[i..i + 1];
        if rest[i + 1..].starts_with(brace) {
            out.push(Piece::Text(brace));
            offset += i + 2;
            rest = &rest[i + 2..];
            continue;
        }
        if brace == "}" {
            return Err(TemplateError {
                offset: offset + i,
                message: "a `}` without its `{` (write `}}` for a brace)".into(),
            });
        }
        let Some(len) = rest[i + 1..].find('}') else {
            return Err(TemplateError {
                offset: offset + i,
                message: "a `{` that is never closed (write `{{` for a brace)".into(),
            });
        };
        let name = rest[i + 1..i + 1 + len].trim();
        out.push(piece(name).map_err(|message| TemplateError {
            offset: offset + i,
            message,
        })?);
        offset += i + len + 2;
        rest = &rest[i + len + 2..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

fn piece(name: &str) -> Result<Piece<'_>, String> {
    if let Some(n) = name.strip_prefix("token:") {
        return n
            .trim()
            .parse()
            .map(Piece::Token)
            .map_err(|_| format!("`{{token:{n}}}` needs a position number, like {{token:0}}"));
    }
    if let Some(t) = name.strip_prefix("shape:") {
        let t = t.trim();
        return TensorId::parse(t).map(Piece::Shape).ok_or_else(|| {
            let names: Vec<&str> = TensorId::ALL.iter().map(|t| t.name()).collect();
            unknown("tensor", t, &names)
        });
    }
    if NAMES.contains(&name) || MORE.contains(&name) {
        return Ok(Piece::Value(name));
    }
    let all: Vec<&str> = NAMES.iter().chain(&MORE).copied().collect();
    Err(unknown("placeholder", name, &all))
}

fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    let best = known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .min()
        .filter(|(d, _)| *d <= 3);
    match best {
        Some((_, k)) => format!("unknown {what} `{name}`, did you mean `{k}`?"),
        None => format!("unknown {what} `{name}`; known: {}", known.join(", ")),
    }
}

/// Checks a template without running anything: every placeholder must exist.
pub fn validate(text: &str) -> Result<(), TemplateError> {
    parse(text).map(|_| ())
}

/// The highest position a `{token:N}` of the template names, to check against a lesson's tokens.
pub fn max_token(text: &str) -> Option<usize> {
    parse(text)
        .ok()?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Token(n) => Some(n),
            _ => None,
        })
        .max()
}

/// Fills the template from the facts of the step being shown (a template that does not
/// validate is returned as written).
pub fn fill<T: crate::backend::HasShape>(text: &str, f: &Facts, trace: &Trace<T>) -> String {
    let Ok(pieces) = parse(text) else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Value(name) => out.push_str(&value(name, f)),
            Piece::Token(n) => out.push_str(&token(f, n)),
            Piece::Shape(id) => match trace.steps[f.step].tensor(id) {
                Some(t) => {
                    let _ = write!(out, "{}", t.shape());
                }
                None => {
                    let _ = write!(out, "({id} is not in this step)");
                }
            },
        }
    }
    out
}

fn token(f: &Facts, n: usize) -> String {
    match &f.cfg.tokens {
        Some(t) if n < t.len() => crate::text::printable_line(&t[n]).into_owned(),
        _ => format!("position {n}"),
    }
}

fn value(name: &str, f: &Facts) -> String {
    let n = match name {
        "bsz" => f.bsz,
        "seq_len" => f.seq_len,
        "past_len" => f.past_len,
        "kv_len" => f.kv_len,
        "hidden" => f.hidden,
        "n_heads" => f.n_heads,
        "n_kv_heads" => f.n_kv_heads,
        "n_rep" => f.n_rep,
        "head_dim" => f.head_dim,
        "head" => f.head,
        "kv_head" => f.kv_head,
        "batch" => f.batch,
        "step" => f.step + 1,
        "steps" => f.steps,
        "first_pos" => f.past_len,
        "last_pos" => f.kv_len - 1,
        "q_features" => f.n_heads * f.head_dim,
        "kv_features" => f.n_kv_heads * f.head_dim,
        "head_first" => f.head * f.head_dim,
        "head_last" => (f.head + 1) * f.head_dim - 1,
        "scale" => return format!("{:.3}", (f.head_dim as f64).sqrt()),
        "theta" => return f.cfg.rope_theta.to_string(),
        _ => unreachable!("validated placeholder {name}"),
    };
    n.to_string()
}

/// When a note or hint applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Grouped-query attention: 1 < n_kv_heads < n_heads.
    Gqa,
    /// Multi-head attention: n_kv_heads = n_heads.
    Mha,
    /// Multi-query attention: one KV head (and more than one query head).
    Mqa,
    /// Any sharing of KV heads (n_rep > 1).
    Shared,
    Padding,
    NoPadding,
    Prefill,
    Decode,
    Chunk,
    /// Something is already in the cache (past_len > 0).
    Cached,
    Causal,
    NoCausal,
    QkNorm,
    NoQkNorm,
    /// More than one new token in this call.
    ManyTokens,
}

impl Condition {
    pub const ALL: [(&'static str, Condition); 15] = [
        ("gqa", Condition::Gqa),
        ("mha", Condition::Mha),
        ("mqa", Condition::Mqa),
        ("shared_kv", Condition::Shared),
        ("padding", Condition::Padding),
        ("no_padding", Condition::NoPadding),
        ("prefill", Condition::Prefill),
        ("decode", Condition::Decode),
        ("chunk", Condition::Chunk),
        ("cached", Condition::Cached),
        ("causal", Condition::Causal),
        ("no_causal", Condition::NoCausal),
        ("qk_norm", Condition::QkNorm),
        ("no_qk_norm", Condition::NoQkNorm),
        ("many_tokens", Condition::ManyTokens),
    ];

    /// The condition with this name, or a message with the nearest name.
    pub fn parse(name: &str) -> Result<Condition, String> {
        let key = name.trim().to_ascii_lowercase().replace('-', "_");
        Condition::ALL
            .iter()
            .find(|(n, _)| *n == key)
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                let names: Vec<&str> = Condition::ALL.iter().map(|(n, _)| *n).collect();
                unknown("condition", name, &names)
            })
    }

    /// Whether the condition holds for the step and view in `f`.
    pub fn holds(self, f: &Facts) -> bool {
        let padded = f
            .cfg
            .attention_mask
            .as_ref()
            .is_some_and(|rows| rows.iter().any(|r| r[..f.kv_len.min(r.len())].contains(&0)));
        match self {
            Condition::Gqa => f.n_kv_heads > 1 && f.n_kv_heads < f.n_heads,
            Condition::Mha => f.n_kv_heads == f.n_heads,
            Condition::Mqa => f.n_kv_heads == 1 && f.n_heads > 1,
            Condition::Shared => f.n_rep > 1,
            Condition::Padding => padded,
            Condition::NoPadding => !padded,
            Condition::Prefill => f.kind == StepKind::Prefill,
            Condition::Decode => f.kind == StepKind::Decode,
            Condition::Chunk => f.kind == StepKind::Chunk,
            Condition::Cached => f.past_len > 0,
            Condition::Causal => f.cfg.causal,
            Condition::NoCausal => !f.cfg.causal,
            Condition::QkNorm => f.cfg.qk_norm,
            Condition::NoQkNorm => !f.cfg.qk_norm,
            Condition::ManyTokens => f.seq_len > 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Shapes;
    use crate::config::ConfigSpec;

    fn trace(spec: ConfigSpec) -> Trace<crate::dims::Shape> {
        crate::forward::trace(&spec.resolve().unwrap(), &mut Shapes)
    }

    #[test]
    fn placeholders_follow_the_step_and_view() {
        let t = trace(ConfigSpec {
            hidden_size: Some(24),
            num_attention_heads: Some(6),
            num_key_value_heads: Some(2),
            steps: Some(vec![2, 5, 1]),
            tokens: Some("a b c d e f g h".into()),
            ..Default::default()
        });
        // Step 2 (index 1) is a chunk at positions 2…6; head 4 reads KV head 4 / 3 = 1.
        let f = Facts::of(&t, 1, 4, 0);
        let text = "past {past_len}, seq {seq_len}, kv {kv_len}, head {head} reads {kv_head} \
                    (n_rep {n_rep}), {token:3}, {shape:scores}, {{literal}}";
        assert_eq!(
            fill(text, &f, &t),
            "past 2, seq 5, kv 7, head 4 reads 1 (n_rep 3), d, \
             [bsz=1, n_heads=6, seq_len=5, kv_len=7], {literal}"
        );
        assert_eq!(fill("{head_first}…{head_last}", &f, &t), "16…19");
    }

    #[test]
    fn unknown_names_are_located_with_a_suggestion() {
        let e = validate("ok {kv_lne} rest").unwrap_err();
        assert_eq!(e.offset, 3);
        assert!(e.message.contains("did you mean `kv_len`"), "{}", e.message);
        assert!(
            validate("{shape:scroes}")
                .unwrap_err()
                .message
                .contains("`scores`")
        );
        assert!(validate("open { never").is_err());
        assert!(validate("stray } brace").is_err());
        assert!(validate("{token:x}").is_err());
        assert_eq!(max_token("{token:2} and {token:9}"), Some(9));
        assert!(Condition::parse("gqa").is_ok());
        assert!(Condition::parse("gqq").unwrap_err().contains("`gqa`"));
    }

    #[test]
    fn conditions_read_the_configuration_and_step() {
        let t = trace(ConfigSpec {
            num_attention_heads: Some(4),
            num_key_value_heads: Some(1),
            steps: Some(vec![3, 1]),
            attention_mask: Some(vec!["0111".into()]),
            ..Default::default()
        });
        let prefill = Facts::of(&t, 0, 0, 0);
        let decode = Facts::of(&t, 1, 0, 0);
        assert!(Condition::Mqa.holds(&prefill) && !Condition::Gqa.holds(&prefill));
        assert!(Condition::Padding.holds(&prefill));
        assert!(Condition::Prefill.holds(&prefill) && !Condition::Cached.holds(&prefill));
        assert!(Condition::Decode.holds(&decode) && Condition::Cached.holds(&decode));
        assert!(!Condition::ManyTokens.holds(&decode));
    }
}
