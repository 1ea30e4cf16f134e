//! `attnstep shapes`: every stage of every step at any model size, shapes and bytes only.
//!
//! The table is read off `forward::trace(&cfg, &mut backend::Shapes)`, the same forward pass the
//! numeric run uses, so the two cannot disagree about a shape, and tracing a 70B model at 128k
//! context costs microseconds: the shapes backend holds no data proportional to the tensors.
//! On top of the trace come the memory figures an engineer asks for: the KV cache of the whole
//! model, the same model as MHA and MQA, and the quadratic score matrices.
//!
//! JSON (`--json`, format `attnstep-shapes/1`) is [`ShapesReport`] serialised as is: `config`,
//! `dtype` {name, bytes}, `layers`, `weights` and per step (`index`, `kind`, `start_pos`,
//! `seq_len`, `kv_len`, `fused_attention`) per stage (`id`, `title`, `code`, `via`) per tensor
//! `{name, shape, dims, numel, bytes}`; then `kv_cache`, `scores` and `compare`, and `notes`.
//! Byte counts are per layer unless the field name says `all_layers`.

use std::io::{self, Write};

use comfy_table::{CellAlignment, ContentArrangement, Table, presets::NOTHING};
use serde::Serialize;

use crate::backend::Shapes;
use crate::config::Config;
use crate::dims::Shape;
use crate::memory::{self, Dtype, KvCache, human_bytes};
use crate::presets::{self, attention_kind};
use crate::trace::{Named, StageId};

fn rows(tensors: &[Named<Shape>], dtype: Dtype) -> Vec<TensorRow> {
    tensors
        .iter()
        .map(|n| TensorRow::new(n.name(), &n.value, dtype))
        .collect()
}

pub const FORMAT: &str = "attnstep-shapes/1";

/// Everything `attnstep shapes` prints, as plain data.
#[derive(Clone, Debug, Serialize)]
pub struct ShapesReport {
    pub format: &'static str,
    pub config: Config,
    pub dtype: DtypeInfo,
    /// Layers the per-model totals multiply by (the table itself is one layer).
    pub layers: usize,
    pub weights: Vec<TensorRow>,
    pub weights_bytes_per_layer: u128,
    pub weights_bytes_all_layers: u128,
    pub steps: Vec<StepRow>,
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
    pub shape: Vec<usize>,
    pub dims: Vec<&'static str>,
    pub numel: u128,
    pub bytes: u128,
    #[serde(skip)]
    pub named_shape: Shape,
}

impl TensorRow {
    fn new(name: &'static str, shape: &Shape, dtype: Dtype) -> Self {
        let numel = shape.numel();
        TensorRow {
            name,
            shape: shape.sizes(),
            dims: shape.names(),
            numel,
            bytes: numel.saturating_mul(dtype.bytes()),
            named_shape: shape.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct StageRow {
    pub id: &'static str,
    pub title: &'static str,
    pub code: &'static str,
    pub tensors: Vec<TensorRow>,
    /// Shapes the Python passes through without keeping a tensor (repeat_kv's expand: a view).
    pub via: Vec<ViaRow>,
    #[serde(skip)]
    pub stage: StageId,
}

#[derive(Clone, Debug, Serialize)]
pub struct ViaRow {
    pub label: &'static str,
    pub shape: Vec<usize>,
    pub dims: Vec<&'static str>,
    pub numel: u128,
    #[serde(skip)]
    pub named_shape: Shape,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepRow {
    /// 1-based, as `--step` counts.
    pub index: usize,
    pub kind: &'static str,
    pub start_pos: usize,
    pub seq_len: usize,
    pub kv_len: usize,
    /// Whether MiniMind would take the fused `scaled_dot_product_attention` path for this call
    /// (seq_len > 1, no cache, no padding mask), which never materialises scores and weights.
    pub fused_attention: bool,
    pub stages: Vec<StageRow>,
    /// Sum of the tensors this step records (one layer).
    pub bytes: u128,
}

/// The `[bsz, n_heads, seq_len, kv_len]` matrices at their largest.
#[derive(Clone, Debug, Serialize)]
pub struct ScoresSummary {
    /// 1-based step holding the largest score matrix.
    pub step: usize,
    pub shape: Vec<usize>,
    pub dims: Vec<&'static str>,
    pub numel: u128,
    /// One such matrix in the chosen dtype, one layer.
    pub bytes: u128,
    /// The f32 copy `F.softmax(scores.float())` reads.
    pub bytes_f32: u128,
    /// Whether MiniMind's fused path would skip materialising it in that step.
    pub fused_attention: bool,
    #[serde(skip)]
    pub named_shape: Shape,
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

/// Traces `cfg` with the shapes backend and works out every size for `layers` layers in `dtype`.
pub fn report(cfg: &Config, layers: usize, dtype: Dtype) -> ShapesReport {
    let trace = crate::forward::trace(cfg, &mut Shapes);
    let weights: Vec<TensorRow> = trace
        .weights
        .iter()
        .map(|w| TensorRow::new(w.id.name(), &w.value, dtype))
        .collect();
    let weights_bytes_per_layer = weights.iter().fold(0u128, |a, w| a.saturating_add(w.bytes));

    let steps: Vec<StepRow> = trace
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let stages: Vec<StageRow> = step
                .stages
                .iter()
                .map(|sg| StageRow {
                    id: sg.id.as_str(),
                    title: sg.id.title(),
                    code: sg.id.code(),
                    tensors: rows(&sg.tensors, dtype),
                    via: sg
                        .via
                        .iter()
                        .map(|(label, shape)| ViaRow {
                            label,
                            shape: shape.sizes(),
                            dims: shape.names(),
                            numel: shape.numel(),
                            named_shape: shape.clone(),
                        })
                        .collect(),
                    stage: sg.id,
                })
                .collect();
            let bytes = stages
                .iter()
                .flat_map(|s| &s.tensors)
                .fold(0u128, |a, t| a.saturating_add(t.bytes));
            StepRow {
                index: i + 1,
                kind: step.kind.as_str(),
                start_pos: step.start_pos,
                seq_len: step.seq_len,
                kv_len: step.kv_len(),
                fused_attention: step.seq_len > 1
                    && step.start_pos == 0
                    && cfg.attention_mask.is_none(),
                stages,
                bytes,
            }
        })
        .collect();

    let scores = steps
        .iter()
        .filter_map(|s| {
            let t = s
                .stages
                .iter()
                .flat_map(|sg| &sg.tensors)
                .find(|t| t.name == "scores")?;
            Some((s, t))
        })
        .max_by_key(|(s, t)| (t.numel, std::cmp::Reverse(s.index)))
        .map(|(s, t)| ScoresSummary {
            step: s.index,
            shape: t.shape.clone(),
            dims: t.dims.clone(),
            numel: t.numel,
            bytes: t.bytes,
            bytes_f32: t.numel.saturating_mul(4),
            fused_attention: s.fused_attention,
            named_shape: t.named_shape.clone(),
        })
        .expect("every step has a scores stage");

    let tokens = cfg.total_len();
    let kv = |n_kv: usize| memory::kv_cache(n_kv, cfg.head_dim, tokens, cfg.batch, layers, dtype);
    let kv_cache = kv(cfg.num_key_value_heads);
    let mha = kv(cfg.num_attention_heads);
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
        .collect::<Vec<_>>();
    debug_assert!(compare[0].bytes_all_layers == mha.bytes_all_layers);

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
        steps,
        kv_cache,
        scores,
        compare,
        notes: notes(cfg),
    }
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

/// How `write_text` prints the report.
#[derive(Clone, Debug, Default)]
pub struct TextOptions {
    /// Show exact byte counts beside the human units.
    pub exact_bytes: bool,
    /// Add the MHA / this config / MQA KV-cache table.
    pub compare: bool,
    /// Only this stage in the step tables.
    pub stage: Option<StageId>,
    /// Only this step (0-based).
    pub step: Option<usize>,
}

/// Writes the report as the JSON documented at the top of this module.
pub fn write_json(report: &ShapesReport, out: impl Write) -> serde_json::Result<()> {
    serde_json::to_writer(out, report)
}

/// Writes the report as aligned plain text.
pub fn write_text(out: &mut dyn Write, r: &ShapesReport, opt: &TextOptions) -> io::Result<()> {
    let cfg = &r.config;
    let size = |b: u128| sized(b, opt.exact_bytes);
    let kind = attention_kind(cfg.num_attention_heads, cfg.num_key_value_heads);
    let name = cfg.preset.as_deref().and_then(presets::find);
    match name {
        Some(p) if is_unchanged(p, cfg) => writeln!(out, "{} ({})", p.name, p.source)?,
        Some(p) => writeln!(
            out,
            "{} with values changed by flags (preset from {})",
            p.name, p.source
        )?,
        None => writeln!(out, "configuration from flags (no preset)")?,
    }
    writeln!(
        out,
        "  hidden_size {} · {} query heads · {} KV heads ({kind}, n_rep {}) · head_dim {} · \
         batch {} · {} layer{}{}",
        cfg.hidden_size,
        cfg.num_attention_heads,
        cfg.num_key_value_heads,
        cfg.n_rep(),
        cfg.head_dim,
        cfg.batch,
        r.layers,
        if r.layers == 1 { "" } else { "s" },
        if cfg.qk_norm { " · QK-norm" } else { "" },
    )?;
    writeln!(
        out,
        "  steps {} → kv_len {} · {} ({} byte{} per element) · tables show one attention layer",
        steps_text(&r.steps),
        cfg.total_len(),
        r.dtype.name,
        r.dtype.bytes,
        if r.dtype.bytes == 1 { "" } else { "s" },
    )?;

    for step in &r.steps {
        if opt.step.is_some_and(|s| s + 1 != step.index) {
            continue;
        }
        let stages: Vec<&StageRow> = step
            .stages
            .iter()
            .filter(|s| opt.stage.is_none_or(|id| id == s.stage))
            .collect();
        if stages.is_empty() {
            continue;
        }
        writeln!(out)?;
        writeln!(
            out,
            "step {}/{} · {} · seq_len {} · past_len {} · kv_len {}",
            step.index,
            r.steps.len(),
            step.kind,
            step.seq_len,
            step.start_pos,
            step.kv_len
        )?;
        let mut table = new_table(&[
            "stage",
            "tensor",
            "shape",
            "elements",
            r.dtype.name.as_str(),
        ]);
        for sg in stages {
            for (i, t) in sg.tensors.iter().enumerate() {
                table.add_row(vec![
                    if i == 0 { sg.id } else { "" }.to_owned(),
                    t.name.to_owned(),
                    t.named_shape.to_string(),
                    thousands(t.numel),
                    size(t.bytes),
                ]);
            }
            for v in &sg.via {
                table.add_row(vec![
                    String::new(),
                    "↳ expand".to_owned(),
                    v.named_shape.to_string(),
                    thousands(v.numel),
                    "view".to_owned(),
                ]);
            }
        }
        right_align(&mut table, &[3, 4]);
        put_table(out, &table)?;
        if opt.stage.is_none() {
            writeln!(
                out,
                "  all tensors of this step together: {} (one layer)",
                size(step.bytes)
            )?;
        }
    }

    writeln!(out)?;
    writeln!(
        out,
        "attention weights: {} per layer; × {} layer{} = {}",
        size(r.weights_bytes_per_layer),
        r.layers,
        if r.layers == 1 { "" } else { "s" },
        size(r.weights_bytes_all_layers),
    )?;
    let mut table = new_table(&["", "weight", "shape", "elements", r.dtype.name.as_str()]);
    for w in &r.weights {
        table.add_row(vec![
            String::new(),
            w.name.to_owned(),
            w.named_shape.to_string(),
            thousands(w.numel),
            size(w.bytes),
        ]);
    }
    right_align(&mut table, &[3, 4]);
    put_table(out, &table)?;

    let kv = &r.kv_cache;
    writeln!(out)?;
    writeln!(
        out,
        "KV cache: keys (after RoPE) and values, kept before repeat_kv, in {}",
        r.dtype.name
    )?;
    let mut table = new_table(&["", "", "size"]);
    table.add_row(vec![
        "per token, per layer".to_owned(),
        format!(
            "2 (k and v) × {} KV heads × head_dim {} × {} B",
            kv.num_key_value_heads, kv.head_dim, kv.dtype_bytes
        ),
        size(kv.bytes_per_token_per_layer),
    ]);
    table.add_row(vec![
        "whole sequence, per layer".to_owned(),
        format!("× {} tokens × batch {}", kv.tokens, kv.batch),
        size(kv.bytes_per_layer),
    ]);
    table.add_row(vec![
        "all layers".to_owned(),
        format!(
            "× {} layer{}",
            kv.layers,
            if kv.layers == 1 { "" } else { "s" }
        ),
        size(kv.bytes_all_layers),
    ]);
    right_align(&mut table, &[2]);
    put_table(out, &table)?;

    if opt.compare {
        writeln!(out)?;
        writeln!(
            out,
            "the same KV cache as MHA and MQA ({} tokens, batch {}, {} layer{}, {})",
            kv.tokens,
            kv.batch,
            kv.layers,
            if kv.layers == 1 { "" } else { "s" },
            r.dtype.name
        )?;
        let mut table = new_table(&[
            "variant",
            "n_kv_heads",
            "per token per layer",
            "all layers",
            "vs MHA",
        ]);
        for c in &r.compare {
            table.add_row(vec![
                format!(
                    "{}{}",
                    c.variant,
                    if c.this_config { " (this)" } else { "" }
                ),
                c.num_key_value_heads.to_string(),
                size(c.bytes_per_token_per_layer),
                size(c.bytes_all_layers),
                if c.saving_vs_mha == 1.0 {
                    "1×".to_owned()
                } else {
                    format!("{}× smaller", ratio(c.saving_vs_mha))
                },
            ]);
        }
        right_align(&mut table, &[1, 2, 3, 4]);
        put_table(out, &table)?;
    }

    let s = &r.scores;
    let step = &r.steps[s.step - 1];
    writeln!(out)?;
    writeln!(
        out,
        "scores and weights [bsz, n_heads, seq_len, kv_len], largest in step {} ({}):",
        s.step, step.kind
    )?;
    writeln!(out, "  {}: {} elements", s.named_shape, thousands(s.numel))?;
    writeln!(
        out,
        "  {} each in {}, per layer: scores, scores_masked and weights",
        size(s.bytes),
        r.dtype.name
    )?;
    writeln!(
        out,
        "  {} for the f32 copy softmax reads (F.softmax(scores.float(), dim=-1))",
        size(s.bytes_f32)
    )?;
    writeln!(
        out,
        "  they grow with seq_len × kv_len: at 2× this length {}, at 4× {};\n  \
         a decode step's are [bsz, n_heads, 1, kv_len], linear in the length",
        size(s.bytes.saturating_mul(4)),
        size(s.bytes.saturating_mul(16)),
    )?;
    writeln!(
        out,
        "  MiniMind's fused path, F.scaled_dot_product_attention, never materialises them;\n  \
         it is taken when seq_len > 1 with no cache and no padding mask: {}",
        if s.fused_attention {
            format!("here, in step {}", s.step)
        } else {
            format!("not in step {}, so MiniMind builds them as shown", s.step)
        }
    )?;

    for note in &r.notes {
        writeln!(out)?;
        for line in wrap(&format!("note: {note}"), 96) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// Writes the `attnstep presets` table: attention dimensions, then each preset's source and notes.
pub fn write_presets(out: &mut dyn Write) -> io::Result<()> {
    let mut table = new_table(&[
        "preset",
        "attention",
        "hidden",
        "heads",
        "kv_heads",
        "n_rep",
        "head_dim",
        "layers",
        "qk_norm",
        "rms_norm_eps",
        "rope_theta",
        "context",
    ]);
    for p in presets::PRESETS {
        table.add_row(vec![
            p.name.to_owned(),
            p.attention_kind().to_owned(),
            p.hidden_size.to_string(),
            p.num_attention_heads.to_string(),
            p.num_key_value_heads.to_string(),
            (p.num_attention_heads / p.num_key_value_heads).to_string(),
            p.head_dim.to_string(),
            p.num_hidden_layers.to_string(),
            if p.qk_norm { "yes" } else { "no" }.to_owned(),
            format!("{:e}", p.rms_norm_eps),
            if p.name == "gpt2" {
                "none*".to_owned()
            } else {
                format!("{:e}", p.rope_theta)
            },
            p.max_position_embeddings
                .map_or("?".to_owned(), |c| c.to_string()),
        ]);
    }
    right_align(&mut table, &[2, 3, 4, 5, 6, 7, 9, 10, 11]);
    put_table(out, &table)?;
    writeln!(out)?;
    writeln!(
        out,
        "context = max_position_embeddings of the published config; ? = not stated."
    )?;
    writeln!(
        out,
        "* GPT-2 has learned positions, not RoPE; attnstep stands in RoPE with theta {:e}.",
        presets::find("gpt2").map_or(1e4, |p| p.rope_theta)
    )?;
    writeln!(out)?;
    for p in presets::PRESETS {
        writeln!(out, "{}: {}", p.name, p.source)?;
        if !p.note.is_empty() {
            writeln!(out, "    {}", p.note)?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Use one with --preset NAME (e.g. attnstep shapes --preset llama-3-8b --seq-len 8192); \
         flags such as --num-kv-heads override its values."
    )
}

/// Whether `cfg` still has every attention value of preset `p`.
fn is_unchanged(p: &presets::Preset, cfg: &Config) -> bool {
    (
        p.hidden_size,
        p.num_attention_heads,
        p.num_key_value_heads,
        p.head_dim,
        p.qk_norm,
    ) == (
        cfg.hidden_size,
        cfg.num_attention_heads,
        cfg.num_key_value_heads,
        cfg.head_dim,
        cfg.qk_norm,
    ) && p.rms_norm_eps == cfg.rms_norm_eps
        && p.rope_theta == cfg.rope_theta
}

fn steps_text(steps: &[StepRow]) -> String {
    const SHOWN: usize = 6;
    let mut parts: Vec<String> = steps
        .iter()
        .take(SHOWN)
        .map(|s| s.seq_len.to_string())
        .collect();
    if steps.len() > SHOWN {
        parts.push(format!("… ({} calls)", steps.len()));
    }
    parts.join(",")
}

/// Writes a table without the trailing spaces of its padding.
fn put_table(out: &mut dyn Write, table: &Table) -> io::Result<()> {
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    table
}

fn right_align(table: &mut Table, columns: &[usize]) {
    for &c in columns {
        if let Some(col) = table.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// `1073741824` → `1 GiB`, or `1 GiB (1073741824 B)` with exact bytes.
fn sized(bytes: u128, exact: bool) -> String {
    if exact && bytes >= 1024 {
        format!("{} ({bytes} B)", human_bytes(bytes))
    } else {
        human_bytes(bytes)
    }
}

/// `33554432` → `33,554,432`.
pub fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Breaks `text` into lines of at most `width` characters at spaces (longer words stay whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `4.0` → `4`, `2.4` → `2.4`.
fn ratio(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(33_554_432), "33,554,432");
        assert_eq!(ratio(4.0), "4");
        assert_eq!(ratio(2.4), "2.4");
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefg hi", 3), vec!["abcdefg", "hi"]);
    }
}
