//! When a lesson's note or hint applies: a condition on the configuration, the call and the
//! selected batch row (`when = "gqa"`), so a lesson stays true when flags change its premise.

use super::facts::Facts;
use super::template::attention::{Pattern, found, induction_pair};
use crate::backend::HasShape;
use crate::trace::{StepKind, Trace};

/// When a note or hint applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Condition {
    /// Grouped-query attention: 1 < n_kv_heads < n_heads.
    Gqa,
    /// Multi-head attention: n_kv_heads = n_heads.
    Mha,
    /// Multi-query attention: one KV head (and more than one query head).
    Mqa,
    /// Any sharing of KV heads (n_rep > 1).
    Shared,
    /// More than one query head.
    ManyHeads,
    /// Some batch row has a padded key among those this call sees.
    Padding,
    NoPadding,
    /// The selected batch row has a padded key among those this call sees.
    RowPadded,
    /// The selected batch row starts with padding.
    LeftPadded,
    /// The selected batch row ends with padding after a real token (within this call's keys).
    RightPadded,
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
    /// One batch row. The inputs are drawn call by call, every row of a call before the next
    /// call, so only with one row does a token get the same input however the run is split.
    SingleRow,
    ManyRows,
    /// The positions carry the lesson's words (flags that change the length or the batch
    /// number them instead), so prose may quote the sentence.
    Labelled,
    Unlabelled,
    /// A checkpoint's first layer, which reads the token embeddings themselves.
    FirstLayer,
    /// A checkpoint's layer after the first, which reads what earlier layers wrote.
    LaterLayer,
    /// From the run's weights: the layer's head that puts the most on the previous token
    /// (`{prev_head}`) clears the bar of `template::attention::found` in the call shown, or
    /// does not. A run without numbers, or a call without such a query, has neither.
    PrevTokenHead,
    NoPrevTokenHead,
    /// The same for the first token (`{first_head}`).
    FirstTokenHead,
    NoFirstTokenHead,
    /// The same for the induction target (`{induction_head}`).
    InductionHead,
    NoInductionHead,
    /// Some query of the call shown has an induction target (its token appeared before, not
    /// just before it), so the induction placeholders have values.
    RepeatedToken,
    NoRepeatedToken,
}

impl Condition {
    pub const ALL: [(&'static str, Condition); 33] = [
        ("gqa", Condition::Gqa),
        ("mha", Condition::Mha),
        ("mqa", Condition::Mqa),
        ("shared_kv", Condition::Shared),
        ("many_heads", Condition::ManyHeads),
        ("padding", Condition::Padding),
        ("no_padding", Condition::NoPadding),
        ("row_padded", Condition::RowPadded),
        ("left_padded", Condition::LeftPadded),
        ("right_padded", Condition::RightPadded),
        ("prefill", Condition::Prefill),
        ("decode", Condition::Decode),
        ("chunk", Condition::Chunk),
        ("cached", Condition::Cached),
        ("causal", Condition::Causal),
        ("no_causal", Condition::NoCausal),
        ("qk_norm", Condition::QkNorm),
        ("no_qk_norm", Condition::NoQkNorm),
        ("many_tokens", Condition::ManyTokens),
        ("single_row", Condition::SingleRow),
        ("many_rows", Condition::ManyRows),
        ("labelled", Condition::Labelled),
        ("unlabelled", Condition::Unlabelled),
        ("first_layer", Condition::FirstLayer),
        ("later_layer", Condition::LaterLayer),
        ("prev_token_head", Condition::PrevTokenHead),
        ("no_prev_token_head", Condition::NoPrevTokenHead),
        ("first_token_head", Condition::FirstTokenHead),
        ("no_first_token_head", Condition::NoFirstTokenHead),
        ("induction_head", Condition::InductionHead),
        ("no_induction_head", Condition::NoInductionHead),
        ("repeated_token", Condition::RepeatedToken),
        ("no_repeated_token", Condition::NoRepeatedToken),
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
                let near = names
                    .iter()
                    .map(|k| (strsim::levenshtein(&key, k), *k))
                    .min()
                    .filter(|(d, _)| *d <= 3);
                match near {
                    Some((_, k)) => format!("unknown condition `{name}`, did you mean `{k}`?"),
                    None => format!("unknown condition `{name}`; known: {}", names.join(", ")),
                }
            })
    }

    pub fn name(self) -> &'static str {
        Condition::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("", |(n, _)| n)
    }

    /// What the condition means, for the warning when a run contradicts a lesson's premise.
    pub fn describe(self) -> &'static str {
        match self {
            Condition::Gqa => {
                "grouped-query attention (more than one KV head, fewer than query heads)"
            }
            Condition::Mha => "multi-head attention (one KV head per query head)",
            Condition::Mqa => "multi-query attention (one KV head for several query heads)",
            Condition::Shared => "query heads sharing KV heads (n_rep > 1)",
            Condition::ManyHeads => "more than one head",
            Condition::Padding | Condition::RowPadded => "padded batch rows",
            Condition::LeftPadded => "a batch row padded on the left",
            Condition::RightPadded => "a batch row padded on the right",
            Condition::NoPadding => "a batch without padding",
            Condition::Prefill => "a prefill",
            Condition::Decode => "decode calls (one new token through the cache)",
            Condition::Chunk => "chunks (several new tokens through the cache)",
            Condition::Cached => "calls through a non-empty KV cache",
            Condition::Causal => "the causal mask",
            Condition::NoCausal => "attention without the causal mask",
            Condition::QkNorm => "QK-norm",
            Condition::NoQkNorm => "attention without QK-norm",
            Condition::ManyTokens => "calls of more than one token",
            Condition::SingleRow => "one batch row",
            Condition::ManyRows => "several batch rows",
            Condition::Labelled => "the lesson's own words as labels (its length and batch)",
            Condition::Unlabelled => "numbered positions (a changed length or batch)",
            Condition::FirstLayer => "a checkpoint's first layer",
            Condition::LaterLayer => "a checkpoint's layer after the first",
            Condition::PrevTokenHead => "a head that clearly reads the previous token",
            Condition::NoPrevTokenHead => "no head that clearly reads the previous token",
            Condition::FirstTokenHead => "a head that clearly rests on the first token",
            Condition::NoFirstTokenHead => "no head that clearly rests on the first token",
            Condition::InductionHead => "a head that clearly attends to induction targets",
            Condition::NoInductionHead => "no head that clearly attends to induction targets",
            Condition::RepeatedToken => "a token that appears again later in the call",
            Condition::NoRepeatedToken => "a call where no token appears again",
        }
    }

    /// Whether the condition holds for the step and view in `f`, of run `trace` (whose weights
    /// the head conditions read).
    pub fn holds<T: HasShape>(self, f: &Facts, trace: &Trace<T>) -> bool {
        let head = |pattern, wanted| found(pattern, f, trace) == Some(wanted);
        let keys = |row: &Vec<u8>| row[..f.kv_len.min(row.len())].to_vec();
        let mask = f.cfg.attention_mask.as_ref();
        let padded = mask.is_some_and(|rows| rows.iter().any(|r| keys(r).contains(&0)));
        let row = mask.map(|rows| keys(&rows[f.batch.min(rows.len() - 1)]));
        match self {
            Condition::Gqa => f.n_kv_heads > 1 && f.n_kv_heads < f.n_heads,
            Condition::Mha => f.n_kv_heads == f.n_heads,
            Condition::Mqa => f.n_kv_heads == 1 && f.n_heads > 1,
            Condition::Shared => f.n_rep > 1,
            Condition::ManyHeads => f.n_heads > 1,
            Condition::Padding => padded,
            Condition::NoPadding => !padded,
            Condition::RowPadded => row.is_some_and(|r| r.contains(&0)),
            Condition::LeftPadded => row.is_some_and(|r| r.first() == Some(&0)),
            // Real tokens then pads: a row that is all pads so far is padded on the left only.
            Condition::RightPadded => row.is_some_and(|r| r.last() == Some(&0) && r.contains(&1)),
            Condition::Prefill => f.kind == StepKind::Prefill,
            Condition::Decode => f.kind == StepKind::Decode,
            Condition::Chunk => f.kind == StepKind::Chunk,
            Condition::Cached => f.past_len > 0,
            Condition::Causal => f.cfg.causal,
            Condition::NoCausal => !f.cfg.causal,
            Condition::QkNorm => f.cfg.qk_norm,
            Condition::NoQkNorm => !f.cfg.qk_norm,
            Condition::ManyTokens => f.seq_len > 1,
            Condition::SingleRow => f.bsz == 1,
            Condition::ManyRows => f.bsz > 1,
            Condition::Labelled => f.tokens.is_some(),
            Condition::Unlabelled => f.tokens.is_none(),
            Condition::FirstLayer => f.model.is_some_and(|m| m.layer == 0),
            Condition::LaterLayer => f.model.is_some_and(|m| m.layer > 0),
            Condition::PrevTokenHead => head(Pattern::Previous, true),
            Condition::NoPrevTokenHead => head(Pattern::Previous, false),
            Condition::FirstTokenHead => head(Pattern::First, true),
            Condition::NoFirstTokenHead => head(Pattern::First, false),
            Condition::InductionHead => head(Pattern::Induction, true),
            Condition::NoInductionHead => head(Pattern::Induction, false),
            Condition::RepeatedToken => induction_pair(f).is_some(),
            Condition::NoRepeatedToken => induction_pair(f).is_none(),
        }
    }

    /// Whether the condition holds anywhere in a run: at some step, for some batch row.
    pub fn holds_in<T: HasShape>(self, trace: &Trace<T>, head: usize) -> bool {
        (0..trace.steps.len()).any(|step| {
            (0..trace.config.batch).any(|b| self.holds(&Facts::of(trace, step, head, b), trace))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Shapes;
    use crate::config::ConfigSpec;

    #[test]
    fn conditions_read_the_configuration_step_and_row() {
        let t = crate::forward::trace(
            &ConfigSpec {
                num_attention_heads: Some(4),
                num_key_value_heads: Some(1),
                batch: Some(2),
                steps: Some(vec![3, 1]),
                attention_mask: Some(vec!["0111".into(), "1110".into()]),
                ..Default::default()
            }
            .resolve()
            .unwrap(),
            &mut Shapes,
        );
        let prefill = Facts::of(&t, 0, 0, 0);
        let decode = Facts::of(&t, 1, 0, 0);
        assert!(Condition::Mqa.holds(&prefill, &t) && !Condition::Gqa.holds(&prefill, &t));
        assert!(
            Condition::ManyRows.holds(&prefill, &t) && !Condition::SingleRow.holds(&prefill, &t)
        );
        assert!(Condition::Padding.holds(&prefill, &t));
        assert!(Condition::Prefill.holds(&prefill, &t) && !Condition::Cached.holds(&prefill, &t));
        assert!(Condition::Decode.holds(&decode, &t) && Condition::Cached.holds(&decode, &t));
        assert!(!Condition::ManyTokens.holds(&decode, &t));
        // Row 0 is padded on the left; row 1's pad is the decode token (key 3), which the
        // prefill's three keys do not reach yet.
        assert!(Condition::LeftPadded.holds(&prefill, &t));
        let row1 = Facts::of(&t, 0, 0, 1);
        assert!(!Condition::RowPadded.holds(&row1, &t));
        assert!(Condition::RightPadded.holds(&Facts::of(&t, 1, 0, 1), &t));
        assert!(Condition::RightPadded.holds_in(&t, 0));
        // A first call that ends before row 0's first real token: its one key is a pad, so the
        // row is padded on the left, not on the right.
        let early = crate::forward::trace(
            &ConfigSpec {
                batch: Some(2),
                steps: Some(vec![1, 3]),
                attention_mask: Some(vec!["0111".into(), "1111".into()]),
                ..Default::default()
            }
            .resolve()
            .unwrap(),
            &mut Shapes,
        );
        let pads_only = Facts::of(&early, 0, 0, 0);
        assert!(Condition::LeftPadded.holds(&pads_only, &early));
        assert!(!Condition::RightPadded.holds(&pads_only, &early));
        assert!(!Condition::Gqa.holds_in(&t, 0));
        assert!(Condition::parse("gqa").is_ok());
        assert!(Condition::parse("gqq").unwrap_err().contains("`gqa`"));
        assert_eq!(Condition::parse("row-padded"), Ok(Condition::RowPadded));
    }

    #[test]
    fn labels_and_layers_are_conditions_too() {
        let run = |tokens: Option<&str>| {
            let spec = ConfigSpec {
                seq_len: Some(3),
                tokens: tokens.map(String::from),
                ..Default::default()
            };
            crate::forward::trace(&spec.resolve().unwrap(), &mut Shapes)
        };
        let (words, numbered) = (run(Some("a b c")), run(None));
        let (w, n) = (Facts::of(&words, 0, 0, 0), Facts::of(&numbered, 0, 0, 0));
        assert!(Condition::Labelled.holds(&w, &words) && !Condition::Unlabelled.holds(&w, &words));
        assert!(Condition::SingleRow.holds(&w, &words) && !Condition::ManyRows.holds(&w, &words));
        assert!(
            Condition::Unlabelled.holds(&n, &numbered) && !Condition::Labelled.holds(&n, &numbered)
        );
        // "a b c" has no token that comes back, so no induction target.
        assert!(Condition::NoRepeatedToken.holds(&w, &words));
        assert!(!Condition::RepeatedToken.holds(&w, &words));
        // Without a checkpoint there is no layer to speak of.
        assert!(
            !Condition::FirstLayer.holds(&w, &words) && !Condition::LaterLayer.holds(&w, &words)
        );
        let mut layered = run(None);
        let info = |layer| crate::trace::ModelInfo {
            name: "tiny".into(),
            layer,
            layers: 2,
            token_ids: vec![1, 2, 3],
            top5: Vec::new(),
        };
        layered.model = Some(info(0));
        assert!(Condition::FirstLayer.holds(&Facts::of(&layered, 0, 0, 0), &layered));
        layered.model = Some(info(1));
        let later = Facts::of(&layered, 0, 0, 0);
        assert!(
            Condition::LaterLayer.holds(&later, &layered)
                && !Condition::FirstLayer.holds(&later, &layered)
        );
    }
}

#[cfg(test)]
mod head_tests {
    use super::*;
    use crate::config::ConfigSpec;
    use crate::numeric::{Numeric, Tensor};
    use crate::stage::TensorId;
    use crate::stage::template::attention::clears;

    /// A numeric run of "x a b c a b" with 2 heads, its weights replaced by `rows(head, query)`:
    /// that query's weights over keys 0..=query.
    fn run(rows: impl Fn(usize, usize) -> Vec<f32>) -> Trace<Tensor> {
        let cfg = ConfigSpec {
            hidden_size: Some(8),
            num_attention_heads: Some(2),
            num_key_value_heads: Some(2),
            seq_len: Some(6),
            tokens: Some("x a b c a b".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let mut t = crate::forward::trace(&cfg, &mut Numeric::new(3));
        let named = t.steps[0]
            .stages
            .iter_mut()
            .flat_map(|s| s.tensors.iter_mut())
            .find(|n| n.id == TensorId::Weights)
            .unwrap();
        let mut w = ndarray::ArrayD::<f32>::zeros(vec![1, 2, 6, 6]);
        for h in 0..2 {
            for q in 0..6 {
                for (k, x) in rows(h, q).into_iter().enumerate() {
                    w[[0, h, q, k]] = x;
                }
            }
        }
        named.value = Tensor::new(named.value.shape.clone(), w);
        t
    }

    /// Weight 1 on key `k`, of a query at `q`.
    fn on(k: usize, q: usize) -> Vec<f32> {
        (0..=q).map(|j| if j == k { 1.0 } else { 0.0 }).collect()
    }

    /// The head conditions that hold for the first call of `t`.
    fn holding<T: HasShape>(t: &Trace<T>) -> Vec<&'static str> {
        let f = Facts::of(t, 0, 0, 0);
        Condition::ALL
            .iter()
            .filter(|(n, _)| n.ends_with("token_head") || n.ends_with("induction_head"))
            .filter(|(_, c)| c.holds(&f, t))
            .map(|(n, _)| *n)
            .collect()
    }

    #[test]
    fn the_bar_needs_both_a_share_and_a_multiple_of_the_even_spread() {
        // A third of the weight, three and a half times an even spread of 0.1: both bars.
        assert!(clears(Pattern::Induction, 0.35, 0.1));
        // Far above a tiny even spread, but under a quarter of the weight: not a head's job.
        assert!(!clears(Pattern::Induction, 0.25, 0.01));
        assert!(!clears(Pattern::First, 0.25, 0.01));
        // Half the weight, but less than three times an even spread of 0.2 (induction) or
        // twice one of 0.3 (previous, first).
        assert!(!clears(Pattern::Induction, 0.5, 0.2));
        assert!(!clears(Pattern::Previous, 0.5, 0.3));
        // Half the weight against 0.2: over twice, not over three times.
        assert!(clears(Pattern::Previous, 0.5, 0.2));
    }

    #[test]
    fn head_conditions_read_the_weights_of_the_call() {
        // Positions 0..=5 are "x a b c a b". Queries 1..=5 count for the previous and first
        // token: an even spread gives (1/2 + 1/3 + 1/4 + 1/5 + 1/6) / 5 = 0.29. Query 4 ("a")
        // targets 2 and query 5 ("b") targets 3: an even spread gives (1/5 + 1/6) / 2 = 0.183.
        //
        // Head 0 reads the previous token only, head 1 rests on the first: each has mean 1.
        let sharp = run(|h, q| {
            if h == 0 {
                on(q.saturating_sub(1), q)
            } else {
                on(0, q)
            }
        });
        assert_eq!(
            holding(&sharp),
            ["prev_token_head", "first_token_head", "no_induction_head"]
        );
        // Head 1 now sends queries 4 and 5 to their targets (mean 1 against 0.183); head 0
        // splits every query between itself and the previous token: 0.5 there, under twice
        // 0.29; head 1 gives the previous token only query 1's weight (key 0): 0.2.
        let split = |q: usize| -> Vec<f32> {
            (0..=q)
                .map(|j| match q {
                    0 => 1.0,
                    _ if j + 1 == q || j == q => 0.5,
                    _ => 0.0,
                })
                .collect()
        };
        let copying = run(|h, q| match (h, q) {
            (0, _) => split(q),
            (_, 4) => on(2, q),
            (_, 5) => on(3, q),
            _ => on(0, q),
        });
        // Head 1's first-token mean is 3/5 = 0.6 (queries 1, 2, 3): over 0.3 and twice 0.29.
        assert_eq!(
            holding(&copying),
            ["no_prev_token_head", "first_token_head", "induction_head"]
        );
        // Half of each target query's weight on its target: 0.5 is over 0.3 but under three
        // times 0.183, so no head counts as an induction head.
        let half = run(|h, q| match (h, q) {
            (1, 4) => vec![0.0, 0.0, 0.5, 0.0, 0.5],
            (1, 5) => vec![0.0, 0.0, 0.0, 0.5, 0.0, 0.5],
            _ => on(0, q),
        });
        assert!(holding(&half).contains(&"no_induction_head"));
        // "x a b c a b" repeats "a" and "b"; its first four positions repeat nothing.
        let f = Facts::of(&half, 0, 0, 0);
        assert!(Condition::RepeatedToken.holds(&f, &half));
        assert!(!Condition::NoRepeatedToken.holds(&f, &half));
        // A run of shapes has no weights: neither side of any head condition holds.
        let shapes = crate::forward::trace(
            &ConfigSpec::default().resolve().unwrap(),
            &mut crate::backend::Shapes,
        );
        assert_eq!(holding(&shapes), Vec::<&str>::new());
    }
}
