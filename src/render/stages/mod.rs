//! The numbers each stage shows, for the selected batch row and head: the matrices that teach
//! something (scores, masks, weights), the cache before and after, the head-sharing map, the
//! RoPE rows before and after rotation with a table of its relative-position property, the
//! QK-norm row norms, the effect of ÷√head_dim, which branch MiniMind takes, and compact
//! tables of the vector-valued tensors (banded by head where a stage is about heads).

use comfy_table::Cell;

use super::matrix::{Bands, Grid, Kind, fmt_num};
use super::palette::{Palette, Role};
use super::view::View;
use crate::numeric::Tensor;
use crate::stage::{HeadOf, Heat, Show, TensorId};
use crate::trace::Trace;

mod cache;
mod ctx;
mod masks;
mod rope;

use cache::*;
use ctx::*;
pub use ctx::{pos_label, slice2};
use masks::*;
use rope::*;

/// The number sections of one stage, each a block of lines, in the order its descriptor's
/// [`Show`] list gives.
pub fn numbers(
    trace: &Trace<Tensor>,
    step: usize,
    stage: usize,
    view: &View,
    pal: &Palette,
) -> Vec<String> {
    let cfg = &trace.config;
    let st = &trace.steps[step];
    let h = view.head.min(cfg.num_attention_heads - 1);
    let c = Ctx {
        trace,
        cfg,
        st,
        view,
        pal,
        b: view.batch.min(cfg.batch - 1),
        h,
        kvh: h / cfg.n_rep(),
        tokens: labels(cfg, view, view.batch.min(cfg.batch - 1)),
    };
    let mut out = Vec::new();
    for show in st.stages[stage].id.spec().show {
        out.extend(block(&c, step, *show));
    }
    out
}

/// One [`Show`] block; none when the tensor it shows is not in this step.
fn block(c: &Ctx, step: usize, show: Show) -> Vec<String> {
    let (b, h, kvh) = (c.b, c.h, c.kvh);
    let one = |s: Option<String>| s.into_iter().collect::<Vec<_>>();
    match show {
        Show::Tokens(id, caption) => one(c.t(id).map(|t| {
            c.vectors(
                format!("{id}[b={b}]  {caption}"),
                slice2(t, &[Some(b), None, None]),
                &index,
            )
        })),
        Show::Features(id, of, caption) => one(c.t(id).map(|t| features(c, id, t, of, caption))),
        Show::Head(id, HeadOf::Query) => one(c.t(id).map(|t| {
            c.vectors(
                format!("{id}[b={b}, :, h={h}, :]  query head {h}"),
                slice2(t, &[Some(b), None, Some(h), None]),
                &index,
            )
        })),
        Show::Head(id, HeadOf::Kv) => one(c.t(id).map(|t| {
            c.vectors(
                format!("{id}[b={b}, :, {kvh}, :]  key head {kvh} (read by query head {h})"),
                slice2(t, &[Some(b), None, Some(kvh), None]),
                &index,
            )
        })),
        Show::Attention(id, heat, caption) => one(c.t(id).map(|t| {
            let (kind, row_sum) = match heat {
                Heat::Signed => (Kind::Signed { scale: None }, false),
                Heat::Masked => (Kind::Masked, false),
                Heat::Weights => (Kind::Weights, true),
            };
            c.attention(
                format!("{id}[b={b}, h={h}]  {caption}"),
                slice2(t, &[Some(b), Some(h), None, None]),
                kind,
                row_sum,
            )
        })),
        Show::HeadRows(id) => one(c.t(id).map(|t| {
            c.vectors(
                format!("{id}[b={b}, h={h}]  rows: queries · columns: head_dim"),
                slice2(t, &[Some(b), Some(h), None, None]),
                &index,
            )
        })),
        Show::HeadColumns(id) => one(c.t(id).map(|t| {
            let hd = c.cfg.head_dim;
            let col = |j: usize| (j % hd).to_string();
            let band = |g: usize| format!("h{g}");
            let row = |i: usize| c.query_row(i);
            c.grid(
                Grid::new(
                    format!("{id}[b={b}]  columns: head, then feature within the head"),
                    slice2(t, &[Some(b), None, None]),
                    "pos",
                    &row,
                    &col,
                    Kind::Values { scale: None },
                )
                .cols_in(Bands {
                    size: hd,
                    keep: Some(h),
                    pin: None,
                    label: Some(&band),
                }),
            )
        })),
        Show::CausalMask => causal(c),
        Show::QkNorms => vec![qk_norms(c)],
        Show::Rope => rope(c),
        Show::RopeRows => rope_rows(c),
        Show::RopeRelative => one(rope_relative(c)),
        Show::KvCache => kv_cache(c, step),
        Show::RepeatKv => repeat_kv(c),
        Show::Padding => padding(c),
        Show::Predictions => predictions(c),
        Show::ScaleView => one(scale_view(c)),
        Show::FusedPath => vec![fused_path(c)],
    }
}

/// A projection `[bsz, tokens, heads·head_dim]` with its columns banded by the head that will
/// own them after the split, the selected head's band shown whole.
fn features(c: &Ctx, id: TensorId, t: &Tensor, of: HeadOf, caption: &str) -> String {
    let hd = c.cfg.head_dim;
    let (prefix, keep) = match of {
        HeadOf::Query => ("h", c.h),
        HeadOf::Kv => ("kv", c.kvh),
    };
    let band = |g: usize| format!("{prefix}{g}");
    let row = |i: usize| c.query_row(i);
    c.grid(
        Grid::new(
            format!(
                "{id}[b={}]  {caption} ({prefix}{keep} = features {}…{})",
                c.b,
                keep * hd,
                (keep + 1) * hd - 1
            ),
            slice2(t, &[Some(c.b), None, None]),
            "pos",
            &row,
            &index,
            Kind::Values { scale: None },
        )
        .cols_in(Bands {
            size: hd,
            keep: Some(keep),
            pin: None,
            label: Some(&band),
        }),
    )
}

/// The whole model's five most likely next tokens, as a table with a bar per probability.
fn predictions(c: &Ctx) -> Vec<String> {
    let Some(m) = c.trace.model.as_ref() else {
        return Vec::new();
    };
    let mut table = table(c, vec!["rank", "next token", "id", "probability"]);
    for (rank, (id, label, p)) in m.top5.iter().enumerate() {
        let bar = "█".repeat((p.clamp(0.0, 1.0) * 20.0).round() as usize);
        table.add_row(vec![
            Cell::new(rank + 1),
            Cell::new(crate::text::printable_line(label)),
            Cell::new(id),
            Cell::new(format!("{} {bar}", fmt_num(*p, c.view.precision))),
        ]);
    }
    let after = m.token_ids.len().saturating_sub(1);
    vec![format!(
        "{}\n{table}\n",
        c.pal.paint(
            &format!(
                "next token after position {after} ({} in all)",
                m.token_ids.len()
            ),
            Role::Heading
        )
    )]
}
