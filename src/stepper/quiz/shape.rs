//! Shape questions: "what shape is `tensor` after `op`?", asked at every stage that changes a
//! shape ([`StageId::changes_shape`]) for each tensor whose shape differs from the tensor it
//! was made from; tensors of a stage that go through the same change (`xk_proj` and `xv_proj`)
//! are asked about once. An answer is read in any common form; when two axes of the answer
//! have the same size, the learner names them (`seq_len=5 kv_len=5`), so a right answer cannot
//! come from a transposed picture that happens to give the same numbers.

use crate::backend::HasShape;
use crate::dims::{DimName, Shape};
use crate::trace::{StageId, Step, TensorId, Trace};

/// One question: "what shape is `tensor` after `op`?"
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeQuestion {
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

/// The shape questions stage `stage` of step `step` asks (none for a stage that keeps every
/// shape).
pub fn questions<T: HasShape>(trace: &Trace<T>, step: usize, stage: usize) -> Vec<ShapeQuestion> {
    let st = &trace.steps[step];
    let sg = &st.stages[stage];
    if !sg.id.changes_shape() {
        return Vec::new();
    }
    let mut out: Vec<ShapeQuestion> = Vec::new();
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
        out.push(ShapeQuestion {
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

impl ShapeQuestion {
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

/// One axis of a typed answer: its size, and the name typed with it (`seq_len=5`), if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Typed {
    pub name: Option<String>,
    pub size: usize,
}

/// Reads a shape typed in any common form: `2 8 5 64`, `[2, 8, 5, 64]`, `(2,8,5,64)`,
/// `2x8x5x64`, `torch.Size([2, 8, 5, 64])` or with names, `[bsz=2, n_heads=8, …]`.
pub fn parse_answer(text: &str) -> Result<Vec<Typed>, String> {
    let lower = text.trim().to_lowercase();
    let body = lower.strip_prefix("torch.size").unwrap_or(&lower);
    let mut out = Vec::new();
    for token in body.split(|c: char| c.is_whitespace() || ",;[]()".contains(c)) {
        if token.is_empty() {
            continue;
        }
        // `bsz=2`: the size is 2, and the name says which axis the learner means.
        let (name, value) = match token.rsplit_once('=') {
            Some((n, v)) => (Some(n.to_string()), v),
            None => (None, token),
        };
        for part in value.split(['x', '×', '*']) {
            if part.is_empty() {
                continue;
            }
            let size = part.parse::<usize>().map_err(|_| {
                format!("could not read '{part}' as a size: type the sizes, like 2 8 5 64")
            })?;
            out.push(Typed {
                name: name.clone(),
                size,
            });
        }
    }
    if out.is_empty() {
        return Err("type the sizes, like 2 8 5 64".into());
    }
    Ok(out)
}

/// The sizes of a typed shape, names dropped (what the tests read answers with).
#[cfg(test)]
pub fn parse_shape(text: &str) -> Result<Vec<usize>, String> {
    parse_answer(text).map(|t| t.into_iter().map(|a| a.size).collect())
}

/// A typed axis name in the form the tables write it (`n_heads*head_dim` as `n_heads·head_dim`;
/// `q_features` and `kv_features` as their products).
fn dim_name(typed: &str) -> String {
    let n = typed.trim().replace(['*', '×', '.'], "·");
    match n.as_str() {
        "q_features" => DimName::QFeatures.as_str().to_string(),
        "kv_features" => DimName::KvFeatures.as_str().to_string(),
        _ => n,
    }
}

/// How an answer compares with the right shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Right,
    /// Wrong: one explanation per dimension that differs (or for a wrong number of axes).
    Wrong(Vec<String>),
    /// The sizes are right but axes of equal size were not named: ask again, not counted.
    Unnamed(String),
}

impl ShapeQuestion {
    /// Axes whose size another axis of the answer shares: the learner must name them. Axes of
    /// size 1 are left out: `bsz=1` beside one KV head tells no two pictures apart.
    pub fn ambiguous(&self) -> Vec<usize> {
        let sizes = self.expected.sizes();
        (0..sizes.len())
            .filter(|&i| sizes[i] > 1 && sizes.iter().filter(|&&s| s == sizes[i]).count() > 1)
            .collect()
    }

    /// What the prompt adds when some axes must be named.
    pub fn naming_note(&self) -> Option<String> {
        let axes = self.ambiguous();
        let size = self.expected.dim(*axes.first()?).size;
        let count = axes
            .iter()
            .filter(|&&a| self.expected.dim(a).size == size)
            .count();
        Some(format!(
            "{} axes have size {size}: write their names too, like name={size}",
            if count == 2 {
                "two".to_string()
            } else {
                count.to_string()
            }
        ))
    }
}

pub fn check(q: &ShapeQuestion, typed: &[Typed]) -> Verdict {
    let want = q.expected.sizes();
    let sizes: Vec<usize> = typed.iter().map(|t| t.size).collect();
    if sizes.len() != want.len() {
        return Verdict::Wrong(vec![format!(
            "{} has {} axes, not {}: {}",
            q.tensor,
            want.len(),
            sizes.len(),
            q.expected.names().join(", ")
        )]);
    }
    let diffs: Vec<String> = (0..want.len())
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
    if !diffs.is_empty() {
        return Verdict::Wrong(diffs);
    }
    let ambiguous = q.ambiguous();
    if ambiguous.iter().any(|&i| typed[i].name.is_none()) {
        return Verdict::Unnamed(format!(
            "the sizes are right; now say which is which: {}",
            q.naming_note().unwrap_or_default()
        ));
    }
    let misnamed: Vec<String> = ambiguous
        .into_iter()
        .filter_map(|i| {
            let got = dim_name(typed[i].name.as_deref()?);
            let want = q.expected.dim(i);
            (got != want.name.as_str())
                .then(|| format!("dim {i} is {want}, not {got}: {}", q.why(i)))
        })
        .collect();
    if misnamed.is_empty() {
        Verdict::Right
    } else {
        Verdict::Wrong(misnamed)
    }
}
