//! The `attnstep shapes` report as plain data: every stage of the forward calls at any model
//! size, with shapes, element counts and bytes, and the memory figures an engineer asks for
//! (the KV cache of the whole model, the same model as MHA and MQA, the quadratic score
//! matrices). Laying it out is [`crate::render::report`]'s job.
//!
//! Every shape is read off the shapes-backend trace of the same forward pass the numeric run
//! uses, so the two cannot disagree. The work does not grow with the number of calls: later
//! calls whose shapes differ only in kv_len (a run of decode calls, or of equal chunks) are
//! grouped, and only the calls shown are traced, each on its own ([`memory::trace_step`]).
//!
//! # JSON (`--json`, format `attnstep-shapes/2`)
//!
//! [`ShapesReport`] serialised as is. Byte counts are per layer unless the field name says
//! `all_layers`; a shape is written as `shape` (sizes) and `dims` (axis names) side by side.
//!
//! - `format`; `config`: the configuration, with `steps` as runs
//!   `[{"seq_len": 4, "count": 1}, {"seq_len": 1, "count": 1000000}]`;
//!   `dtype` {`name`, `bytes`}; `layers`.
//! - `weights`: per weight `{name, shape, dims, numel, bytes}`; `weights_bytes_per_layer`,
//!   `weights_bytes_all_layers`.
//! - `step_count`: forward calls in the run.
//! - `steps`: the calls shown in full, in order: every call outside a group, the first and
//!   last call of each group, and the one `--step` picks. Each has `index` (1-based), `kind`,
//!   `start_pos`, `seq_len`, `kv_len`, `fused_attention`, `bytes` (its tensors together) and
//!   `stages`, each `{id, title, code, tensors, via}` with tensors as the weights are and
//!   `via` the shapes passed through without a tensor (`{label, shape, dims, numel}`).
//! - `groups`: each `{first, last, count, kind, seq_len, fused_attention, kv_len_first,
//!   kv_len_last, rule}`: calls `first` to `last` (1-based, at least three) have the same
//!   shapes but for kv_len, which follows `rule` (`kv_len = past_len + 1`).
//! - `kv_cache`, `scores` (the largest score matrix: `step`, `kind`, `shape`, `dims`, `numel`,
//!   `bytes`, `bytes_f32`, `fused_attention`), `compare` (MHA / this config / MQA) and `notes`.
//!
//! Changes from `attnstep-shapes/1`: `steps` held every call and `config.steps` every chunk
//! size; `step_count`, `groups` and `scores.kind` are new.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::config::Config;
use crate::dims::Shape;
use crate::memory::{self, Dtype, KvCache};
use crate::presets::{self, attention_kind};
use crate::trace::{Named, StageId, Step, StepKind};

pub const FORMAT: &str = "attnstep-shapes/2";

/// Fewest consecutive calls that form a group; two alike calls are simply both shown.
pub const GROUP_MIN: usize = 3;

/// Everything `attnstep shapes` prints, as plain data.
#[derive(Clone, Debug, Serialize)]
pub struct ShapesReport {
    pub format: &'static str,
    #[serde(serialize_with = "config_json")]
    pub config: Config,
    pub dtype: DtypeInfo,
    /// Layers the per-model totals multiply by (the tables themselves are one layer).
    pub layers: usize,
    pub weights: Vec<TensorRow>,
    pub weights_bytes_per_layer: u128,
    pub weights_bytes_all_layers: u128,
    /// Forward calls in the run.
    pub step_count: usize,
    /// The calls shown in full, in order (see the module documentation).
    pub steps: Vec<StepRow>,
    /// Runs of later calls that differ only in kv_len; only their ends are in `steps`.
    pub groups: Vec<StepGroup>,
    pub kv_cache: KvCache,
    pub scores: ScoresSummary,
    /// The KV cache of this config with the KV head count of MHA, this config and MQA.
    pub compare: Vec<CompareRow>,
    /// Caveats: how a preset's real model differs, lengths beyond its context.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DtypeInfo {
    pub name: Dtype,
    pub bytes: u128,
}

/// One tensor: its named shape, element count and size in the chosen dtype.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorRow {
    pub name: &'static str,
    #[serde(flatten)]
    pub shape: Shape,
    pub numel: u128,
    pub bytes: u128,
}

impl TensorRow {
    fn new(n: &Named<Shape>, dtype: Dtype) -> Self {
        TensorRow::sized(n.name(), &n.value, dtype)
    }

    fn sized(name: &'static str, shape: &Shape, dtype: Dtype) -> Self {
        let numel = shape.numel();
        TensorRow {
            name,
            shape: shape.clone(),
            numel,
            bytes: numel.saturating_mul(dtype.bytes()),
        }
    }
}

/// One stage of a call; serialised with its id, title and MiniMind line.
#[derive(Clone, Debug)]
pub struct StageRow {
    pub stage: StageId,
    pub tensors: Vec<TensorRow>,
    /// Shapes the Python passes through without keeping a tensor (repeat_kv's expand: a view).
    pub via: Vec<ViaRow>,
}

impl Serialize for StageRow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("StageRow", 5)?;
        st.serialize_field("id", self.stage.as_str())?;
        st.serialize_field("title", self.stage.title())?;
        st.serialize_field("code", self.stage.code())?;
        st.serialize_field("tensors", &self.tensors)?;
        st.serialize_field("via", &self.via)?;
        st.end()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ViaRow {
    pub label: &'static str,
    #[serde(flatten)]
    pub shape: Shape,
    pub numel: u128,
}

/// One forward call shown in full.
#[derive(Clone, Debug, Serialize)]
pub struct StepRow {
    /// 1-based, as `--step` counts.
    pub index: usize,
    #[serde(serialize_with = "kind_json")]
    pub kind: StepKind,
    pub start_pos: usize,
    pub seq_len: usize,
    pub kv_len: usize,
    /// Whether MiniMind takes the fused `scaled_dot_product_attention` path for this call,
    /// which never materialises scores and weights (see [`fused_attention`]).
    pub fused_attention: bool,
    pub stages: Vec<StageRow>,
    /// Sum of the tensors this call records (one layer).
    pub bytes: u128,
}

/// Consecutive later calls with the same seq_len and the same path: their shapes differ only
/// in kv_len, which grows by seq_len from call to call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepGroup {
    /// 1-based index of the first call.
    pub first: usize,
    /// 1-based index of the last call.
    pub last: usize,
    pub count: usize,
    #[serde(serialize_with = "kind_json")]
    pub kind: StepKind,
    pub seq_len: usize,
    pub fused_attention: bool,
    pub kv_len_first: usize,
    pub kv_len_last: usize,
    /// `kv_len = past_len + seq_len`, with the number.
    pub rule: String,
}

/// The `[bsz, n_heads, seq_len, kv_len]` matrices at their largest.
#[derive(Clone, Debug, Serialize)]
pub struct ScoresSummary {
    /// 1-based call holding the largest score matrix.
    pub step: usize,
    #[serde(serialize_with = "kind_json")]
    pub kind: StepKind,
    #[serde(flatten)]
    pub shape: Shape,
    pub numel: u128,
    /// One such matrix in the chosen dtype, one layer.
    pub bytes: u128,
    /// The f32 copy `F.softmax(scores.float())` reads.
    pub bytes_f32: u128,
    /// Whether MiniMind's fused path would skip materialising it in that call.
    pub fused_attention: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct CompareRow {
    /// "MHA", "GQA" or "MQA".
    pub variant: &'static str,
    pub num_key_value_heads: usize,
    /// True for the row that is the configuration being traced.
    pub this_config: bool,
    pub bytes_per_token_per_layer: u128,
    pub bytes_all_layers: u128,
    /// MHA's cache divided by this row's: how many times smaller it is.
    pub saving_vs_mha: f64,
}

/// Works out every size of `cfg` for `layers` layers in `dtype`. `pick` (0-based) is a call
/// to show in full even when it sits inside a group (`--step`).
pub fn report(cfg: &Config, layers: usize, dtype: Dtype, pick: Option<usize>) -> ShapesReport {
    let rule = FusedRule::new(cfg);
    let (groups, mut shown) = plan(cfg, &rule);
    if let Some(i) = pick.filter(|i| *i < cfg.steps.len() && !shown.contains(i)) {
        shown.push(i);
        shown.sort_unstable();
    }
    let mut weights = Vec::new();
    let mut steps = Vec::with_capacity(shown.len());
    for &i in &shown {
        let (w, step) = memory::trace_step(cfg, i);
        weights = w
            .iter()
            .map(|w| TensorRow::sized(w.id.name(), &w.value, dtype))
            .collect();
        steps.push(step_row(i, &step, &rule, dtype));
    }
    let weights_bytes_per_layer = weights
        .iter()
        .fold(0u128, |a, w: &TensorRow| a.saturating_add(w.bytes));

    let scores = scores_summary(&steps);
    let tokens = cfg.total_len();
    let kv = |n_kv: usize| memory::kv_cache(n_kv, cfg.head_dim, tokens, cfg.batch, layers, dtype);
    let mut variants = vec![cfg.num_attention_heads, cfg.num_key_value_heads, 1];
    variants.dedup();
    let compare = variants
        .into_iter()
        .map(|n_kv| {
            let k = kv(n_kv);
            CompareRow {
                variant: attention_kind(cfg.num_attention_heads, n_kv),
                num_key_value_heads: n_kv,
                this_config: n_kv == cfg.num_key_value_heads,
                bytes_per_token_per_layer: k.bytes_per_token_per_layer,
                bytes_all_layers: k.bytes_all_layers,
                saving_vs_mha: cfg.num_attention_heads as f64 / n_kv as f64,
            }
        })
        .collect();

    ShapesReport {
        format: FORMAT,
        config: cfg.clone(),
        dtype: DtypeInfo {
            name: dtype,
            bytes: dtype.bytes(),
        },
        layers,
        weights,
        weights_bytes_per_layer,
        weights_bytes_all_layers: weights_bytes_per_layer.saturating_mul(layers as u128),
        step_count: cfg.steps.len(),
        steps,
        groups,
        kv_cache: kv(cfg.num_key_value_heads),
        scores,
        compare,
        notes: notes(cfg),
    }
}

fn step_row(index: usize, step: &Step<Shape>, rule: &FusedRule, dtype: Dtype) -> StepRow {
    let stages: Vec<StageRow> = step
        .stages
        .iter()
        .map(|sg| StageRow {
            stage: sg.id,
            tensors: sg
                .tensors
                .iter()
                .map(|n| TensorRow::new(n, dtype))
                .collect(),
            via: sg
                .via
                .iter()
                .map(|(label, shape)| ViaRow {
                    label,
                    shape: shape.clone(),
                    numel: shape.numel(),
                })
                .collect(),
        })
        .collect();
    let bytes = stages
        .iter()
        .flat_map(|s| &s.tensors)
        .fold(0u128, |a, t| a.saturating_add(t.bytes));
    StepRow {
        index: index + 1,
        kind: step.kind,
        start_pos: step.start_pos,
        seq_len: step.seq_len,
        kv_len: step.kv_len(),
        fused_attention: rule.taken(step.start_pos, step.seq_len),
        stages,
        bytes,
    }
}

/// The largest score matrix among the calls shown. That is the largest of all calls: inside a
/// group the scores `[bsz, n_heads, seq_len, kv_len]` grow with kv_len, so a group's last call
/// (which is shown) holds its largest. On a tie the earliest call wins.
fn scores_summary(steps: &[StepRow]) -> ScoresSummary {
    steps
        .iter()
        .filter_map(|s| {
            let stage = s.stages.iter().find(|sg| sg.stage == StageId::Scores)?;
            Some((s, stage.tensors.first()?))
        })
        .max_by_key(|(s, t)| (t.numel, std::cmp::Reverse(s.index)))
        .map(|(s, t)| ScoresSummary {
            step: s.index,
            kind: s.kind,
            shape: t.shape.clone(),
            numel: t.numel,
            bytes: t.bytes,
            bytes_f32: t.numel.saturating_mul(4),
            fused_attention: s.fused_attention,
        })
        .expect("every call has a scores stage")
}

/// MiniMind's condition for the fused branch of `Attention.forward`:
/// `self.flash and seq_len > 1 and (not self.is_causal or past_key_value is None) and
/// (attention_mask is None or torch.all(attention_mask == 1))`, where the mask a call gets
/// covers its first kv_len columns.
struct FusedRule {
    causal: bool,
    /// Leading columns that are 1 in every row of the mask (everything without a mask).
    ones: usize,
}

impl FusedRule {
    fn new(cfg: &Config) -> Self {
        let ones = cfg.attention_mask.as_ref().map_or(usize::MAX, |rows| {
            rows.iter()
                .map(|r| r.iter().position(|&b| b != 1).unwrap_or(r.len()))
                .min()
                .unwrap_or(usize::MAX)
        });
        FusedRule {
            causal: cfg.causal,
            ones,
        }
    }

    /// Whether a call of `seq_len` new tokens after `start_pos` cached ones takes the branch
    /// (the first call, and only it, has no cache).
    fn taken(&self, start_pos: usize, seq_len: usize) -> bool {
        crate::forward::takes_fused_path(
            seq_len,
            self.causal,
            start_pos > 0,
            start_pos.saturating_add(seq_len) <= self.ones,
        )
    }
}

/// Whether MiniMind takes the fused `F.scaled_dot_product_attention` path for call `index`
/// (0-based) of `cfg`.
pub fn fused_attention(cfg: &Config, index: usize) -> bool {
    FusedRule::new(cfg).taken(cfg.start_pos(index), cfg.steps[index])
}

/// Splits the calls into groups and the calls to show, in one pass over the step list: the
/// first call, every later call outside a group, and each group's first and last call.
fn plan(cfg: &Config, rule: &FusedRule) -> (Vec<StepGroup>, Vec<usize>) {
    let mut groups = Vec::new();
    let mut shown = vec![0];
    let mut close = |g: StepGroup, shown: &mut Vec<usize>| {
        if g.count >= GROUP_MIN {
            shown.extend([g.first - 1, g.last - 1]);
            groups.push(g);
        } else {
            shown.extend(g.first - 1..g.last);
        }
    };
    let mut current: Option<StepGroup> = None;
    let mut start_pos = cfg.steps[0];
    for (i, &seq_len) in cfg.steps.iter().enumerate().skip(1) {
        let fused = rule.taken(start_pos, seq_len);
        let kv_len = start_pos.saturating_add(seq_len);
        match current.as_mut() {
            Some(g) if g.seq_len == seq_len && g.fused_attention == fused => {
                g.last = i + 1;
                g.count += 1;
                g.kv_len_last = kv_len;
            }
            _ => {
                if let Some(g) = current.take() {
                    close(g, &mut shown);
                }
                current = Some(StepGroup {
                    first: i + 1,
                    last: i + 1,
                    count: 1,
                    kind: StepKind::of(i, seq_len),
                    seq_len,
                    fused_attention: fused,
                    kv_len_first: kv_len,
                    kv_len_last: kv_len,
                    rule: format!("kv_len = past_len + {seq_len}"),
                });
            }
        }
        start_pos = kv_len;
    }
    if let Some(g) = current {
        close(g, &mut shown);
    }
    (groups, shown)
}

/// What the user should know about the preset behind `cfg`.
fn notes(cfg: &Config) -> Vec<String> {
    let Some(p) = cfg.preset.as_deref().and_then(presets::find) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if !p.note.is_empty() {
        out.push(format!("{}: {}", p.name, p.note));
    }
    if let Some(ctx) = p.max_position_embeddings
        && cfg.total_len() > ctx
    {
        out.push(format!(
            "{} tokens is past {}'s published context of {ctx} (max_position_embeddings); \
             the shapes still follow, the model was not built for it",
            cfg.total_len(),
            p.name
        ));
    }
    out
}

/// Writes the report as the JSON documented at the top of this module.
pub fn write_json(report: &ShapesReport, out: impl std::io::Write) -> serde_json::Result<()> {
    serde_json::to_writer(out, report)
}

fn kind_json<S: Serializer>(kind: &StepKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

/// A run of calls in `config.steps`.
#[derive(Serialize)]
struct StepsRun {
    seq_len: usize,
    count: usize,
}

/// The configuration as the trace export writes it, but with `steps` as runs, so a million
/// decode calls take one entry. The destructuring names every field, so a field added to
/// [`Config`] cannot be forgotten here.
fn config_json<S: Serializer>(cfg: &Config, s: S) -> Result<S::Ok, S::Error> {
    let Config {
        hidden_size,
        num_attention_heads,
        num_key_value_heads,
        head_dim,
        batch,
        steps,
        attention_mask,
        qk_norm,
        rms_norm_eps,
        rope_theta,
        causal,
        seed,
        tokens,
        preset,
        bug,
    } = cfg;
    let runs: Vec<StepsRun> = memory::runs(steps)
        .iter()
        .map(|r| StepsRun {
            seq_len: r.seq_len,
            count: r.count,
        })
        .collect();
    let mut st = s.serialize_struct("Config", 14)?;
    st.serialize_field("hidden_size", hidden_size)?;
    st.serialize_field("num_attention_heads", num_attention_heads)?;
    st.serialize_field("num_key_value_heads", num_key_value_heads)?;
    st.serialize_field("head_dim", head_dim)?;
    st.serialize_field("batch", batch)?;
    st.serialize_field("steps", &runs)?;
    st.serialize_field("attention_mask", attention_mask)?;
    st.serialize_field("qk_norm", qk_norm)?;
    st.serialize_field("rms_norm_eps", rms_norm_eps)?;
    st.serialize_field("rope_theta", rope_theta)?;
    st.serialize_field("causal", causal)?;
    st.serialize_field("seed", seed)?;
    st.serialize_field("tokens", tokens)?;
    st.serialize_field("preset", preset)?;
    if let Some(bug) = bug {
        st.serialize_field("bug", bug)?;
    }
    st.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSpec;

    fn config(steps: &[usize], causal: bool, mask: Option<&str>) -> Config {
        ConfigSpec {
            steps: Some(steps.to_vec()),
            causal: Some(causal),
            attention_mask: mask.map(|m| vec![m.to_owned()]),
            ..Default::default()
        }
        .resolve()
        .unwrap()
    }

    #[test]
    fn fused_path_follows_each_clause_of_minimind() {
        // seq_len > 1 and no cache and no mask: fused.
        assert!(fused_attention(&config(&[4], true, None), 0));
        // A one-token call never is.
        assert!(!fused_attention(&config(&[1], false, None), 0));
        // With a cache only a non-causal call is.
        assert!(!fused_attention(&config(&[4, 2], true, None), 1));
        assert!(fused_attention(&config(&[4, 2], false, None), 1));
        // A mask of all ones over the columns the call sees is no mask; one 0 among them is.
        assert!(fused_attention(&config(&[4], true, Some("1111")), 0));
        assert!(!fused_attention(&config(&[4], true, Some("0111")), 0));
        // The 0 in column 5 is past the first call's 4 columns, inside the second's 6.
        let late_pad = config(&[4, 2], false, Some("111101"));
        assert!(fused_attention(&late_pad, 0));
        assert!(!fused_attention(&late_pad, 1));
    }

    #[test]
    fn alike_later_calls_are_grouped_and_their_ends_shown() {
        // 4, then 2, 2, 2 (a group), then 1, 1, 1, 1 (another).
        let cfg = config(&[4, 2, 2, 2, 1, 1, 1, 1], true, None);
        let (groups, shown) = plan(&cfg, &FusedRule::new(&cfg));
        assert_eq!(shown, [0, 1, 3, 4, 7]);
        let ends: Vec<_> = groups
            .iter()
            .map(|g| (g.first, g.last, g.count, g.kv_len_first, g.kv_len_last))
            .collect();
        // kv_len: 6, 8, 10 for the chunks; 11 to 14 for the decode calls.
        assert_eq!(ends, [(2, 4, 3, 6, 10), (5, 8, 4, 11, 14)]);
        assert_eq!(groups[1].rule, "kv_len = past_len + 1");
        // Two alike calls are not a group; a change of path splits one.
        let cfg = config(&[4, 1, 1], true, None);
        assert_eq!(plan(&cfg, &FusedRule::new(&cfg)), (vec![], vec![0, 1, 2]));
        let cfg = config(&[2, 2, 2, 2, 2], false, Some("1111111011"));
        let (groups, shown) = plan(&cfg, &FusedRule::new(&cfg));
        assert!(groups.is_empty(), "fused for kv_len 4 and 6, not after");
        assert_eq!(shown, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_picked_call_inside_a_group_is_traced_exactly() {
        let cfg = config(&[3, 1, 1, 1, 1, 1], true, None);
        let r = report(&cfg, 1, Dtype::F32, Some(3));
        let shown: Vec<usize> = r.steps.iter().map(|s| s.index).collect();
        assert_eq!(shown, [1, 2, 4, 6]);
        assert_eq!((r.steps[2].start_pos, r.steps[2].kv_len), (5, 6));
        assert_eq!(r.step_count, 6);
    }
}
