//! The numbers each stage shows, for the selected batch row and head: the matrices that teach
//! something (scores, masks, weights), the cache before and after, the head-sharing map, the
//! RoPE rows before and after rotation with a table of its relative-position property, the
//! QK-norm row norms, the effect of ÷√head_dim, which branch MiniMind takes, and compact
//! tables of the vector-valued tensors (banded by head where a stage is about heads).

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use ndarray::{Array2, ArrayView2, Axis, Ix2};

use super::View;
use super::demos;
use super::matrix::{self, Bands, Grid, Kind, fmt_num, matrix_style, plan};
use super::palette::{Palette, Role};
use crate::config::Config;
use crate::forward::takes_fused_path;
use crate::numeric::Tensor;
use crate::stage::{HeadOf, Heat, Show, TensorId};
use crate::trace::{Step, Trace};

mod cache;
mod masks;
mod rope;

use cache::*;
use masks::*;
use rope::*;

/// A 2-D view of `t`: axes with `Some(i)` fixed at `i`, the two `None` axes kept.
pub fn slice2<'a>(t: &'a Tensor, idx: &[Option<usize>]) -> ArrayView2<'a, f32> {
    let mut v = t.data.view();
    for (axis, i) in idx.iter().enumerate().rev() {
        if let Some(i) = i {
            v = v.index_axis_move(Axis(axis), *i);
        }
    }
    v.into_dimensionality::<Ix2>()
        .expect("exactly two axes are left free")
}

/// Keeps token labels short enough for a column header.
fn short(tok: &str) -> String {
    let n = tok.chars().count();
    if n <= 7 {
        tok.to_string()
    } else {
        format!("{}…", tok.chars().take(6).collect::<String>())
    }
}

/// A row label for position `pos`: "5" or "5 sat".
pub fn pos_label(tokens: Option<&[String]>, pos: usize) -> String {
    match tokens {
        Some(t) if pos < t.len() => format!("{pos} {}", short(&t[pos])),
        _ => pos.to_string(),
    }
}

/// The labels of batch row `b`'s positions: the view's for that row (a lesson's labels per
/// row), else the configuration's.
fn labels<'a>(cfg: &'a Config, view: &'a View, b: usize) -> Option<&'a [String]> {
    match view.row_tokens.as_deref().and_then(|rows| rows.get(b)) {
        Some(row) => Some(row),
        None => cfg.tokens.as_deref(),
    }
}

/// A column header for key position `pos`: the position, the token, and in a step after the
/// first, whether the key came from the cache or is new.
fn key_header(tokens: Option<&[String]>, st: &Step<Tensor>, pos: usize, pal: &Palette) -> String {
    let mut s = pos.to_string();
    if let Some(t) = tokens.and_then(|t| t.get(pos)) {
        s.push('\n');
        s.push_str(&short(t));
    }
    if st.start_pos > 0 {
        s.push('\n');
        if pos < st.start_pos {
            s.push_str(&pal.paint("cache", Role::Muted));
        } else {
            s.push_str(&pal.paint("new", Role::New));
        }
    }
    s
}

struct Ctx<'a> {
    trace: &'a Trace<Tensor>,
    cfg: &'a Config,
    st: &'a Step<Tensor>,
    view: &'a View,
    pal: &'a Palette,
    /// Selected batch row, query head and the KV head that query head reads.
    b: usize,
    h: usize,
    kvh: usize,
    /// The labels of row `b`'s positions.
    tokens: Option<&'a [String]>,
}

impl Ctx<'_> {
    fn t(&self, id: TensorId) -> Option<&Tensor> {
        self.st.tensor(id)
    }

    fn query_row(&self, i: usize) -> String {
        pos_label(self.tokens, self.st.start_pos + i)
    }

    fn grid(&self, g: Grid) -> String {
        matrix::render(&g, self.view, self.pal)
    }

    /// A `[tokens, features]` table of a vector-valued tensor, rows labelled by position.
    fn vectors(
        &self,
        title: String,
        data: ArrayView2<f32>,
        col: &dyn Fn(usize) -> String,
    ) -> String {
        let row = |i: usize| self.query_row(i);
        self.grid(Grid::new(
            title,
            data,
            "pos",
            &row,
            col,
            Kind::Values { scale: None },
        ))
    }

    /// A `[queries, keys]` matrix of head `h`.
    fn attention(&self, title: String, data: ArrayView2<f32>, kind: Kind, row_sum: bool) -> String {
        let row = |i: usize| self.query_row(i);
        let col = |j: usize| key_header(self.tokens, self.st, j, self.pal);
        let g = Grid::new(title, data, "q╲k", &row, &col, kind);
        self.grid(if row_sum { g.sums() } else { g })
    }

    /// The row of query head `head` (or KV head) of a `[bsz, tokens, heads, head_dim]` tensor
    /// at token `i` of this step.
    fn head_row(&self, id: TensorId, i: usize, head: usize) -> Option<Vec<f32>> {
        self.t(id)
            .map(|t| t.data.slice(ndarray::s![self.b, i, head, ..]).to_vec())
    }
}

fn index(j: usize) -> String {
    j.to_string()
}

/// `1 row`, `3 rows`.
fn count(n: usize, one: &str, many: &str) -> String {
    crate::stage::Facts::count(n, one, many)
}

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

/// A one-line key to the symbols of a mask.
fn legend(pal: &Palette, width: usize, items: &[(Role, &str, &str)]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|(role, sym, what)| format!("{} = {what}", pal.paint(&format!(" {sym} "), *role)))
        .collect();
    let key = pal.paint("key:", Role::Muted);
    crate::render::wrap_words(&format!("  {key} {}", parts.join(" · ")), width, "  ")
}

/// A heading wrapped to the view.
fn heading(c: &Ctx, text: &str) -> String {
    crate::render::wrap_words(text, c.view.width, "  ")
        .lines()
        .map(|l| format!("{}\n", c.pal.paint(l, Role::Heading)))
        .collect()
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

/// An empty table in the matrix style, as wide as the view, with `header`.
fn table(c: &Ctx, header: Vec<impl Into<Cell>>) -> Table {
    let mut table = Table::new();
    table
        .load_style(matrix_style())
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(c.view.width).unwrap_or(u16::MAX))
        .set_header(header);
    table
}
