//! What the heads of the run shown attend to, as numbers lesson text can quote: the weight a
//! head puts on the previous token, on the first token, and on the induction target, averaged
//! over the queries of the call shown, and which head of the layer does each most.
//!
//! A query at absolute position `p` (of the call shown, batch row shown) counts for:
//! - the previous token when `p ≥ 1`: its weight on key `p - 1`;
//! - the first token when `p ≥ 1`: its weight on key 0 (query 0 can only look at itself);
//! - induction when its token appeared before at a position `j < p - 1`, the latest such: its
//!   weight on key `j + 1`, the token that followed the earlier occurrence. Tokens are the
//!   checkpoint's ids, or else the positions' labels.
//!
//! The uniform baseline of a query is `1 / (p + 1)`: the weight each key gets when a causal head
//! spreads evenly over the keys it sees. `uniform` averages it over the queries after the first
//! (those the previous- and first-token means count), `induction_uniform` over the queries with
//! an induction target, `target_uniform` for the last of those alone. `induction_count` is how
//! many queries have a target, and `target_weight` the selected head's weight from the last of
//! them (`induction_query`) on its target (`induction_target`). A shape-only run has no numbers, and a call with no
//! query of a kind has no mean; the placeholder then reads `(undefined)`.
//!
//! [`found`] says whether the layer's best head for a pattern clears the bar a lesson needs
//! before it calls that head a previous-token, first-token or induction head ([`clears`]); the
//! `*_head` conditions read it.

use crate::backend::HasShape;
use crate::stage::TensorId;
use crate::stage::facts::Facts;
use crate::trace::Trace;

/// The placeholder names computed here.
pub const NAMES: [&str; 18] = [
    "prev_weight",
    "first_weight",
    "induction_weight",
    "uniform",
    "induction_uniform",
    "induction_count",
    "target_weight",
    "target_uniform",
    "prev_head",
    "first_head",
    "induction_head",
    "prev_best",
    "first_best",
    "induction_best",
    "induction_query",
    "induction_target",
    "layer",
    "layers",
];

/// Which key of a query a mean is taken on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    Previous,
    First,
    Induction,
}

/// Whether placeholder `name` needs a token that repeats (an induction pair).
pub fn needs_repeat(name: &str) -> bool {
    name.starts_with("induction") || name.starts_with("target")
}

/// What identifies each position's token: the checkpoint's ids, else the labels.
fn identities(f: &Facts) -> Option<Vec<String>> {
    match (f.model, f.tokens) {
        (Some(m), _) => Some(m.token_ids.iter().map(u32::to_string).collect()),
        (None, Some(labels)) => Some(labels.to_vec()),
        (None, None) => None,
    }
}

/// The induction target of the query at absolute position `p` among `ids`: the position after
/// the latest earlier occurrence of its token, when that is not `p` itself.
pub fn induction_target_in<S: PartialEq>(ids: &[S], p: usize) -> Option<usize> {
    let here = ids.get(p)?;
    (0..p.saturating_sub(1))
        .rev()
        .find(|&j| ids[j] == *here)
        .map(|j| j + 1)
}

/// Whether some position of `labels` has an induction target.
pub fn has_induction(labels: &[String]) -> bool {
    (0..labels.len()).any(|p| induction_target_in(labels, p).is_some())
}

/// The key a query at absolute position `p` is measured on, if it counts for `pattern`.
fn key(pattern: Pattern, p: usize, ids: Option<&[String]>) -> Option<usize> {
    match pattern {
        Pattern::Previous => p.checked_sub(1),
        Pattern::First => (p >= 1).then_some(0),
        Pattern::Induction => induction_target_in(ids?, p),
    }
}

/// The absolute positions of the queries of the call shown.
fn queries(f: &Facts) -> std::ops::Range<usize> {
    f.past_len..f.past_len + f.seq_len
}

/// The mean weight `head` puts on each counting query's key in the call shown.
fn mean<T: HasShape>(trace: &Trace<T>, f: &Facts, head: usize, pattern: Pattern) -> Option<f64> {
    let weights = trace.steps.get(f.step)?.tensor(TensorId::Weights)?;
    let ids = identities(f);
    let (mut sum, mut n) = (0.0, 0usize);
    for p in queries(f) {
        if let Some(k) = key(pattern, p, ids.as_deref()) {
            sum += f64::from(weights.value_at(&[f.batch, head, p - f.past_len, k])?);
            n += 1;
        }
    }
    (n > 0).then(|| sum / n as f64)
}

/// The head of the layer with the highest mean for `pattern` (the lowest on a tie), and its mean.
fn best<T: HasShape>(trace: &Trace<T>, f: &Facts, pattern: Pattern) -> Option<(usize, f64)> {
    (0..f.n_heads)
        .filter_map(|h| mean(trace, f, h, pattern).map(|m| (h, m)))
        .fold(None, |acc, (h, m)| match acc {
            Some((_, top)) if top >= m => acc,
            _ => Some((h, m)),
        })
}

/// The mean of `1 / (p + 1)` over the queries `ps`: what each key would get from a head that
/// spreads its weight evenly over the keys it sees.
fn uniform(ps: impl Iterator<Item = usize>) -> Option<f64> {
    let each: Vec<f64> = ps.map(|p| 1.0 / (p + 1) as f64).collect();
    (!each.is_empty()).then(|| each.iter().sum::<f64>() / each.len() as f64)
}

/// What an even spread gives the key `pattern` measures, over the queries its means count:
/// `{uniform}` for the previous and first token, `{induction_uniform}` for the induction target.
fn even_spread(pattern: Pattern, f: &Facts) -> Option<f64> {
    match pattern {
        Pattern::Previous | Pattern::First => uniform(queries(f).filter(|&p| p >= 1)),
        Pattern::Induction => {
            let ids = identities(f)?;
            uniform(queries(f).filter(|&p| induction_target_in(&ids, p).is_some()))
        }
    }
}

/// The least mean weight a head must put on a pattern's key for a lesson to say the layer has a
/// head that does it: a sizeable share of everything the head has to give (the training
/// script, scripts/train_tiny.py, calls a head an attention sink from the same 0.3 of its
/// weight on `<bos>`). Without it, a long text, whose even spread is tiny, would count a head
/// that is merely a few hundredths above chance.
pub const FOUND_SHARE: f64 = 0.3;

/// How many times the even spread a head's mean must be, besides [`FOUND_SHARE`]. The induction
/// baseline averages `1 / (p + 1)` over late queries only (a repeat comes after what it
/// repeats), so it is small and a head that copies sits far above it; three times rules out a
/// head that hits a target or two by chance on a short repeat (on "anna slept . anna slept",
/// head 3 of `tiny`'s layer 0 rests its last two queries on ".", one of their two targets:
/// 0.5, 2.7 times the even spread). The previous- and first-token
/// baseline includes the first queries, where an even spread already gives 1/2, 1/3, 1/4, so
/// no head can be many times above it on a short text: a head that puts 0.52 on the previous
/// token of a 13-token sentence is 2.8 times the even spread. Twice is the bar there.
pub fn found_times(pattern: Pattern) -> f64 {
    match pattern {
        Pattern::Induction => 3.0,
        Pattern::Previous | Pattern::First => 2.0,
    }
}

/// Whether a mean weight of `mean` against an even spread of `even` clears the bar of `pattern`.
pub fn clears(pattern: Pattern, mean: f64, even: f64) -> bool {
    mean >= FOUND_SHARE && mean >= found_times(pattern) * even
}

/// Whether the head of the layer that does `pattern` most (`{prev_head}`, `{first_head}`,
/// `{induction_head}`) clears the bar in the call shown; `None` when the run has no numbers or
/// the call no query of that kind.
pub fn found<T: HasShape>(pattern: Pattern, f: &Facts, trace: &Trace<T>) -> Option<bool> {
    let (_, mean) = best(trace, f, pattern)?;
    Some(clears(pattern, mean, even_spread(pattern, f)?))
}

/// The last query of the call shown that has an induction target, and that target.
pub fn induction_pair(f: &Facts) -> Option<(usize, usize)> {
    let ids = identities(f)?;
    queries(f)
        .rev()
        .find_map(|p| induction_target_in(&ids, p).map(|t| (p, t)))
}

/// The value of placeholder `name` (one of [`NAMES`]), if the run gives one.
pub fn number<T: HasShape>(name: &str, f: &Facts, trace: &Trace<T>) -> Option<f64> {
    let pattern = match name.split('_').next() {
        Some("prev") => Pattern::Previous,
        Some("first") => Pattern::First,
        _ => Pattern::Induction,
    };
    match name {
        "layer" => Some(f.model.map_or(0, |m| m.layer) as f64),
        "layers" => Some(f.model.map_or(1, |m| m.layers) as f64),
        "induction_query" => induction_pair(f).map(|(q, _)| q as f64),
        "induction_target" => induction_pair(f).map(|(_, t)| t as f64),
        "uniform" => even_spread(Pattern::Previous, f),
        "induction_uniform" => even_spread(Pattern::Induction, f),
        "induction_count" => {
            let ids = identities(f)?;
            Some(
                queries(f)
                    .filter(|&p| induction_target_in(&ids, p).is_some())
                    .count() as f64,
            )
        }
        "target_weight" => {
            let (q, t) = induction_pair(f)?;
            let weights = trace.steps.get(f.step)?.tensor(TensorId::Weights)?;
            weights
                .value_at(&[f.batch, f.head, q - f.past_len, t])
                .map(f64::from)
        }
        "target_uniform" => induction_pair(f).map(|(q, _)| 1.0 / (q + 1) as f64),
        _ if name.ends_with("_weight") => mean(trace, f, f.head, pattern),
        _ if name.ends_with("_head") => best(trace, f, pattern).map(|(h, _)| h as f64),
        _ => best(trace, f, pattern).map(|(_, m)| m),
    }
}
