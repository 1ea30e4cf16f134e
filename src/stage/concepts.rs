//! Questions beyond shapes, generated from the run so their answers are always right: which KV
//! head a query head reads, which keys a query may attend to, what weight a masked key gets,
//! the scale, which dimension softmax runs over, how long the cache is after a call.
//!
//! Each question belongs to the stage whose table shows its answer; lessons choose the kinds
//! they ask by name.

use super::facts::Facts;
use super::id::{StageId, TensorId};
use crate::numeric::Tensor;
use crate::trace::Trace;

/// The kinds of concept question, by the name a lesson uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    KvHead,
    VisibleKeys,
    MaskedWeight,
    Scale,
    SoftmaxDim,
    CacheLen,
}

impl Kind {
    pub const ALL: [(&'static str, Kind); 6] = [
        ("kv_head", Kind::KvHead),
        ("visible_keys", Kind::VisibleKeys),
        ("masked_weight", Kind::MaskedWeight),
        ("scale", Kind::Scale),
        ("softmax_dim", Kind::SoftmaxDim),
        ("cache_len", Kind::CacheLen),
    ];

    pub fn name(self) -> &'static str {
        Kind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("", |(n, _)| n)
    }

    pub fn parse(name: &str) -> Option<Kind> {
        let key = name.trim().to_ascii_lowercase().replace('-', "_");
        Kind::ALL.iter().find(|(n, _)| *n == key).map(|(_, k)| *k)
    }

    /// Whether the answer changes from one call to the next (asked at every call), rather than
    /// staying the same for the whole run (asked once).
    pub fn per_step(self) -> bool {
        matches!(
            self,
            Kind::VisibleKeys | Kind::MaskedWeight | Kind::CacheLen
        )
    }

    /// The stage at which the question is asked (its table holds the answer).
    pub fn stage(self) -> StageId {
        match self {
            Kind::KvHead => StageId::RepeatKv,
            Kind::VisibleKeys | Kind::MaskedWeight | Kind::SoftmaxDim => StageId::Softmax,
            Kind::Scale => StageId::Scores,
            Kind::CacheLen => StageId::KvCache,
        }
    }
}

/// What counts as a right answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// A whole number.
    Count(usize),
    /// A number, within a tolerance.
    Number { value: f64, tol: f64 },
    /// A set of positions, typed as a list (`0 1 2`, `0,1,2`) or a range (`0-2`, `0..2`, `0…2`).
    Positions(Vec<usize>),
    /// One of a few accepted words.
    Words(&'static [&'static str]),
}

/// One concept question with its answer and the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct Concept {
    pub kind: Kind,
    pub step: usize,
    pub prompt: String,
    pub answer: Answer,
    /// Why the answer is what it is, shown after the learner answers.
    pub why: String,
}

impl Concept {
    /// Whether `input` answers the question.
    pub fn check(&self, input: &str) -> bool {
        let input = input.trim().to_ascii_lowercase();
        match &self.answer {
            Answer::Count(n) => input.parse::<usize>().ok() == Some(*n),
            Answer::Number { value, tol } => {
                number(&input).is_some_and(|x| (x - value).abs() <= *tol)
            }
            Answer::Positions(want) => positions(&input).as_ref() == Some(want),
            Answer::Words(words) => words.iter().any(|w| input == *w),
        }
    }

    /// The answer as text.
    pub fn answer_text(&self) -> String {
        match &self.answer {
            Answer::Count(n) => n.to_string(),
            Answer::Number { value, .. } => format!("{value:.3}"),
            Answer::Positions(p) => span_text(p),
            Answer::Words(w) => w[0].to_string(),
        }
    }
}

fn number(s: &str) -> Option<f64> {
    if let Some(r) = s.strip_prefix("1/") {
        return r
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|d| *d != 0.0)
            .map(|d| 1.0 / d);
    }
    s.parse().ok()
}

/// Parses `0 1 2`, `0,1,2`, `0-2`, `0..2`, `0…2` (ranges inclusive), or `none`.
pub fn positions(s: &str) -> Option<Vec<usize>> {
    if s == "none" || s == "-" {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for part in s.split([',', ' ']).filter(|p| !p.is_empty()) {
        let range = ["..", "…", "-"].iter().find_map(|sep| part.split_once(sep));
        match range {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 100_000 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// `0…4`, `0…2, 5`, or `none`.
pub fn span_text(p: &[usize]) -> String {
    if p.is_empty() {
        return "none".into();
    }
    let mut parts = Vec::new();
    let mut start = p[0];
    for w in 0..p.len() {
        if w + 1 == p.len() || p[w + 1] != p[w] + 1 {
            parts.push(if start == p[w] {
                start.to_string()
            } else {
                format!("{start}…{}", p[w])
            });
            if w + 1 < p.len() {
                start = p[w + 1];
            }
        }
    }
    parts.join(", ")
}

/// The question of `kind` for step `step` with the view's head and batch row, if this run can
/// ask it (no masked-weight question without a mask, no KV-head question without sharing).
pub fn question(
    trace: &Trace<Tensor>,
    step: usize,
    head: usize,
    batch: usize,
    kind: Kind,
) -> Option<Concept> {
    let f = Facts::of(trace, step, head, batch);
    let make = |prompt: String, answer: Answer, why: String| Concept {
        kind,
        step,
        prompt,
        answer,
        why,
    };
    match kind {
        Kind::KvHead => (f.n_rep > 1).then(|| {
            let h = f.n_heads - 1 - f.head.min(f.n_heads - 1) % f.n_rep;
            make(
                format!("Which KV head does query head {h} read? (0-based)"),
                Answer::Count(h / f.n_rep),
                format!(
                    "repeat_kv repeats each KV head n_rep = {} times in a row, so query head {h} \
                     reads KV head {h} / {} = {}.",
                    f.n_rep,
                    f.n_rep,
                    h / f.n_rep
                ),
            )
        }),
        Kind::VisibleKeys => {
            let w = trace.steps[step].tensor(TensorId::Weights)?;
            let sm = trace.steps[step].tensor(TensorId::ScoresMasked)?;
            let i = f.seq_len - 1;
            let q = f.past_len + i;
            let seen: Vec<usize> = (0..f.kv_len)
                .filter(|&j| {
                    sm.data[[f.batch, f.head, i, j]] > -1e8
                        && w.data[[f.batch, f.head, i, j]].is_finite()
                })
                .collect();
            Some(make(
                format!(
                    "Which key positions may the query at position {q} (batch row {}) attend to? \
                     (e.g. 0-3 or 0 2 5)",
                    f.batch
                ),
                Answer::Positions(seen.clone()),
                visible_why(&f, q, &seen),
            ))
        }
        Kind::MaskedWeight => masked_weight(trace, &f).map(|(p, a, w)| make(p, a, w)),
        Kind::Scale => Some(make(
            format!(
                "The scores are divided by what number for head_dim = {}? (3 decimals)",
                f.head_dim
            ),
            Answer::Number {
                value: (f.head_dim as f64).sqrt(),
                tol: 5e-3,
            },
            format!(
                "√head_dim = √{} = {:.3}: a dot product of head_dim numbers grows like √head_dim, \
                 and dividing undoes that so softmax does not saturate.",
                f.head_dim,
                (f.head_dim as f64).sqrt()
            ),
        )),
        Kind::SoftmaxDim => Some(make(
            "Softmax runs over which dim of scores [bsz, n_heads, seq_len, kv_len]? (a number, \
             or `keys`/`queries`)"
                .into(),
            Answer::Words(&["-1", "3", "keys", "kv_len", "dim=-1"]),
            "dim=-1, the keys: each query's row becomes a distribution over the keys it may read, \
             which is why every row sums to 1."
                .into(),
        )),
        Kind::CacheLen => Some(make(
            format!(
                "How many tokens does the KV cache hold after this call ({} new)?",
                f.seq_len
            ),
            Answer::Count(f.kv_len),
            format!(
                "past_len + seq_len = {} + {} = {}: torch.cat appends the new keys and values to \
                 the cached ones.",
                f.past_len, f.seq_len, f.kv_len
            ),
        )),
    }
}

fn visible_why(f: &Facts, q: usize, seen: &[usize]) -> String {
    let mut why = if f.cfg.causal {
        format!("The causal mask lets position {q} see keys 0…{q}")
    } else {
        format!(
            "Without a causal mask position {q} sees all {} keys",
            f.kv_len
        )
    };
    if f.cfg.attention_mask.is_some() {
        why.push_str("; the padding mask removes the padded ones");
    }
    why.push_str(&format!(": {}.", span_text(seen)));
    why
}

/// What weight a masked key gets: exactly 0 behind -∞, about 0 behind -1e9 when the query also
/// sees a real key, and 1/n for a query whose n visible keys are all padding (every score rounds
/// to −1e9 in float32).
fn masked_weight(trace: &Trace<Tensor>, f: &Facts) -> Option<(String, Answer, String)> {
    let w = trace.steps[f.step].tensor(TensorId::Weights)?;
    let sm = trace.steps[f.step].tensor(TensorId::ScoresMasked)?;
    let (b, h) = (f.batch, f.head);
    for i in 0..f.seq_len {
        let q = f.past_len + i;
        let row: Vec<f32> = (0..f.kv_len).map(|j| sm.data[[b, h, i, j]]).collect();
        let finite = row.iter().filter(|v| v.is_finite()).count();
        let even = (0..f.kv_len)
            .filter(|&j| row[j].is_finite())
            .all(|j| (f64::from(w.data[[b, h, i, j]]) - 1.0 / finite as f64).abs() < 1e-6);
        // Asked only when the spread is even: −1e9 + s rounds to −1e9 in float32 for |s| < 32,
        // but larger scores would survive the rounding and tilt it.
        if finite > 0 && even && row.iter().filter(|v| v.is_finite()).all(|v| *v <= -1e8) {
            return Some((
                format!(
                    "Batch row {b}: every key the query at position {q} may see is padding. What \
                     weight does each of those {finite} padded keys get?"
                ),
                Answer::Number {
                    value: 1.0 / finite as f64,
                    tol: 1e-3,
                },
                format!(
                    "All {finite} visible scores are −1e9 plus a score: in float32 that rounds \
                     to −1e9 itself when the score is smaller than 32 in size, as here, so \
                     softmax spreads the weight evenly: 1/{finite} each (with −∞ instead it \
                     would be 0/0 = NaN)."
                ),
            ));
        }
    }
    for i in 0..f.seq_len {
        // A padded key gets about 0 only from a query that also sees a real key.
        let sees_real = (0..f.kv_len).any(|j| sm.data[[b, h, i, j]] > -1e8);
        for j in 0..f.kv_len {
            let s = sm.data[[b, h, i, j]];
            if s == f32::NEG_INFINITY || (s <= -1e8 && sees_real) {
                let wv = w.data[[b, h, i, j]];
                let how = if s.is_infinite() {
                    "−∞ (causal mask): e^−∞ is exactly 0"
                } else {
                    "about −1e9 (padding): e^(−1e9 − max) underflows to 0 in float32"
                };
                return Some((
                    format!(
                        "What weight does key {j} get from the query at position {} (batch row {b})?",
                        f.past_len + i
                    ),
                    Answer::Number {
                        value: f64::from(wv),
                        tol: 1e-6,
                    },
                    format!("Its score is {how}, so its weight is {wv}."),
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSpec;
    use crate::numeric::Numeric;

    fn run(spec: ConfigSpec) -> Trace<Tensor> {
        let cfg = spec.resolve().unwrap();
        crate::forward::trace(&cfg, &mut Numeric::new(cfg.seed))
    }

    #[test]
    fn answers_parse_in_the_forms_people_type() {
        assert_eq!(positions("0-3"), Some(vec![0, 1, 2, 3]));
        assert_eq!(positions("0..2, 5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(positions("3 1 2"), Some(vec![1, 2, 3]));
        assert_eq!(positions("none"), Some(vec![]));
        assert_eq!(positions("x"), None);
        assert_eq!(span_text(&[0, 1, 2, 5]), "0…2, 5");
    }

    #[test]
    fn questions_follow_the_run() {
        // 6 query heads over 2 KV heads; left padding on row 0; a prefill of 4 then a decode.
        let t = run(ConfigSpec {
            hidden_size: Some(24),
            num_attention_heads: Some(6),
            num_key_value_heads: Some(2),
            batch: Some(2),
            steps: Some(vec![4, 1]),
            attention_mask: Some(vec!["00111".into(), "11111".into()]),
            ..Default::default()
        });
        let kv = question(&t, 0, 4, 0, Kind::KvHead).unwrap();
        // The head asked about is in the last group, whatever head is selected.
        assert!(kv.check("1"), "{kv:?}");
        let vis = question(&t, 1, 0, 0, Kind::VisibleKeys).unwrap();
        assert!(vis.prompt.contains("position 4"));
        assert!(vis.check("2-4") && !vis.check("0-4"), "{vis:?}");
        let vis1 = question(&t, 1, 0, 1, Kind::VisibleKeys).unwrap();
        assert!(vis1.check("0..4"));
        // Row 0's first query sees only key 0, which is padding: an even spread over 1 key.
        let mw = question(&t, 0, 0, 0, Kind::MaskedWeight).unwrap();
        assert!(mw.check("1") && mw.check("1/1"), "{mw:?}");
        let scale = question(&t, 0, 0, 0, Kind::Scale).unwrap();
        assert!(scale.check("2") && scale.check("2.000") && !scale.check("4"));
        assert!(question(&t, 1, 0, 0, Kind::CacheLen).unwrap().check("5"));
        assert!(question(&t, 0, 0, 0, Kind::SoftmaxDim).unwrap().check("-1"));
    }

    #[test]
    fn causal_masked_weights_are_exactly_zero() {
        let t = run(ConfigSpec {
            steps: Some(vec![3]),
            ..Default::default()
        });
        let q = question(&t, 0, 0, 0, Kind::MaskedWeight).unwrap();
        assert_eq!(
            q.answer,
            Answer::Number {
                value: 0.0,
                tol: 1e-6
            }
        );
        assert!(q.why.contains("exactly 0"));
        // MHA has nothing to ask about sharing.
        let mha = run(ConfigSpec {
            num_attention_heads: Some(2),
            num_key_value_heads: Some(2),
            ..Default::default()
        });
        assert_eq!(question(&mha, 0, 0, 0, Kind::KvHead), None);
    }
}
