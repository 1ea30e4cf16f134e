//! The numbers each stage shows, for the selected batch row and head: the matrices that teach
//! something (scores, masks, weights), the cache before and after, the head-sharing map, the
//! RoPE rows, the QK-norm row norms, and compact tables of the vector-valued tensors.

use comfy_table::{Cell, ContentArrangement, Table};
use ndarray::{Array2, ArrayView2, Axis, Ix2};

use super::View;
use super::matrix::{self, Grid, Kind, matrix_style, plan};
use super::palette::{Palette, Role};
use crate::config::Config;
use crate::numeric::Tensor;
use crate::stage::{HeadOf, Heat, Show, TensorId};
use crate::trace::{Step, Trace};

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
pub fn pos_label(cfg: &Config, pos: usize) -> String {
    match &cfg.tokens {
        Some(t) if pos < t.len() => format!("{pos} {}", short(&t[pos])),
        _ => pos.to_string(),
    }
}

/// A column header for key position `pos`: the position, the token, and in a step after the
/// first, whether the key came from the cache or is new.
fn key_header(cfg: &Config, st: &Step<Tensor>, pos: usize, pal: &Palette) -> String {
    let mut s = pos.to_string();
    if let Some(t) = cfg.tokens.as_ref().and_then(|t| t.get(pos)) {
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
}

impl Ctx<'_> {
    fn t(&self, id: TensorId) -> Option<&Tensor> {
        self.st.tensor(id)
    }

    fn query_row(&self, i: usize) -> String {
        pos_label(self.cfg, self.st.start_pos + i)
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
        self.grid(Grid {
            title,
            data,
            corner: "pos".into(),
            row_label: &row,
            col_label: col,
            kind: Kind::Values { scale: None },
            row_sum: false,
        })
    }

    /// A `[queries, keys]` matrix of head `h`.
    fn attention(&self, title: String, data: ArrayView2<f32>, kind: Kind, row_sum: bool) -> String {
        let row = |i: usize| self.query_row(i);
        let col = |j: usize| key_header(self.cfg, self.st, j, self.pal);
        self.grid(Grid {
            title,
            data,
            corner: "q╲k".into(),
            row_label: &row,
            col_label: &col,
            kind,
            row_sum,
        })
    }
}

fn index(j: usize) -> String {
    j.to_string()
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
            let col = |j: usize| format!("h{}\n{}", j / hd, j % hd);
            c.vectors(
                format!("{id}[b={b}]  columns: head, then feature within the head"),
                slice2(t, &[Some(b), None, None]),
                &col,
            )
        })),
        Show::CausalMask => causal(c),
        Show::SoftmaxLegend => vec![softmax_legend(c)],
        Show::QkNorms => vec![qk_norms(c)],
        Show::Rope => rope(c),
        Show::KvCache => kv_cache(c, step),
        Show::RepeatKv => repeat_kv(c),
        Show::Padding => padding(c),
    }
}

fn causal(c: &Ctx) -> Vec<String> {
    let Some(t) = c.t(TensorId::CausalMask) else {
        return Vec::new();
    };
    let st = c.st;
    vec![
        c.attention(
            format!(
                "causal_mask  rows: queries · columns: keys (the triangle covers the last {} of {} columns)",
                st.seq_len,
                st.kv_len()
            ),
            slice2(t, &[None, None]),
            Kind::CausalMask,
            false,
        ),
        legend(
            c.pal,
            c.view.width,
            &[
                (
                    Role::Blocked,
                    "-∞",
                    "blocked: the key comes after the query",
                ),
                (Role::Muted, "0", "allowed"),
            ],
        ),
    ]
}

fn softmax_legend(c: &Ctx) -> String {
    let mut keys = vec![(Role::Blocked, "-∞", "causal mask")];
    if c.cfg.attention_mask.is_some() {
        keys.push((Role::Pad, "pad", "score − 1e9 (padding)"));
    }
    legend(c.pal, c.view.width, &keys)
}

/// A one-line key to the symbols of a mask.
fn legend(pal: &Palette, width: usize, items: &[(Role, &str, &str)]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|(role, sym, what)| format!("{} = {what}", pal.paint(&format!(" {sym} "), *role)))
        .collect();
    super::wrap_words(&format!("  {}", parts.join(" · ")), width, "  ")
}

fn qk_norms(c: &Ctx) -> String {
    let (b, h, kvh) = (c.b, c.h, c.kvh);
    let pairs = [
        (TensorId::XqHeads, h),
        (TensorId::XqNorm, h),
        (TensorId::XkHeads, kvh),
        (TensorId::XkNorm, kvh),
    ];
    let views: Vec<Option<ArrayView2<f32>>> = pairs
        .iter()
        .map(|(n, head)| {
            c.t(*n)
                .map(|t| slice2(t, &[Some(b), None, Some(*head), None]))
        })
        .collect();
    let mut norms = Array2::<f32>::zeros((c.st.seq_len, pairs.len()));
    for (k, v) in views.iter().enumerate() {
        if let Some(v) = v {
            for (i, row) in v.rows().into_iter().enumerate() {
                norms[[i, k]] = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            }
        }
    }
    let heads = [
        format!("‖q{h}‖\nbefore"),
        format!("‖q{h}‖\nafter"),
        format!("‖k{kvh}‖\nbefore"),
        format!("‖k{kvh}‖\nafter"),
    ];
    let col = |j: usize| heads[j].clone();
    let row = |i: usize| c.query_row(i);
    matrix::render(
        &Grid {
            title: format!(
                "row lengths (L2 norm over head_dim) of query head {h} and key head {kvh}, b={b}"
            ),
            data: norms.view(),
            corner: "pos".into(),
            row_label: &row,
            col_label: &col,
            kind: Kind::Plain,
            row_sum: false,
        },
        c.view,
        c.pal,
    )
}

fn rope(c: &Ctx) -> Vec<String> {
    let st = c.st;
    let positions: Vec<String> = plan(st.seq_len, c.view.max_rows)
        .into_iter()
        .map(|p| p.map_or("…".into(), |i| (st.start_pos + i).to_string()))
        .collect();
    let mut out = vec![super::wrap_words(
        &format!(
            "{} {}  (absolute: this call starts at position {})",
            c.pal.paint("positions used:", Role::Heading),
            positions.join(", "),
            st.start_pos
        ),
        c.view.width,
        "  ",
    )];
    let half = c.cfg.head_dim / 2;
    let col = move |j: usize| {
        // Features d and d + head_dim/2 rotate together with frequency index d mod half.
        format!("{j}\ni={}", j % half)
    };
    for id in [TensorId::Cos, TensorId::Sin] {
        if let Some(t) = c.t(id) {
            let row = |i: usize| format!("pos {}", st.start_pos + i);
            out.push(c.grid(Grid {
                title: format!(
                    "{id}[positions, head_dim]  feature d uses frequency i = d mod {half}"
                ),
                data: slice2(t, &[None, None]),
                corner: "".into(),
                row_label: &row,
                col_label: &col,
                kind: Kind::Values { scale: Some(1.0) },
                row_sum: false,
            }));
        }
    }
    out
}

fn kv_cache(c: &Ctx, step: usize) -> Vec<String> {
    let (b, kvh, st) = (c.b, c.kvh, c.st);
    let past = st.start_pos;
    let mut out = Vec::new();
    let before = if step > 0 {
        c.trace.steps[step - 1].tensor(TensorId::XkCache)
    } else {
        None
    };
    out.push(super::wrap_words(
        &format!(
            "{} {} → {} rows along dim 1 ({} new)",
            c.pal.paint("cache length:", Role::Heading),
            if past == 0 {
                "empty".to_string()
            } else {
                past.to_string()
            },
            st.kv_len(),
            st.seq_len
        ),
        c.view.width,
        "  ",
    ));
    if let Some(t) = before {
        let row = |i: usize| pos_label(c.cfg, i);
        out.push(c.grid(Grid {
            title: format!("before: past xk_cache[b={b}, :, {kvh}, :]  ({past} rows)"),
            data: slice2(t, &[Some(b), None, Some(kvh), None]),
            corner: "pos".into(),
            row_label: &row,
            col_label: &index,
            kind: Kind::Values { scale: None },
            row_sum: false,
        }));
    }
    if let Some(t) = c.t(TensorId::XkCache) {
        let row = |i: usize| {
            let l = pos_label(c.cfg, i);
            if i >= past {
                format!("{l} {}", c.pal.paint("new", Role::New))
            } else {
                l
            }
        };
        out.push(c.grid(Grid {
            title: format!(
                "after: xk_cache[b={b}, :, {kvh}, :]  ({} rows; values are cached the same way)",
                st.kv_len()
            ),
            data: slice2(t, &[Some(b), None, Some(kvh), None]),
            corner: "pos".into(),
            row_label: &row,
            col_label: &index,
            kind: Kind::Values { scale: None },
            row_sum: false,
        }));
    }
    out
}

fn repeat_kv(c: &Ctx) -> Vec<String> {
    let cfg = c.cfg;
    let (n_kv, n_rep) = (cfg.num_key_value_heads, cfg.n_rep());
    let mut table = Table::new();
    table
        .load_style(matrix_style())
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(c.view.width).unwrap_or(u16::MAX))
        .set_header(vec![
            Cell::new("KV head"),
            Cell::new(format!("query heads that read it (n_rep={n_rep})")),
        ]);
    let q_name = |q: usize| {
        if q == c.h {
            if c.pal.enabled {
                c.pal.paint(&format!("q{q}"), Role::Selected)
            } else {
                format!("[q{q}]")
            }
        } else {
            format!("q{q}")
        }
    };
    for kv in plan(n_kv, c.view.max_rows) {
        match kv {
            None => table.add_row(vec!["⋮", "⋮"]),
            Some(kv) => {
                let qs: Vec<String> = plan(n_rep, c.view.max_cols)
                    .into_iter()
                    .map(|r| r.map_or("…".to_string(), |r| q_name(kv * n_rep + r)))
                    .collect();
                table.add_row(vec![format!("kv{kv}"), qs.join(" ")])
            }
        };
    }
    let mut out = vec![format!(
        "{}\n{}\n",
        c.pal
            .paint("which query heads share each KV head", Role::Heading),
        table
    )];
    if let Some(t) = c.t(TensorId::XkRepeat) {
        let last = c.st.kv_len() - 1;
        let row = |q: usize| format!("q{q} ← kv{}", q / n_rep);
        out.push(c.grid(Grid {
            title: format!(
                "xk_repeat[b={}, {last}, :, :]  the newest key as each query head sees it: equal rows share a KV head",
                c.b
            ),
            data: slice2(t, &[Some(c.b), Some(last), None, None]),
            corner: "head".into(),
            row_label: &row,
            col_label: &index,
            kind: Kind::Values { scale: None },
            row_sum: false,
        }));
    }
    out
}

fn padding(c: &Ctx) -> Vec<String> {
    let mut out = Vec::new();
    let row = |r: usize| {
        let l = format!("b{r}");
        if r == c.b && c.cfg.batch > 1 {
            if c.pal.enabled {
                c.pal.paint(&l, Role::Selected)
            } else {
                format!("{l} ◀")
            }
        } else {
            l
        }
    };
    let col = |j: usize| key_header(c.cfg, c.st, j, c.pal);
    if let Some(t) = c.t(TensorId::AttentionMask) {
        out.push(c.grid(Grid {
            title: "attention_mask[bsz, kv_len]  1 = real token, 0 = padding".into(),
            data: slice2(t, &[None, None]),
            corner: "row╲key".into(),
            row_label: &row,
            col_label: &col,
            kind: Kind::AttentionMask,
            row_sum: false,
        }));
    }
    if let Some(t) = c.t(TensorId::PaddingMask) {
        out.push(c.grid(Grid {
            title:
                "padding_mask[bsz, 1, 1, kv_len]  added to every head's and query's scores".into(),
            data: slice2(t, &[None, Some(0), Some(0), None]),
            corner: "row╲key".into(),
            row_label: &row,
            col_label: &col,
            kind: Kind::PaddingBias,
            row_sum: false,
        }));
        out.push(legend(
            c.pal,
            c.view.width,
            &[
                (Role::Pad, "-1e9", "padding: pushed to ~0 weight"),
                (Role::Muted, "0", "kept"),
            ],
        ));
    }
    out
}
