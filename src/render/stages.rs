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

fn causal(c: &Ctx) -> Vec<String> {
    let Some(t) = c.t(TensorId::CausalMask) else {
        return Vec::new();
    };
    let st = c.st;
    let data = slice2(t, &[None, None]);
    let blocked = data.iter().any(|v| *v == f32::NEG_INFINITY);
    let what = if !c.cfg.causal {
        "all 0: causal masking is off (--no-causal)".to_string()
    } else if st.seq_len == 1 {
        "one query, the newest token: no key comes after it, so nothing is blocked".to_string()
    } else if st.start_pos == 0 {
        "-∞ above the diagonal".to_string()
    } else {
        format!(
            "the triangle covers the last {} of {} columns",
            st.seq_len,
            st.kv_len()
        )
    };
    let mut keys = Vec::new();
    if blocked {
        keys.push((
            Role::Blocked,
            "-∞",
            "blocked: the key comes after the query",
        ));
    }
    keys.push((Role::Muted, "0", "allowed"));
    vec![
        c.attention(
            format!("causal_mask  rows: queries · columns: keys ({what})"),
            data,
            Kind::CausalMask,
            false,
        ),
        legend(c.pal, c.view.width, &keys),
    ]
}

/// A one-line key to the symbols of a mask.
fn legend(pal: &Palette, width: usize, items: &[(Role, &str, &str)]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|(role, sym, what)| format!("{} = {what}", pal.paint(&format!(" {sym} "), *role)))
        .collect();
    let key = pal.paint("key:", Role::Muted);
    super::wrap_words(&format!("  {key} {}", parts.join(" · ")), width, "  ")
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
    c.grid(Grid::new(
        format!("row lengths (L2 norm over head_dim) of query head {h} and key head {kvh}, b={b}"),
        norms.view(),
        "pos",
        &row,
        &col,
        Kind::Plain,
    ))
}

/// Bands that keep RoPE's pairs (d, d + head_dim/2) visible together.
fn halves(hd: usize) -> Bands<'static> {
    Bands {
        size: (hd / 2).max(1),
        keep: None,
        pin: None,
        label: None,
    }
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
            c.pal.paint(
                if st.seq_len == 1 {
                    "position used:"
                } else {
                    "positions used:"
                },
                Role::Heading
            ),
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
            out.push(
                c.grid(
                    Grid::new(
                        format!(
                            "{id}[positions, head_dim]  feature d uses frequency i = d mod {half}"
                        ),
                        slice2(t, &[None, None]),
                        "",
                        &row,
                        &col,
                        Kind::Values { scale: Some(1.0) },
                    )
                    .cols_in(halves(c.cfg.head_dim)),
                ),
            );
        }
    }
    out
}

/// The query rows of the selected head and the key rows of its KV head, each row before RoPE
/// directly above the same row rotated.
fn rope_rows(c: &Ctx) -> Vec<String> {
    let (b, st, hd) = (c.b, c.st, c.cfg.head_dim);
    let mut out = Vec::new();
    let sets = [
        (
            TensorId::XqRope,
            [TensorId::XqNorm, TensorId::XqHeads],
            c.h,
            "query head",
        ),
        (
            TensorId::XkRope,
            [TensorId::XkNorm, TensorId::XkHeads],
            c.kvh,
            "key head",
        ),
    ];
    for (after_id, before_ids, head, what) in sets {
        let Some(after) = c.t(after_id) else { continue };
        let Some((before_id, before)) = before_ids
            .into_iter()
            .find_map(|id| c.t(id).map(|t| (id, t)))
        else {
            continue;
        };
        let before = slice2(before, &[Some(b), None, Some(head), None]);
        let after = slice2(after, &[Some(b), None, Some(head), None]);
        let mut both = Array2::<f32>::zeros((2 * st.seq_len, hd));
        for i in 0..st.seq_len {
            both.row_mut(2 * i).assign(&before.row(i));
            both.row_mut(2 * i + 1).assign(&after.row(i));
        }
        let row = |r: usize| {
            if r.is_multiple_of(2) {
                c.query_row(r / 2)
            } else {
                "  rotated".to_string()
            }
        };
        out.push(
            c.grid(
                Grid::new(
                    format!(
                        "{after_id}[b={b}, :, {head}, :]  {what} {head}: each row before RoPE \
                         ({before_id}), then rotated; pairs (d, d+{}) turn together",
                        hd / 2
                    ),
                    both.view(),
                    "pos",
                    &row,
                    &index,
                    Kind::Values { scale: None },
                )
                .rows_in(Bands {
                    size: 2,
                    keep: None,
                    pin: None,
                    label: None,
                })
                .cols_in(halves(hd)),
            ),
        );
    }
    out
}

/// The relative-position property with numbers: the selected head's query (at the step's
/// last new token) and its KV head's key (at the first new token), before RoPE, rotated to
/// several position pairs and scored.
fn rope_relative(c: &Ctx) -> Option<String> {
    let st = c.st;
    let pre = |ids: [TensorId; 2], i: usize, head: usize| {
        ids.into_iter().find_map(|id| c.head_row(id, i, head))
    };
    let last = st.seq_len - 1;
    let q = pre([TensorId::XqNorm, TensorId::XqHeads], last, c.h)?;
    let k = pre([TensorId::XkNorm, TensorId::XkHeads], 0, c.kvh)?;
    let (m0, n0) = (st.start_pos + last, st.start_pos);
    let pairs = demos::rope_pairs(m0, n0);
    let scores = demos::rope_scores(&q, &k, &pairs, c.cfg.rope_theta);
    let mut table = Table::new();
    table
        .load_style(matrix_style())
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(c.view.width).unwrap_or(u16::MAX))
        .set_header(vec!["q at m", "k at n", "m − n", "q·k/√head_dim"]);
    for (&(m, n), s) in pairs.iter().zip(&scores) {
        table.add_row(vec![
            m.to_string(),
            n.to_string(),
            (m - n).to_string(),
            fmt_num(*s as f32, c.view.precision),
        ]);
    }
    for col in table.column_iter_mut() {
        col.set_cell_alignment(CellAlignment::Right);
    }
    let title = format!(
        "relative positions: query head {}'s query from position {m0} and key head {}'s key \
         from position {n0}, rotated as if they sat at positions m and n",
        c.h, c.kvh
    );
    let after = format!(
        "Rows with the same m − n give the same score, wherever the pair sits: after RoPE, q·k \
         depends on the distance only. The first row is this step's own score, \
         scores[{}, {}, {last}, {n0}].",
        c.b, c.h
    );
    Some(format!(
        "{}{table}\n{}",
        heading(c, &title),
        super::wrap_words(&after, c.view.width, "")
    ))
}

/// A heading wrapped to the view.
fn heading(c: &Ctx, text: &str) -> String {
    super::wrap_words(text, c.view.width, "  ")
        .lines()
        .map(|l| format!("{}\n", c.pal.paint(l, Role::Heading)))
        .collect()
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
            "{} {} → {} along dim 1 ({} new)",
            c.pal.paint("cache length:", Role::Heading),
            if past == 0 {
                "empty".to_string()
            } else {
                past.to_string()
            },
            count(st.kv_len(), "row", "rows"),
            st.seq_len
        ),
        c.view.width,
        "  ",
    ));
    if let Some(t) = before {
        let row = |i: usize| pos_label(c.tokens, i);
        out.push(c.grid(Grid::new(
            format!(
                "before: past xk_cache[b={b}, :, {kvh}, :]  ({})",
                count(past, "row", "rows")
            ),
            slice2(t, &[Some(b), None, Some(kvh), None]),
            "pos",
            &row,
            &index,
            Kind::Values { scale: None },
        )));
    }
    if let Some(t) = c.t(TensorId::XkCache) {
        let row = |i: usize| {
            let l = pos_label(c.tokens, i);
            if i >= past {
                format!("{l} {}", c.pal.paint("new", Role::New))
            } else {
                l
            }
        };
        out.push(c.grid(Grid::new(
            format!(
                "after: xk_cache[b={b}, :, {kvh}, :]  ({}; values are cached the same way)",
                count(st.kv_len(), "row", "rows")
            ),
            slice2(t, &[Some(b), None, Some(kvh), None]),
            "pos",
            &row,
            &index,
            Kind::Values { scale: None },
        )));
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
    let kv_rows = with_pin(n_kv, c.view.max_rows, c.kvh);
    for kv in kv_rows {
        match kv {
            None => table.add_row(vec!["⋮", "⋮"]),
            Some(kv) => {
                let pin = (kv == c.kvh).then(|| c.h - kv * n_rep);
                let qs: Vec<String> = with_pin_opt(n_rep, c.view.max_cols, pin)
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
        out.push(
            c.grid(
                Grid::new(
                    format!(
                        "xk_repeat[b={}, {last}, :, :]  the newest key as each query head sees \
                         it: equal rows share a KV head",
                        c.b
                    ),
                    slice2(t, &[Some(c.b), Some(last), None, None]),
                    "head",
                    &row,
                    &index,
                    Kind::Values { scale: None },
                )
                .rows_in(Bands {
                    size: n_rep,
                    keep: Some(c.kvh),
                    pin: Some(c.h),
                    label: None,
                }),
            ),
        );
    }
    out
}

/// A plan of `n` entries in `max` that always shows `pin`.
fn with_pin(n: usize, max: usize, pin: usize) -> Vec<Option<usize>> {
    with_pin_opt(n, max, Some(pin))
}

fn with_pin_opt(n: usize, max: usize, pin: Option<usize>) -> Vec<Option<usize>> {
    matrix::plan_banded(
        n,
        max,
        Some(&Bands {
            size: n.max(1),
            keep: None,
            pin,
            label: None,
        }),
    )
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
    let col = |j: usize| key_header(c.tokens, c.st, j, c.pal);
    if let Some(t) = c.t(TensorId::AttentionMask) {
        out.push(c.grid(Grid::new(
            "attention_mask[bsz, kv_len]  1 = real token, 0 = padding".into(),
            slice2(t, &[None, None]),
            "row╲key",
            &row,
            &col,
            Kind::AttentionMask,
        )));
    }
    if let Some(t) = c.t(TensorId::PaddingMask) {
        let data = slice2(t, &[None, Some(0), Some(0), None]);
        let padded = data.iter().any(|v| *v <= matrix::PAD_THRESHOLD);
        out.push(c.grid(Grid::new(
            "padding_mask[bsz, 1, 1, kv_len]  added to every head's and query's scores".into(),
            data,
            "row╲key",
            &row,
            &col,
            Kind::PaddingBias,
        )));
        let mut keys = Vec::new();
        if padded {
            keys.push((Role::Pad, "-1e9", "padding: pushed to ~0 weight"));
        }
        keys.push((Role::Muted, "0", "kept"));
        out.push(legend(c.pal, c.view.width, &keys));
    }
    out
}

/// Why the scores are divided by √head_dim: the selected head's last query row, as softmax
/// receives it, softmaxed as MiniMind does and without the division.
fn scale_view(c: &Ctx) -> Option<String> {
    let t = c.t(TensorId::ScoresMasked)?;
    let last = c.st.seq_len - 1;
    let row: Vec<f32> = slice2(t, &[Some(c.b), Some(c.h), None, None])
        .row(last)
        .to_vec();
    // With fewer than two keys to choose between, both rows are the same.
    if row
        .iter()
        .filter(|v| v.is_finite() && **v > matrix::PAD_THRESHOLD)
        .count()
        < 2
    {
        return None;
    }
    let hd = c.cfg.head_dim;
    let (with, without) = demos::scale_effect(&row, hd);
    let mut data = Array2::<f32>::zeros((2, row.len()));
    data.row_mut(0).assign(&ndarray::ArrayView1::from(&with));
    data.row_mut(1).assign(&ndarray::ArrayView1::from(&without));
    let root = (hd as f64).sqrt();
    let labels = [format!("÷√{hd} (MiniMind)"), format!("without ÷√{hd}")];
    let label = |i: usize| labels[i].clone();
    let col = |j: usize| key_header(c.tokens, c.st, j, c.pal);
    // Keep the key MiniMind weights most visible however few columns fit.
    let top_key = (0..with.len()).max_by(|&a, &b| with[a].total_cmp(&with[b]));
    let table = c.grid(
        Grid::new(
            format!(
                "why ÷√head_dim: query {}'s row of head {}, softmaxed with and without the \
                 division",
                c.st.start_pos + last,
                c.h
            ),
            data.view(),
            "",
            &label,
            &col,
            Kind::Weights,
        )
        .sums()
        .cols_in(Bands {
            size: row.len(),
            keep: None,
            pin: top_key,
            label: None,
        }),
    );
    let top = |w: &[f32]| w.iter().copied().fold(0f32, f32::max);
    let p = c.view.precision;
    let say = format!(
        "The largest weight is {} with the division and {} without it. A dot product of two \
         {hd}-number rows grows with head_dim; dividing by √{hd} = {} keeps the scores in a \
         range where softmax still spreads attention instead of picking one key.",
        fmt_num(top(&with), p),
        fmt_num(top(&without), p),
        fmt_num(root as f32, p)
    );
    Some(format!(
        "{table}\n{}",
        super::wrap_words(&say, c.view.width, "")
    ))
}

/// Which branch MiniMind's forward takes for this step, and what that means for the scores.
fn fused_path(c: &Ctx) -> String {
    let (cfg, st) = (c.cfg, c.st);
    let kv_len = st.kv_len();
    let mask_all_ones = cfg
        .attention_mask
        .as_ref()
        .is_none_or(|rows| rows.iter().all(|r| r.iter().take(kv_len).all(|&m| m == 1)));
    let cached = st.start_pos > 0;
    let fused = takes_fused_path(st.seq_len, cfg.causal, cached, mask_all_ones);
    let text = if fused {
        format!(
            "for this step MiniMind calls its fused F.scaled_dot_product_attention (more than \
             one new token, {}, {}), which gives the same output without materialising these \
             scores and weights; attnstep runs the explicit branch so you can see them.",
            if cfg.causal {
                "nothing cached yet"
            } else {
                "no causal mask"
            },
            if cfg.attention_mask.is_some() {
                "an attention mask of all ones"
            } else {
                "no attention mask"
            }
        )
    } else {
        let mut why = Vec::new();
        if st.seq_len == 1 {
            why.push("there is one new token");
        }
        if cfg.causal && cached && st.seq_len > 1 {
            why.push("a causal mask meets cached keys");
        }
        if !mask_all_ones {
            why.push("the attention mask has padding");
        }
        format!(
            "for this step MiniMind runs this explicit branch too, because {}, so it materialises \
             the scores and weights shown here. Its fused F.scaled_dot_product_attention, which \
             gives the same output without them, is taken only for more than one new token with \
             no padding and no causal mask over cached keys.",
            why.join(" and ")
        )
    };
    super::wrap_words(
        &format!("{} {text}", c.pal.paint("MiniMind's path:", Role::Heading)),
        c.view.width,
        "",
    )
}
