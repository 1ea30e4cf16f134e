//! The predict-the-shape quiz: which questions a stage asks, reading a typed shape, checking
//! it, explaining a wrong dimension, and keeping the score. Pure: no terminal, no I/O.
//!
//! A stage that changes a shape ([`StageId::changes_shape`]) asks, for each tensor whose shape
//! differs from the tensor it was made from, for the new shape. Tensors of a stage that go
//! through the same change (`xk_proj` and `xv_proj`) are asked about once.

use std::collections::HashSet;
use std::fmt;

use crate::backend::HasShape;
use crate::dims::{DimName, Shape};
use crate::trace::{StageId, Step, TensorId, Trace};

/// One question: "what shape is `tensor` after `op`?"
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    pub step: usize,
    /// Index into `trace.steps[step].stages`.
    pub stage: usize,
    pub id: StageId,
    pub tensor: TensorId,
    /// The tensor it is made from, and that tensor's shape.
    pub from: TensorId,
    pub before: Shape,
    pub expected: Shape,
    /// Other tensors of the stage that go through the same change.
    pub same: Vec<TensorId>,
    /// Tokens already cached before this step (for the kv_len explanation).
    pub past_len: usize,
}

/// The questions stage `stage` of step `step` asks (none for a stage that keeps every shape).
pub fn questions<T: HasShape>(trace: &Trace<T>, step: usize, stage: usize) -> Vec<Question> {
    let st = &trace.steps[step];
    let sg = &st.stages[stage];
    if !sg.id.changes_shape() {
        return Vec::new();
    }
    let mut out: Vec<Question> = Vec::new();
    for t in &sg.tensors {
        let Some(from) = t.from else { continue };
        let Some(before) = shape_in(st, from) else {
            continue;
        };
        let expected = t.value.shape();
        if before == expected {
            continue;
        }
        if let Some(q) = out
            .iter_mut()
            .find(|q| q.before == before && q.expected == expected)
        {
            q.same.push(t.id);
            continue;
        }
        out.push(Question {
            step,
            stage,
            id: sg.id,
            tensor: t.id,
            from,
            before,
            expected,
            same: Vec::new(),
            past_len: st.start_pos,
        });
    }
    out
}

fn shape_in<T: HasShape>(st: &Step<T>, id: TensorId) -> Option<Shape> {
    st.tensor(id).map(HasShape::shape)
}

/// What MiniMind does to make a tensor, as the question names it (from the stage descriptor).
pub fn operation(tensor: TensorId) -> &'static str {
    tensor.stage().spec().output(tensor).map_or("", |o| o.op)
}

impl Question {
    /// The question itself: `xq_t after xq.transpose(1, 2)?`
    pub fn text(&self) -> String {
        format!("{} after {}?", self.tensor, operation(self.tensor))
    }

    /// Why axis `axis` of the answer is what it is.
    pub fn why(&self, axis: usize) -> String {
        let e = self.expected.dim(axis);
        let b = &self.before;
        let dim_text = |name: DimName| {
            b.dims()
                .iter()
                .find(|d| d.name == name)
                .map(|d| d.to_string())
        };
        if axis < b.rank() && b.dim(axis) == e && self.id != StageId::Transpose {
            return format!(
                "{} keeps this axis from {}",
                operation(self.tensor),
                self.from
            );
        }
        match (self.id, e.name) {
            (StageId::Project, _) => format!(
                "{} maps each token's {} features to {}",
                operation(self.tensor),
                b.last(),
                features(e.name, e.size)
            ),
            (StageId::SplitHeads, DimName::NHeads | DimName::NKvHeads) => format!(
                "view cuts the {} features of each token into {} heads",
                b.last(),
                e
            ),
            (StageId::SplitHeads, DimName::HeadDim) => format!(
                "view cuts the {} features into heads of {} each",
                b.last(),
                e
            ),
            (StageId::KvCache, DimName::KvLen) => format!(
                "the cache holds past_len={} earlier tokens plus the {} new: kv_len = {}",
                self.past_len,
                dim_text(DimName::SeqLen).unwrap_or_else(|| "new ones".into()),
                e.size
            ),
            (StageId::RepeatKv, DimName::NHeads) => format!(
                "repeat_kv copies each of the {} KV heads n_rep times, one per query head: {}",
                dim_text(DimName::NKvHeads).unwrap_or_default(),
                e
            ),
            (StageId::Transpose, _) if b.rank() >= 3 => format!(
                "transpose(1, 2) swaps {} and {}",
                b.dim(1).name,
                b.dim(2).name
            ),
            (StageId::Scores, DimName::KvLen) => {
                format!("each query is scored against every key: one column per key, {e}")
            }
            (StageId::Scores, DimName::SeqLen) => {
                format!("one row per query: {e} new tokens ask")
            }
            (StageId::WeightedSum, DimName::HeadDim) => format!(
                "each row of weights mixes the kv_len value vectors of {e} into one: kv_len is summed away"
            ),
            (StageId::MergeHeads, DimName::SeqLen) => {
                "transpose(1, 2) brings seq_len back next to bsz before the reshape".to_string()
            }
            (StageId::MergeHeads, _) => format!(
                "reshape lays the {} heads of {} side by side: {}",
                dim_text(DimName::NHeads).unwrap_or_default(),
                dim_text(DimName::HeadDim).unwrap_or_default(),
                features(e.name, e.size)
            ),
            (StageId::OProj, _) => format!(
                "o_proj maps the {} features back to the model width, {}",
                b.last(),
                e
            ),
            _ => format!("{}: {}", self.id, self.id.title().to_lowercase()),
        }
    }

    /// A nudge for someone stuck: the presentation's hint for the stage, or a general one.
    pub fn hint(&self, custom: Option<&str>) -> String {
        if let Some(h) = custom {
            return h.to_string();
        }
        match self.id {
            StageId::Project => "A linear layer keeps bsz and seq_len and changes only the last \
                axis: to out_features, which is heads × head_dim."
                .into(),
            StageId::SplitHeads => "view does not move any number: it cuts the last axis into \
                (heads, head_dim). Count the heads this tensor has: query heads or KV heads?"
                .into(),
            StageId::KvCache => "torch.cat along dim 1 stacks the cached tokens before the new \
                ones: that axis becomes past_len + seq_len."
                .into(),
            StageId::RepeatKv => "Every query head needs a K and a V head: each KV head is \
                repeated n_rep times, so the head axis grows to n_heads."
                .into(),
            StageId::Transpose => "transpose(1, 2) swaps axes 1 and 2 (counting from 0) and \
                leaves the others alone."
                .into(),
            StageId::Scores => "A @ B with A [.., seq_len, head_dim] and Bᵀ [.., head_dim, \
                kv_len]: the shared head_dim disappears."
                .into(),
            StageId::WeightedSum => "weights [.., seq_len, kv_len] @ xv [.., kv_len, head_dim]: \
                the shared kv_len disappears."
                .into(),
            StageId::MergeHeads => "Undo the transpose, then glue the heads end to end: the \
                last axis is n_heads × head_dim."
                .into(),
            StageId::OProj => "o_proj is a linear layer from n_heads·head_dim features back to \
                hidden."
                .into(),
            _ => format!("Read the MiniMind line: {}", self.id.code()),
        }
    }
}

/// `n_heads·head_dim=512`, or just `hidden=512`.
fn features(name: DimName, size: usize) -> String {
    format!("{}={size}", name.as_str())
}

/// Reads a shape typed in any common form: `2 8 5 64`, `[2, 8, 5, 64]`, `(2,8,5,64)`,
/// `2x8x5x64`, `torch.Size([2, 8, 5, 64])` or with names, `[bsz=2, n_heads=8, …]`.
pub fn parse_shape(text: &str) -> Result<Vec<usize>, String> {
    let lower = text.trim().to_lowercase();
    let body = lower.strip_prefix("torch.size").unwrap_or(&lower);
    let mut sizes = Vec::new();
    for token in body.split(|c: char| c.is_whitespace() || ",;[]()".contains(c)) {
        if token.is_empty() {
            continue;
        }
        // `bsz=2` counts as 2; names are there for the reader.
        let value = token.rsplit_once('=').map_or(token, |(_, v)| v);
        for part in value.split(['x', '×', '*']) {
            if part.is_empty() {
                continue;
            }
            let n = part.parse::<usize>().map_err(|_| {
                format!("could not read '{part}' as a size: type the sizes, like 2 8 5 64")
            })?;
            sizes.push(n);
        }
    }
    if sizes.is_empty() {
        return Err("type the sizes, like 2 8 5 64".into());
    }
    Ok(sizes)
}

/// How an answer compares with the right shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Right,
    /// Wrong: one explanation per dimension that differs (or for a wrong number of axes).
    Wrong(Vec<String>),
}

pub fn check(q: &Question, sizes: &[usize]) -> Verdict {
    let want = q.expected.sizes();
    if sizes == want.as_slice() {
        return Verdict::Right;
    }
    if sizes.len() != want.len() {
        return Verdict::Wrong(vec![format!(
            "{} has {} axes, not {}: {}",
            q.tensor,
            want.len(),
            sizes.len(),
            q.expected.names().join(", ")
        )]);
    }
    let diffs = (0..want.len())
        .filter(|&i| sizes[i] != want[i])
        .map(|i| {
            format!(
                "dim {i} should be {}, not {}: {}",
                q.expected.dim(i),
                sizes[i],
                q.why(i)
            )
        })
        .collect();
    Verdict::Wrong(diffs)
}

/// A question answered wrong on the first try.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missed {
    pub step: usize,
    pub stage: StageId,
    pub tensor: TensorId,
}

/// The quiz result: questions asked and how many were right the first time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuizScore {
    pub asked: usize,
    pub first_try: usize,
    pub missed: Vec<Missed>,
}

impl fmt::Display for QuizScore {
    /// `11/14 first try`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} first try", self.first_try, self.asked)
    }
}

impl QuizScore {
    /// `step 1 transpose (xq_t), step 2 kv_cache (xk_cache)`, or `none`.
    pub fn missed_text(&self) -> String {
        if self.missed.is_empty() {
            return "none".into();
        }
        self.missed
            .iter()
            .map(|m| format!("step {} {} ({})", m.step + 1, m.stage, m.tensor))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Which questions have been asked, the one being asked, and the score.
#[derive(Clone, Debug, Default)]
pub struct Quiz {
    asked: HashSet<(usize, usize, TensorId)>,
    pending: Vec<Question>,
    /// Wrong answers to the current question so far.
    tries: u8,
    pub score: QuizScore,
}

/// What an answer led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Right; the shape is given for the record.
    Right { tensor: TensorId, shape: String },
    /// Wrong the first time: why, then one more try.
    Retry { why: Vec<String> },
    /// Wrong again (or skipped): the right shape and why.
    Reveal {
        tensor: TensorId,
        shape: String,
        why: Vec<String>,
    },
    /// The answer could not be read; ask again without counting it.
    Unreadable(String),
}

impl Quiz {
    /// Queues the unasked questions of a stage; true when there is one to ask now.
    pub fn enter(&mut self, questions: Vec<Question>) -> bool {
        self.pending = questions
            .into_iter()
            .filter(|q| !self.asked.contains(&(q.step, q.stage, q.tensor)))
            .collect();
        self.tries = 0;
        !self.pending.is_empty()
    }

    pub fn current(&self) -> Option<&Question> {
        self.pending.first()
    }

    /// Wrong answers given to the current question.
    pub fn tries(&self) -> u8 {
        self.tries
    }

    /// Leaves the stage without answering; its questions are asked on the next visit.
    pub fn abandon(&mut self) {
        self.pending.clear();
        self.tries = 0;
    }

    /// Takes a typed answer to the current question.
    pub fn answer(&mut self, text: &str) -> Option<Reply> {
        let q = self.pending.first()?.clone();
        let sizes = match parse_shape(text) {
            Ok(s) => s,
            Err(why) => return Some(Reply::Unreadable(why)),
        };
        Some(match check(&q, &sizes) {
            Verdict::Right => {
                self.close(&q, self.tries == 0);
                Reply::Right {
                    tensor: q.tensor,
                    shape: q.expected.to_string(),
                }
            }
            Verdict::Wrong(why) if self.tries == 0 => {
                self.tries = 1;
                Reply::Retry { why }
            }
            Verdict::Wrong(why) => {
                self.close(&q, false);
                Reply::Reveal {
                    tensor: q.tensor,
                    shape: q.expected.to_string(),
                    why,
                }
            }
        })
    }

    /// Gives up on the current question: it counts as missed and the answer is shown.
    pub fn skip(&mut self) -> Option<Reply> {
        let q = self.pending.first()?.clone();
        self.close(&q, false);
        Some(Reply::Reveal {
            tensor: q.tensor,
            shape: q.expected.to_string(),
            why: Vec::new(),
        })
    }

    fn close(&mut self, q: &Question, first_try: bool) {
        self.asked.insert((q.step, q.stage, q.tensor));
        self.score.asked += 1;
        if first_try {
            self.score.first_try += 1;
        } else {
            self.score.missed.push(Missed {
                step: q.step,
                stage: q.id,
                tensor: q.tensor,
            });
        }
        self.pending.remove(0);
        self.tries = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSpec;
    use crate::shape;

    /// A shape-only trace of a GQA layer: hidden 64, 8 heads, 2 KV heads (head_dim 8),
    /// batch 2, a prefill of 5 tokens and one decode token.
    fn gqa() -> Trace<Shape> {
        let cfg = ConfigSpec {
            hidden_size: Some(64),
            num_attention_heads: Some(8),
            num_key_value_heads: Some(2),
            batch: Some(2),
            steps: Some(vec![5, 1]),
            ..ConfigSpec::default()
        }
        .resolve()
        .unwrap();
        crate::forward::trace(&cfg, &mut crate::backend::Shapes)
    }

    fn question(trace: &Trace<Shape>, step: usize, id: StageId, tensor: &str) -> Question {
        let stage = trace.steps[step]
            .stages
            .iter()
            .position(|s| s.id == id)
            .unwrap();
        questions(trace, step, stage)
            .into_iter()
            .find(|q| q.tensor.name() == tensor)
            .unwrap_or_else(|| panic!("no question for {tensor} at {id}"))
    }

    #[test]
    fn shapes_are_read_in_every_common_form() {
        let want = Ok(vec![2, 8, 5, 64]);
        for text in [
            "2 8 5 64",
            "[2, 8, 5, 64]",
            "(2,8,5,64)",
            " 2,8,5,64 ",
            "2x8x5x64",
            "2×8×5×64",
            "torch.Size([2, 8, 5, 64])",
            "[bsz=2, n_heads=8, seq_len=5, head_dim=64]",
        ] {
            assert_eq!(parse_shape(text), want, "{text}");
        }
        assert_eq!(
            parse_shape("[1, 5, n_heads·head_dim=512]"),
            Ok(vec![1, 5, 512])
        );
        assert!(parse_shape("").is_err());
        assert!(parse_shape("[]").is_err());
        let e = parse_shape("2 eight 5").unwrap_err();
        assert!(e.contains("'eight'"), "{e}");
        assert!(parse_shape("-1 5").is_err(), "sizes are never negative");
    }

    #[test]
    fn a_stage_asks_once_per_distinct_change() {
        let t = gqa();
        let project = t.steps[0]
            .stages
            .iter()
            .position(|s| s.id == StageId::Project)
            .unwrap();
        let qs = questions(&t, 0, project);
        // xq_proj goes to 8·8 = 64 features, xk_proj and xv_proj both to 2·8 = 16.
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[0].tensor, TensorId::XqProj);
        assert_eq!(qs[0].expected.sizes(), vec![2, 5, 64]);
        assert_eq!(qs[1].tensor, TensorId::XkProj);
        assert_eq!(qs[1].expected.sizes(), vec![2, 5, 16]);
        assert_eq!(qs[1].same, vec![TensorId::XvProj]);
        assert_eq!(qs[0].text(), "xq_proj after q_proj(x)?");
    }

    #[test]
    fn stages_that_keep_shapes_ask_nothing() {
        let t = gqa();
        for (i, sg) in t.steps[0].stages.iter().enumerate() {
            let qs = questions(&t, 0, i);
            if !sg.id.changes_shape() {
                assert!(qs.is_empty(), "{} asked {qs:?}", sg.id);
            }
        }
        // And every stage that changes a shape asks at least one question.
        let asked: Vec<StageId> = (0..t.steps[0].stages.len())
            .filter(|&i| !questions(&t, 0, i).is_empty())
            .map(|i| t.steps[0].stages[i].id)
            .collect();
        let changing: Vec<StageId> = t.steps[0]
            .stages
            .iter()
            .map(|s| s.id)
            .filter(|id| id.changes_shape())
            .collect();
        assert_eq!(asked, changing);
    }

    #[test]
    fn transpose_wrong_dim_is_named_and_explained() {
        let t = gqa();
        let q = question(&t, 0, StageId::Transpose, "xq_t");
        assert_eq!(q.text(), "xq_t after xq.transpose(1, 2)?");
        assert_eq!(
            q.before,
            shape![(Bsz, 2), (SeqLen, 5), (NHeads, 8), (HeadDim, 8)]
        );
        assert_eq!(check(&q, &[2, 8, 5, 8]), Verdict::Right);
        // Forgetting the transpose: dims 1 and 2 are wrong.
        let Verdict::Wrong(why) = check(&q, &[2, 5, 8, 8]) else {
            panic!()
        };
        assert_eq!(
            why,
            vec![
                "dim 1 should be n_heads=8, not 5: transpose(1, 2) swaps seq_len and n_heads",
                "dim 2 should be seq_len=5, not 8: transpose(1, 2) swaps seq_len and n_heads",
            ]
        );
    }

    #[test]
    fn decode_step_explains_kv_len_from_the_cache() {
        let t = gqa();
        let q = question(&t, 1, StageId::KvCache, "xk_cache");
        assert_eq!(q.expected.sizes(), vec![2, 6, 2, 8]);
        assert_eq!(q.same, vec![TensorId::XvCache]);
        let Verdict::Wrong(why) = check(&q, &[2, 1, 2, 8]) else {
            panic!()
        };
        assert_eq!(why.len(), 1);
        assert_eq!(
            why[0],
            "dim 1 should be kv_len=6, not 1: the cache holds past_len=5 earlier tokens plus \
             the seq_len=1 new: kv_len = 6"
        );
        let q = question(&t, 1, StageId::Scores, "scores");
        assert_eq!(q.expected.sizes(), vec![2, 8, 1, 6]);
    }

    #[test]
    fn wrong_rank_and_other_stages_are_explained() {
        let t = gqa();
        let q = question(&t, 0, StageId::RepeatKv, "xk_repeat");
        assert_eq!(q.expected.sizes(), vec![2, 5, 8, 8]);
        let Verdict::Wrong(why) = check(&q, &[2, 5, 2, 4, 8]) else {
            panic!()
        };
        assert_eq!(
            why,
            vec!["xk_repeat has 4 axes, not 5: bsz, kv_len, n_heads, head_dim"]
        );
        let Verdict::Wrong(why) = check(&q, &[2, 5, 2, 8]) else {
            panic!()
        };
        assert!(
            why[0].starts_with(
                "dim 2 should be n_heads=8, not 2: repeat_kv copies each of the n_kv_heads=2"
            ),
            "{why:?}"
        );
        let q = question(&t, 0, StageId::MergeHeads, "merged");
        let Verdict::Wrong(why) = check(&q, &[2, 5, 8]) else {
            panic!()
        };
        assert_eq!(
            why,
            vec![
                "dim 2 should be n_heads·head_dim=64, not 8: reshape lays the n_heads=8 heads \
                 of head_dim=8 side by side: n_heads·head_dim=64"
            ]
        );
        // An unchanged axis is explained as kept.
        let Verdict::Wrong(why) = check(&q, &[1, 5, 64]) else {
            panic!()
        };
        assert!(
            why[0].starts_with("dim 0 should be bsz=2, not 1: output.transpose"),
            "{why:?}"
        );
        assert!(why[0].ends_with("keeps this axis from attn_out"), "{why:?}");
    }

    #[test]
    fn hints_prefer_the_presentation() {
        let t = gqa();
        let q = question(&t, 0, StageId::Scores, "scores");
        assert_eq!(
            q.hint(Some("Think rows × columns.")),
            "Think rows × columns."
        );
        assert!(q.hint(None).contains("head_dim disappears"));
    }

    #[test]
    fn score_counts_first_tries_and_allows_one_retry() {
        let t = gqa();
        let transpose = t.steps[0]
            .stages
            .iter()
            .position(|s| s.id == StageId::Transpose)
            .unwrap();
        let mut quiz = Quiz::default();
        assert!(quiz.enter(questions(&t, 0, transpose)));
        assert_eq!(quiz.current().unwrap().tensor, TensorId::XqT);
        assert!(matches!(quiz.answer("banana"), Some(Reply::Unreadable(_))));
        assert_eq!(quiz.tries(), 0, "an unreadable answer is not a try");
        assert!(matches!(
            quiz.answer("[2, 8, 5, 8]"),
            Some(Reply::Right {
                tensor: TensorId::XqT,
                ..
            })
        ));
        assert_eq!(quiz.current().unwrap().tensor, TensorId::XkT);
        assert!(matches!(quiz.answer("2 5 8 8"), Some(Reply::Retry { .. })));
        assert!(matches!(
            quiz.answer("2 5 8 8"),
            Some(Reply::Reveal {
                tensor: TensorId::XkT,
                ..
            })
        ));
        assert!(quiz.current().is_none());
        assert_eq!(quiz.score.asked, 2);
        assert_eq!(quiz.score.first_try, 1);
        assert_eq!(quiz.score.to_string(), "1/2 first try");
        assert_eq!(quiz.score.missed_text(), "step 1 transpose (xk_t)");
        // Coming back does not ask again.
        assert!(!quiz.enter(questions(&t, 0, transpose)));
    }

    #[test]
    fn right_on_the_retry_still_counts_as_missed() {
        let t = gqa();
        let scores = t.steps[0]
            .stages
            .iter()
            .position(|s| s.id == StageId::Scores)
            .unwrap();
        let mut quiz = Quiz::default();
        quiz.enter(questions(&t, 0, scores));
        assert!(matches!(quiz.answer("2 8 5 8"), Some(Reply::Retry { .. })));
        assert!(matches!(quiz.answer("2 8 5 5"), Some(Reply::Right { .. })));
        assert_eq!(quiz.score.to_string(), "0/1 first try");
        assert_eq!(quiz.score.missed.len(), 1);
    }

    #[test]
    fn abandoning_a_stage_asks_again_later_and_skip_counts_as_missed() {
        let t = gqa();
        let scores = t.steps[0]
            .stages
            .iter()
            .position(|s| s.id == StageId::Scores)
            .unwrap();
        let mut quiz = Quiz::default();
        quiz.enter(questions(&t, 0, scores));
        quiz.abandon();
        assert!(quiz.current().is_none());
        assert_eq!(quiz.score.asked, 0);
        assert!(quiz.enter(questions(&t, 0, scores)));
        assert!(matches!(quiz.skip(), Some(Reply::Reveal { .. })));
        assert_eq!(quiz.score.to_string(), "0/1 first try");
    }
}
