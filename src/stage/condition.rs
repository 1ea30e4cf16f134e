//! When a lesson's note or hint applies: a condition on the configuration, the call and the
//! selected batch row (`when = "gqa"`), so a lesson stays true when flags change its premise.

use super::facts::Facts;
use crate::trace::StepKind;

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
    /// The selected batch row ends with padding (within this call's keys).
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
    /// The positions carry the lesson's words (flags that change the length or the batch
    /// number them instead), so prose may quote the sentence.
    Labelled,
    Unlabelled,
    /// A checkpoint's first layer, which reads the token embeddings themselves.
    FirstLayer,
    /// A checkpoint's layer after the first, which reads what earlier layers wrote.
    LaterLayer,
}

impl Condition {
    pub const ALL: [(&'static str, Condition); 23] = [
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
        ("labelled", Condition::Labelled),
        ("unlabelled", Condition::Unlabelled),
        ("first_layer", Condition::FirstLayer),
        ("later_layer", Condition::LaterLayer),
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
            Condition::Labelled => "the lesson's own words as labels (its length and batch)",
            Condition::Unlabelled => "numbered positions (a changed length or batch)",
            Condition::FirstLayer => "a checkpoint's first layer",
            Condition::LaterLayer => "a checkpoint's layer after the first",
        }
    }

    /// Whether the condition holds for the step and view in `f`.
    pub fn holds(self, f: &Facts) -> bool {
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
            Condition::RightPadded => row.is_some_and(|r| r.last() == Some(&0)),
            Condition::Prefill => f.kind == StepKind::Prefill,
            Condition::Decode => f.kind == StepKind::Decode,
            Condition::Chunk => f.kind == StepKind::Chunk,
            Condition::Cached => f.past_len > 0,
            Condition::Causal => f.cfg.causal,
            Condition::NoCausal => !f.cfg.causal,
            Condition::QkNorm => f.cfg.qk_norm,
            Condition::NoQkNorm => !f.cfg.qk_norm,
            Condition::ManyTokens => f.seq_len > 1,
            Condition::Labelled => f.tokens.is_some(),
            Condition::Unlabelled => f.tokens.is_none(),
            Condition::FirstLayer => f.model.is_some_and(|m| m.layer == 0),
            Condition::LaterLayer => f.model.is_some_and(|m| m.layer > 0),
        }
    }

    /// Whether the condition holds anywhere in a run: at some step, for some batch row.
    pub fn holds_in<T>(self, trace: &crate::trace::Trace<T>, head: usize) -> bool {
        (0..trace.steps.len()).any(|step| {
            (0..trace.config.batch).any(|b| self.holds(&Facts::of(trace, step, head, b)))
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
        assert!(Condition::Mqa.holds(&prefill) && !Condition::Gqa.holds(&prefill));
        assert!(Condition::Padding.holds(&prefill));
        assert!(Condition::Prefill.holds(&prefill) && !Condition::Cached.holds(&prefill));
        assert!(Condition::Decode.holds(&decode) && Condition::Cached.holds(&decode));
        assert!(!Condition::ManyTokens.holds(&decode));
        // Row 0 is padded on the left; row 1's pad is the decode token (key 3), which the
        // prefill's three keys do not reach yet.
        assert!(Condition::LeftPadded.holds(&prefill));
        let row1 = Facts::of(&t, 0, 0, 1);
        assert!(!Condition::RowPadded.holds(&row1));
        assert!(Condition::RightPadded.holds(&Facts::of(&t, 1, 0, 1)));
        assert!(Condition::RightPadded.holds_in(&t, 0));
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
        assert!(Condition::Labelled.holds(&w) && !Condition::Unlabelled.holds(&w));
        assert!(Condition::Unlabelled.holds(&n) && !Condition::Labelled.holds(&n));
        // Without a checkpoint there is no layer to speak of.
        assert!(!Condition::FirstLayer.holds(&w) && !Condition::LaterLayer.holds(&w));
        let mut layered = run(None);
        let info = |layer| crate::trace::ModelInfo {
            name: "tiny".into(),
            layer,
            layers: 2,
            token_ids: vec![1, 2, 3],
            top5: Vec::new(),
        };
        layered.model = Some(info(0));
        assert!(Condition::FirstLayer.holds(&Facts::of(&layered, 0, 0, 0)));
        layered.model = Some(info(1));
        let later = Facts::of(&layered, 0, 0, 0);
        assert!(Condition::LaterLayer.holds(&later) && !Condition::FirstLayer.holds(&later));
    }
}
