//! Matrices as tables: heatmaps of scores and weights, masks drawn with symbols, and compact
//! tables of vectors, all elided the way numpy prints big arrays.
//!
//! Only the cells that are shown are formatted, so the cost of a table depends on
//! `--max-rows`/`--max-cols`, not on the tensor. The one pass over the whole (2-D) slice is the
//! stats line printed under an elided table; a [`StatsCache`] lets the stepper, which redraws
//! the same slices again and again, make that pass once per slice.

use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;

use comfy_table::{Cell, ContentLineStyle, LineStyle};
use comfy_table::{CellAlignment, ContentArrangement, Table, TableStyle};
use ndarray::ArrayView2;

use super::palette::{Palette, Role, shade};
use super::{View, visible_width, wrap_words};

/// Which indices of an axis of length `n` to show when at most `max` fit: all of them, or the
/// first and last few with `None` (an ellipsis) between, as numpy does.
pub fn plan(n: usize, max: usize) -> Vec<Option<usize>> {
    let max = max.max(2);
    if n <= max {
        return (0..n).map(Some).collect();
    }
    let head = max.div_ceil(2);
    let tail = max - head;
    (0..head)
        .map(Some)
        .chain(std::iter::once(None))
        .chain((n - tail..n).map(Some))
        .collect()
}

/// How the cells of a grid are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Signed values on a diverging ramp, scaled to `scale` (or to the largest shown magnitude);
    /// a heatmap, so without colour each cell gets a shade character.
    Signed { scale: Option<f32> },
    /// Vector entries (x, projections, outputs): coloured like [`Kind::Signed`] but printed as
    /// plain numbers without colour, where a shade per cell would only add noise.
    Values { scale: Option<f32> },
    /// Attention weights in 0..=1 on a sequential ramp.
    Weights,
    /// Scores after masking: signed, with -inf drawn as `-∞` and the padding bias as `pad`.
    Masked,
    /// The causal mask: 0 or -inf.
    CausalMask,
    /// The padding bias: 0 or -1e9.
    PaddingBias,
    /// The caller's 0/1 attention mask (0 = padding).
    AttentionMask,
    /// Plain numbers (norms, sums): no heat.
    Plain,
}

/// Values at or below this are the padding bias (-1e9 plus a score), not a real score.
pub const PAD_THRESHOLD: f32 = -1e8;

/// A matrix to draw: a 2-D view of a tensor plus labels.
pub struct Grid<'a> {
    /// A line above the table: what the matrix is and what rows and columns mean.
    pub title: String,
    pub data: ArrayView2<'a, f32>,
    /// Text in the header's first cell (what the rows are).
    pub corner: String,
    pub row_label: &'a dyn Fn(usize) -> String,
    /// Column headers; may hold several lines (position, token, "new").
    pub col_label: &'a dyn Fn(usize) -> String,
    pub kind: Kind,
    /// Add a column with each row's sum (over the whole row, shown or not).
    pub row_sum: bool,
}

/// Formats one number: fixed decimals, compact scientific for huge magnitudes, symbols for
/// infinities and NaN.
pub fn fmt_num(v: f32, precision: usize) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f32::NEG_INFINITY {
        "-∞".into()
    } else if v == f32::INFINITY {
        "∞".into()
    } else if v.abs() >= 1e5 {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.precision$}");
        // "-0.000" reads as a mistake; show it as 0.
        if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
            s[1..].to_string()
        } else {
            s
        }
    }
}

/// What a cell shows and how it is coloured.
enum Look {
    Heat {
        t: f32,
        diverging: bool,
        shade: bool,
    },
    Role(Role),
    Plain,
}

fn cell(v: f32, kind: Kind, scale: f32, view: &View) -> (String, Look) {
    let p = view.precision;
    let signed = |v: f32, shade: bool| {
        let t = if scale > 0.0 { v / scale } else { 0.0 };
        (
            fmt_num(v, p),
            Look::Heat {
                t: t.clamp(-1.0, 1.0),
                diverging: true,
                shade,
            },
        )
    };
    match kind {
        Kind::Signed { .. } => signed(v, true),
        Kind::Values { .. } => signed(v, false),
        Kind::Weights => (
            fmt_num(v, p),
            Look::Heat {
                t: v,
                diverging: false,
                shade: true,
            },
        ),
        Kind::Masked => {
            if v == f32::NEG_INFINITY {
                ("-∞".into(), Look::Role(Role::Blocked))
            } else if v <= PAD_THRESHOLD {
                ("pad".into(), Look::Role(Role::Pad))
            } else {
                signed(v, true)
            }
        }
        Kind::CausalMask => {
            if v == f32::NEG_INFINITY {
                ("-∞".into(), Look::Role(Role::Blocked))
            } else {
                (fmt_num(v, 0), Look::Role(Role::Muted))
            }
        }
        Kind::PaddingBias => {
            if v <= PAD_THRESHOLD {
                ("-1e9".into(), Look::Role(Role::Pad))
            } else {
                (fmt_num(v, 0), Look::Role(Role::Muted))
            }
        }
        Kind::AttentionMask => {
            if v == 0.0 {
                ("0".into(), Look::Role(Role::Pad))
            } else {
                (fmt_num(v, 0), Look::Plain)
            }
        }
        Kind::Plain => (fmt_num(v, p), Look::Plain),
    }
}

/// The text a cell gets without colour: the heat carried by a shade character.
fn plain_text(text: &str, look: &Look) -> String {
    match look {
        Look::Heat { t, shade: true, .. } => format!("{text}{}", shade(t.abs())),
        _ => text.to_string(),
    }
}

fn width_of(s: &str) -> usize {
    s.lines().map(visible_width).max().unwrap_or(0)
}

/// Pads every line of `text` to `w`: labels (`left`) with a space each side, numbers
/// right-aligned with a space before.
/// Widths are measured on screen, so labels may carry colour.
fn pad_lines(text: &str, w: usize, left: bool) -> String {
    text.lines()
        .map(|l| {
            let fill = " ".repeat(w.saturating_sub(visible_width(l)));
            if left {
                format!(" {l}{fill} ")
            } else {
                // Numbers sit right against the next column line: one space of room is enough.
                format!(" {fill}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The table style for matrices: no outer border, a rule under the header, thin column lines.
pub fn matrix_style() -> TableStyle {
    TableStyle::new()
        .header_lines(ContentLineStyle::none().junction('│'))
        .header_separator(LineStyle::none().fill('─').junction('┼'))
        .content_lines(ContentLineStyle::none().junction('│'))
}

/// Statistics over a whole 2-D slice, for the line under an elided table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub count: usize,
    /// Over finite values; `None` when there are none.
    pub min: Option<f32>,
    pub max: Option<f32>,
    pub mean: Option<f64>,
    pub neg_inf: usize,
    pub nan: usize,
}

pub fn stats(data: ArrayView2<f32>) -> Stats {
    let (mut min, mut max, mut sum, mut finite) = (f32::INFINITY, f32::NEG_INFINITY, 0f64, 0);
    let (mut neg_inf, mut nan) = (0, 0);
    for &v in data.iter() {
        if v.is_finite() {
            min = min.min(v);
            max = max.max(v);
            sum += f64::from(v);
            finite += 1;
        } else if v.is_nan() {
            nan += 1;
        } else if v == f32::NEG_INFINITY {
            neg_inf += 1;
        }
    }
    Stats {
        count: data.len(),
        min: (finite > 0).then_some(min),
        max: (finite > 0).then_some(max),
        mean: (finite > 0).then(|| sum / finite as f64),
        neg_inf,
        nan,
    }
}

/// Where a 2-D view starts and how it walks memory: with the buffer it points into, it names
/// the view's values.
type SliceKey = (usize, [usize; 2], [isize; 2]);

#[derive(Default)]
struct StatsMemo {
    /// Address ranges (start, end) of the buffers whose slices may be remembered.
    pinned: Vec<(usize, usize)>,
    known: HashMap<SliceKey, Stats>,
}

thread_local! {
    /// The cache of the [`StatsCache::scope`] running on this thread, if any.
    static ACTIVE: RefCell<Option<StatsMemo>> = const { RefCell::new(None) };
}

/// Remembers the [`stats`] of slices of buffers that stay put and unchanged for `'a` (a trace's
/// tensors), so drawing the same stage again does not pass over a whole 4096×4096 slice again.
/// Views into anything else (a table computed for one drawing) are never remembered.
#[derive(Default)]
pub struct StatsCache<'a> {
    memo: StatsMemo,
    buffers: PhantomData<&'a [f32]>,
}

impl<'a> StatsCache<'a> {
    /// A cache for slices of `buffers`, which the borrow keeps alive and unchanged.
    pub fn new(buffers: impl IntoIterator<Item = &'a [f32]>) -> StatsCache<'a> {
        let pinned = buffers
            .into_iter()
            .map(|b| {
                let r = b.as_ptr_range();
                (r.start as usize, r.end as usize)
            })
            .collect();
        StatsCache {
            memo: StatsMemo {
                pinned,
                known: HashMap::new(),
            },
            buffers: PhantomData,
        }
    }

    /// Runs `f` (which renders) with this cache consulted for every stats line on this thread.
    pub fn scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        /// Puts the memo back even if `f` panics.
        struct Back<'c, 'a>(&'c mut StatsCache<'a>);
        impl Drop for Back<'_, '_> {
            fn drop(&mut self) {
                if let Some(m) = ACTIVE.with(|a| a.borrow_mut().take()) {
                    self.0.memo = m;
                }
            }
        }
        let memo = std::mem::take(&mut self.memo);
        ACTIVE.with(|a| *a.borrow_mut() = Some(memo));
        let _back = Back(self);
        f()
    }
}

/// [`stats`], from the active [`StatsCache`] when the slice lies in one of its buffers.
fn cached_stats(data: ArrayView2<f32>) -> Stats {
    ACTIVE.with(|a| {
        let mut active = a.borrow_mut();
        let Some(memo) = active.as_mut() else {
            return stats(data);
        };
        let at = data.as_ptr() as usize;
        if data.is_empty() || !memo.pinned.iter().any(|&(s, e)| s <= at && at < e) {
            return stats(data);
        }
        let strides = data.strides();
        let key = (at, [data.nrows(), data.ncols()], [strides[0], strides[1]]);
        *memo.known.entry(key).or_insert_with(|| stats(data))
    })
}

fn stats_line(data: ArrayView2<f32>, view: &View) -> String {
    let s = cached_stats(data);
    let p = view.precision;
    let opt = |v: Option<f32>| v.map_or("–".to_string(), |v| fmt_num(v, p));
    format!(
        "{}×{} values: -inf {}, NaN {}; finite ones: min {}, max {}, mean {}",
        data.nrows(),
        data.ncols(),
        s.neg_inf,
        s.nan,
        opt(s.min),
        opt(s.max),
        s.mean.map_or("–".to_string(), |m| fmt_num(m as f32, p)),
    )
}

/// Draws a grid: the title, the (elided) table, and a stats line when anything was elided.
pub fn render(grid: &Grid, view: &View, pal: &Palette) -> String {
    let (nrows, ncols) = grid.data.dim();
    let rows = plan(nrows, view.max_rows);
    // No cell is narrower than a digit, the decimals, a space and a column line: more columns
    // than this cannot fit, so the search below starts there even for a huge --max-cols.
    let fit_bound = view.width / (view.precision.max(1) + 3);
    let mut max_cols = view.max_cols.min(fit_bound).min(ncols).max(2);
    loop {
        let cols = plan(ncols, max_cols);
        let built = build(grid, &rows, &cols, view, pal, max_cols > 2);
        if let Some(table) = built {
            let mut out = String::new();
            for line in wrap_words(&grid.title, view.width, "  ").lines() {
                out.push_str(&pal.paint(line, Role::Heading));
                out.push('\n');
            }
            out.push_str(&table);
            out.push('\n');
            if rows.contains(&None) || cols.contains(&None) {
                let stats = format!("  elided; all {}", stats_line(grid.data, view));
                for line in wrap_words(&stats, view.width, "    ").lines() {
                    out.push_str(&pal.paint(line, Role::Muted));
                    out.push('\n');
                }
            }
            return out;
        }
        max_cols -= 1;
    }
}

/// A shown cell's text and look.
type Shown = (String, Look);

/// Lays out the shown cells as a table; `None` when `must_fit` and the table would be wider
/// than the view (the caller then tries fewer columns).
fn build(
    grid: &Grid,
    rows: &[Option<usize>],
    cols: &[Option<usize>],
    view: &View,
    pal: &Palette,
    must_fit: bool,
) -> Option<String> {
    let scale = match grid.kind {
        Kind::Signed { scale: Some(s) } | Kind::Values { scale: Some(s) } => s,
        _ => rows
            .iter()
            .flatten()
            .flat_map(|&i| cols.iter().flatten().map(move |&j| (i, j)))
            .map(|(i, j)| grid.data[[i, j]])
            .filter(|v| v.is_finite() && *v > PAD_THRESHOLD)
            .fold(0f32, |m, v| m.max(v.abs())),
    };
    // Texts of the shown cells, row by row; `None` marks an ellipsis cell.
    let body: Vec<Option<Vec<Option<Shown>>>> = rows
        .iter()
        .map(|r| {
            r.map(|i| {
                cols.iter()
                    .map(|c| {
                        c.map(|j| {
                            let (text, look) = cell(grid.data[[i, j]], grid.kind, scale, view);
                            let text = if pal.enabled {
                                text
                            } else {
                                plain_text(&text, &look)
                            };
                            (text, look)
                        })
                    })
                    .collect()
            })
        })
        .collect();
    let sums: Vec<Option<String>> = rows
        .iter()
        .map(|r| {
            r.filter(|_| grid.row_sum).map(|i| {
                let s: f32 = grid.data.row(i).iter().sum();
                fmt_num(s, view.precision)
            })
        })
        .collect();
    let labels: Vec<Option<String>> = rows.iter().map(|r| r.map(grid.row_label)).collect();
    let heads: Vec<String> = cols
        .iter()
        .map(|c| c.map_or("…".to_string(), grid.col_label))
        .collect();

    // Column widths (content only).
    let label_w = labels
        .iter()
        .flatten()
        .map(|l| width_of(l))
        .chain([width_of(&grid.corner), 1])
        .max()
        .unwrap_or(1);
    let col_w: Vec<usize> = (0..cols.len())
        .map(|k| {
            body.iter()
                .flatten()
                .filter_map(|row| row[k].as_ref().map(|(t, _)| width_of(t)))
                .chain([width_of(&heads[k]), 1])
                .max()
                .unwrap_or(1)
        })
        .collect();
    let sum_head = "Σ row";
    let sum_w = sums
        .iter()
        .flatten()
        .map(|s| width_of(s))
        .chain([width_of(sum_head)])
        .max()
        .unwrap_or(1);
    let n_cols = 1 + cols.len() + usize::from(grid.row_sum);
    let total = label_w
        + 2
        + col_w.iter().map(|w| w + 1).sum::<usize>()
        + if grid.row_sum { sum_w + 1 } else { 0 }
        + (n_cols - 1);

    if must_fit && total > view.width {
        return None;
    }

    let mut table = Table::new();
    table
        .load_style(matrix_style())
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(view.width).unwrap_or(u16::MAX));
    let mut header = vec![Cell::new(pad_lines(&grid.corner, label_w, true))];
    header.extend(
        heads
            .iter()
            .zip(&col_w)
            .map(|(h, &w)| Cell::new(pad_lines(h, w, false))),
    );
    if grid.row_sum {
        header.push(Cell::new(pad_lines(sum_head, sum_w, false)));
    }
    table.set_header(header);
    for ((row, label), sum) in body.iter().zip(&labels).zip(&sums) {
        let mut cells = Vec::with_capacity(n_cols);
        match (row, label) {
            (Some(row), Some(label)) => {
                cells.push(Cell::new(pad_lines(label, label_w, true)));
                for (c, &w) in row.iter().zip(&col_w) {
                    let text = match c {
                        None => pal.paint(&pad_lines("…", w, false), Role::Muted),
                        Some((t, look)) => {
                            let padded = pad_lines(t, w, false);
                            match look {
                                Look::Heat { t, diverging, .. } => {
                                    pal.heat(&padded, *t, *diverging)
                                }
                                Look::Role(role) => pal.paint(&padded, *role),
                                Look::Plain => padded,
                            }
                        }
                    };
                    cells.push(Cell::new(text));
                }
                if let Some(s) = sum {
                    cells.push(Cell::new(pad_lines(s, sum_w, false)));
                }
            }
            _ => {
                cells.push(Cell::new(pad_lines("⋮", label_w, true)));
                for &w in &col_w {
                    cells.push(Cell::new(pal.paint(&pad_lines("⋮", w, false), Role::Muted)));
                }
                if grid.row_sum {
                    cells.push(Cell::new(pad_lines("⋮", sum_w, false)));
                }
            }
        }
        table.add_row(cells);
    }
    for col in table.column_iter_mut() {
        col.set_padding((0, 0));
        col.set_cell_alignment(CellAlignment::Right);
    }
    if let Some(first) = table.column_mut(0) {
        first.set_cell_alignment(CellAlignment::Left);
    }
    Some(table.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_keeps_small_axes_and_elides_big_ones() {
        assert_eq!(plan(3, 8), vec![Some(0), Some(1), Some(2)]);
        assert_eq!(plan(10, 4), vec![Some(0), Some(1), None, Some(8), Some(9)]);
        assert_eq!(
            plan(10, 5),
            vec![Some(0), Some(1), Some(2), None, Some(8), Some(9)]
        );
        assert_eq!(plan(1_000_000, 2), vec![Some(0), None, Some(999_999)]);
    }

    #[test]
    fn numbers_format_compactly() {
        assert_eq!(fmt_num(0.12345, 3), "0.123");
        assert_eq!(fmt_num(-0.0001, 3), "0.000");
        assert_eq!(fmt_num(f32::NEG_INFINITY, 3), "-∞");
        assert_eq!(fmt_num(f32::NAN, 3), "NaN");
        assert_eq!(fmt_num(-1e9, 3), "-1.0e9");
    }

    #[test]
    fn the_stats_cache_remembers_pinned_slices_only() {
        let pinned = ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]);
        let mut cache = StatsCache::new([pinned.as_slice().unwrap()]);
        cache.scope(|| {
            assert_eq!(cached_stats(pinned.view()).mean, Some(2.5));
            // A table built for one drawing, at whatever address: computed, not remembered.
            let temp = ndarray::arr2(&[[10.0f32, 20.0]]);
            assert_eq!(cached_stats(temp.view()).mean, Some(15.0));
            // A column of the pinned array is another slice with its own stats.
            let col = pinned.column(1).insert_axis(ndarray::Axis(1));
            assert_eq!(cached_stats(col).mean, Some(3.0));
        });
        assert_eq!(cache.memo.known.len(), 2);
        assert!(ACTIVE.with(|a| a.borrow().is_none()), "scope ends");
        // Outside a scope nothing is cached.
        assert_eq!(cached_stats(pinned.view()).max, Some(4.0));
    }

    #[test]
    fn stats_count_infinities_and_skip_them_in_the_mean() {
        let a = ndarray::arr2(&[[1.0, f32::NEG_INFINITY], [3.0, f32::NAN]]);
        let s = stats(a.view());
        assert_eq!(s.count, 4);
        assert_eq!(s.min, Some(1.0));
        assert_eq!(s.max, Some(3.0));
        assert_eq!(s.mean, Some(2.0));
        assert_eq!((s.neg_inf, s.nan), (1, 1));
    }
}
