//! `attnstep shapes` and `attnstep presets` as aligned plain text: the [`ShapesReport`] laid out
//! in tables (comfy-table without borders), numbers grouped by thousands, notes wrapped.
//!
//! Nothing here computes a size; every figure comes from the report.

use std::io::{self, Write};

use comfy_table::{CellAlignment, ContentArrangement, Table, presets::NOTHING};

use crate::config::Config;
use crate::memory::human_bytes;
use crate::presets::{self, attention_kind};
use crate::report::{ShapesReport, StageRow, StepGroup, StepRow};
use crate::text::{thousands, wrap};
use crate::trace::StageId;

/// Width notes are wrapped to.
const PROSE_WIDTH: usize = 96;

/// How [`write_text`] prints the report.
#[derive(Clone, Debug, Default)]
pub struct TextOptions {
    /// Show exact byte counts beside the human units.
    pub exact_bytes: bool,
    /// Add the MHA / this config / MQA KV-cache table.
    pub compare: bool,
    /// Only this stage in the step tables.
    pub stage: Option<StageId>,
    /// Only this step (0-based); the report must hold it (see [`crate::report::report`]).
    pub step: Option<usize>,
}

/// Writes the report as aligned plain text.
pub fn write_text(out: &mut dyn Write, r: &ShapesReport, opt: &TextOptions) -> io::Result<()> {
    write_header(out, r)?;
    for step in &r.steps {
        if opt.step.is_some_and(|s| s + 1 != step.index) {
            continue;
        }
        if opt.step.is_none()
            && let Some(g) = r.groups.iter().find(|g| g.first == step.index)
        {
            write_group(out, g)?;
        }
        write_step(out, r, step, opt)?;
    }
    write_weights(out, r, opt)?;
    write_kv_cache(out, r, opt)?;
    if opt.compare {
        write_compare(out, r, opt)?;
    }
    write_scores(out, r, opt)?;
    for note in &r.notes {
        writeln!(out)?;
        for line in wrap(&format!("note: {note}"), PROSE_WIDTH, "") {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

fn write_header(out: &mut dyn Write, r: &ShapesReport) -> io::Result<()> {
    let cfg = &r.config;
    let kind = attention_kind(cfg.num_attention_heads, cfg.num_key_value_heads);
    match cfg.preset.as_deref().and_then(presets::find) {
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
        plural(r.layers),
        if cfg.qk_norm { " · QK-norm" } else { "" },
    )?;
    writeln!(
        out,
        "  steps {} → kv_len {} · {} ({} byte{} per element) · tables show one attention layer",
        steps_text(&cfg.steps),
        cfg.total_len(),
        r.dtype.name,
        r.dtype.bytes,
        plural(r.dtype.bytes as usize),
    )
}

/// The line before a group's first call: which calls it covers and how kv_len moves.
fn write_group(out: &mut dyn Write, g: &StepGroup) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "steps {} to {}: {} {} calls with the same shapes but for {},",
        g.first,
        g.last,
        g.count,
        g.kind.as_str(),
        g.rule
    )?;
    writeln!(
        out,
        "  from {} to {}; the first and the last follow (--step N shows any one)",
        g.kv_len_first, g.kv_len_last
    )
}

fn write_step(
    out: &mut dyn Write,
    r: &ShapesReport,
    step: &StepRow,
    opt: &TextOptions,
) -> io::Result<()> {
    let stages: Vec<&StageRow> = step
        .stages
        .iter()
        .filter(|s| opt.stage.is_none_or(|id| id == s.stage))
        .collect();
    if stages.is_empty() {
        return Ok(());
    }
    let size = |b: u128| sized(b, opt.exact_bytes);
    writeln!(out)?;
    writeln!(
        out,
        "step {}/{} · {} · seq_len {} · past_len {} · kv_len {}",
        step.index,
        r.step_count,
        step.kind.as_str(),
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
                if i == 0 { sg.stage.as_str() } else { "" }.to_owned(),
                t.name.to_owned(),
                t.shape.to_string(),
                thousands(t.numel),
                size(t.bytes),
            ]);
        }
        for v in &sg.via {
            table.add_row(vec![
                String::new(),
                "↳ expand".to_owned(),
                v.shape.to_string(),
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
    Ok(())
}

fn write_weights(out: &mut dyn Write, r: &ShapesReport, opt: &TextOptions) -> io::Result<()> {
    let size = |b: u128| sized(b, opt.exact_bytes);
    writeln!(out)?;
    writeln!(
        out,
        "attention weights: {} per layer; × {} layer{} = {}",
        size(r.weights_bytes_per_layer),
        r.layers,
        plural(r.layers),
        size(r.weights_bytes_all_layers),
    )?;
    let mut table = new_table(&["", "weight", "shape", "elements", r.dtype.name.as_str()]);
    for w in &r.weights {
        table.add_row(vec![
            String::new(),
            w.name.to_owned(),
            w.shape.to_string(),
            thousands(w.numel),
            size(w.bytes),
        ]);
    }
    right_align(&mut table, &[3, 4]);
    put_table(out, &table)
}

fn write_kv_cache(out: &mut dyn Write, r: &ShapesReport, opt: &TextOptions) -> io::Result<()> {
    let size = |b: u128| sized(b, opt.exact_bytes);
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
        format!("× {} layer{}", kv.layers, plural(kv.layers)),
        size(kv.bytes_all_layers),
    ]);
    right_align(&mut table, &[2]);
    put_table(out, &table)
}

fn write_compare(out: &mut dyn Write, r: &ShapesReport, opt: &TextOptions) -> io::Result<()> {
    let size = |b: u128| sized(b, opt.exact_bytes);
    let kv = &r.kv_cache;
    writeln!(out)?;
    writeln!(
        out,
        "the same KV cache as MHA and MQA ({} tokens, batch {}, {} layer{}, {})",
        kv.tokens,
        kv.batch,
        kv.layers,
        plural(kv.layers),
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
    put_table(out, &table)
}

fn write_scores(out: &mut dyn Write, r: &ShapesReport, opt: &TextOptions) -> io::Result<()> {
    let size = |b: u128| sized(b, opt.exact_bytes);
    let s = &r.scores;
    writeln!(out)?;
    writeln!(
        out,
        "scores and weights [bsz, n_heads, seq_len, kv_len], largest in step {} ({}):",
        s.step,
        s.kind.as_str()
    )?;
    writeln!(out, "  {}: {} elements", s.shape, thousands(s.numel))?;
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
         it is taken when seq_len > 1, there is no cache (or attention is not causal)\n  \
         and the mask is absent or all ones: {}",
        if s.fused_attention {
            format!("here, in step {}", s.step)
        } else {
            format!("not in step {}, so MiniMind builds them as shown", s.step)
        }
    )
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

/// `4,1,1` for the first few chunk sizes, then how many calls there are in all.
fn steps_text(steps: &[usize]) -> String {
    const SHOWN: usize = 6;
    let mut parts: Vec<String> = steps.iter().take(SHOWN).map(usize::to_string).collect();
    if steps.len() > SHOWN {
        parts.push(format!("… ({} calls)", steps.len()));
    }
    parts.join(",")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
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
    if exact && (1024..u128::MAX).contains(&bytes) {
        format!("{} ({bytes} B)", human_bytes(bytes))
    } else {
        human_bytes(bytes)
    }
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
    fn small_formats() {
        assert_eq!(ratio(4.0), "4");
        assert_eq!(ratio(2.4), "2.4");
        assert_eq!(steps_text(&[4, 1, 1]), "4,1,1");
        assert_eq!(
            steps_text(&[4, 1, 1, 1, 1, 1, 1]),
            "4,1,1,1,1,1,… (7 calls)"
        );
        assert_eq!(sized(2048, true), "2 KiB (2048 B)");
        assert_eq!(sized(u128::MAX, true), "more than 2.95e20 EiB");
    }
}
