//! What every stage view draws with: the run and selection being shown ([`Ctx`]), position
//! labels, 2-D slices, and the small table, legend and heading pieces the views share.

use comfy_table::{Cell, ContentArrangement, Table};
use ndarray::{ArrayView2, Axis, Ix2};

use crate::config::Config;
use crate::numeric::Tensor;
use crate::render::matrix::{self, Grid, Kind, matrix_style};
use crate::render::palette::{Palette, Role};
use crate::render::view::View;
use crate::stage::TensorId;
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
pub(super) fn short(tok: &str) -> String {
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
pub(super) fn labels<'a>(cfg: &'a Config, view: &'a View, b: usize) -> Option<&'a [String]> {
    match view.row_tokens.as_deref().and_then(|rows| rows.get(b)) {
        Some(row) => Some(row),
        None => cfg.tokens.as_deref(),
    }
}

/// A column header for key position `pos`: the position, the token, and in a step after the
/// first, whether the key came from the cache or is new.
pub(super) fn key_header(
    tokens: Option<&[String]>,
    st: &Step<Tensor>,
    pos: usize,
    pal: &Palette,
) -> String {
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

pub(super) struct Ctx<'a> {
    pub(super) trace: &'a Trace<Tensor>,
    pub(super) cfg: &'a Config,
    pub(super) st: &'a Step<Tensor>,
    pub(super) view: &'a View,
    pub(super) pal: &'a Palette,
    /// Selected batch row, query head and the KV head that query head reads.
    pub(super) b: usize,
    pub(super) h: usize,
    pub(super) kvh: usize,
    /// The labels of row `b`'s positions.
    pub(super) tokens: Option<&'a [String]>,
}

impl Ctx<'_> {
    pub(super) fn t(&self, id: TensorId) -> Option<&Tensor> {
        self.st.tensor(id)
    }

    pub(super) fn query_row(&self, i: usize) -> String {
        pos_label(self.tokens, self.st.start_pos + i)
    }

    pub(super) fn grid(&self, g: Grid) -> String {
        matrix::render(&g, self.view, self.pal)
    }

    /// A `[tokens, features]` table of a vector-valued tensor, rows labelled by position.
    pub(super) fn vectors(
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
    pub(super) fn attention(
        &self,
        title: String,
        data: ArrayView2<f32>,
        kind: Kind,
        row_sum: bool,
    ) -> String {
        let row = |i: usize| self.query_row(i);
        let col = |j: usize| key_header(self.tokens, self.st, j, self.pal);
        let g = Grid::new(title, data, "q╲k", &row, &col, kind);
        self.grid(if row_sum { g.sums() } else { g })
    }

    /// The row of query head `head` (or KV head) of a `[bsz, tokens, heads, head_dim]` tensor
    /// at token `i` of this step.
    pub(super) fn head_row(&self, id: TensorId, i: usize, head: usize) -> Option<Vec<f32>> {
        self.t(id)
            .map(|t| t.data.slice(ndarray::s![self.b, i, head, ..]).to_vec())
    }
}

pub(super) fn index(j: usize) -> String {
    j.to_string()
}

/// `1 row`, `3 rows`.
pub(super) fn count(n: usize, one: &str, many: &str) -> String {
    crate::stage::Facts::count(n, one, many)
}

/// A one-line key to the symbols of a mask.
pub(super) fn legend(pal: &Palette, width: usize, items: &[(Role, &str, &str)]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|(role, sym, what)| format!("{} = {what}", pal.paint(&format!(" {sym} "), *role)))
        .collect();
    let key = pal.paint("key:", Role::Muted);
    crate::render::wrap::wrap_words(&format!("  {key} {}", parts.join(" · ")), width, "  ")
}

/// A heading wrapped to the view.
pub(super) fn heading(c: &Ctx, text: &str) -> String {
    crate::render::wrap::wrap_words(text, c.view.width, "  ")
        .lines()
        .map(|l| format!("{}\n", c.pal.paint(l, Role::Heading)))
        .collect()
}

/// An empty table in the matrix style, as wide as the view, with `header`.
pub(super) fn table(c: &Ctx, header: Vec<impl Into<Cell>>) -> Table {
    let mut table = Table::new();
    table
        .load_style(matrix_style())
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(c.view.width).unwrap_or(u16::MAX))
        .set_header(header);
    table
}
