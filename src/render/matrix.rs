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

use std::collections::BTreeSet;

use super::palette::{Palette, ROW_MAX, Role, glyph};
use super::{View, visible_width, wrap_words};

/// Which indices of an axis of length `n` to show when at most `max` fit: all of them, or the
/// first and last few with `None` (an ellipsis) between, as numpy does.
pub fn plan(n: usize, max: usize) -> Vec<Option<usize>> {
    with_gaps(&pick(n, max.max(2), None))
}

/// How an axis falls into bands (heads, KV groups, the two halves RoPE pairs up), so elision
/// can keep each band's edges and the selected band visible.
#[derive(Clone, Copy)]
pub struct Bands<'a> {
    /// Indices per band (the last band may be shorter).
    pub size: usize,
    /// The band to show in full when there is room (the selected head's).
    pub keep: Option<usize>,
    /// One index that must stay visible (the selected head's own row); its band is then the
    /// one kept.
    pub pin: Option<usize>,
    /// The name of band `g` for the column headers (`h1`); `None` when the bands only steer
    /// the elision.
    pub label: Option<&'a dyn Fn(usize) -> String>,
}

/// `k` of the indices `0..n`: the first and last few, and `pin` if given.
fn pick(n: usize, k: usize, pin: Option<usize>) -> BTreeSet<usize> {
    if k >= n {
        return (0..n).collect();
    }
    let ends = |k: usize| {
        let head = k.div_ceil(2);
        (0..head)
            .chain(n - (k - head)..n)
            .collect::<BTreeSet<usize>>()
    };
    match pin.filter(|&p| p < n) {
        Some(p) if !ends(k).contains(&p) => {
            let mut set = ends(k.saturating_sub(1));
            set.insert(p);
            set
        }
        _ => ends(k.max(1)),
    }
}

/// Sorted indices as a plan: `None` wherever indices are skipped.
fn with_gaps(set: &BTreeSet<usize>) -> Vec<Option<usize>> {
    let mut out = Vec::with_capacity(set.len() + 2);
    let mut next = 0;
    for &i in set {
        if i > next {
            out.push(None);
        }
        out.push(Some(i));
        next = i + 1;
    }
    out
}

/// Like [`plan`], but elides inside bands rather than across them: every shown band keeps its
/// first and last index (so the boundaries between bands stay visible), the kept band is
/// shown in full when it fits, and `pin` is always shown. With more bands than room, whole
/// bands are elided (the first, the kept one and the last stay).
pub fn plan_banded(n: usize, max: usize, bands: Option<&Bands>) -> Vec<Option<usize>> {
    let max = max.max(2);
    let Some(b) = bands else {
        return plan(n, max);
    };
    let pin = b.pin.filter(|&p| p < n);
    if n <= max {
        return (0..n).map(Some).collect();
    }
    let size = b.size.clamp(1, n);
    let groups = n.div_ceil(size);
    if groups == 1 {
        return with_gaps(&pick(n, max, pin));
    }
    let len = |g: usize| size.min(n - g * size);
    // The pinned index's band is the one kept whole.
    let keep = pin.map(|p| p / size).or(b.keep).filter(|&g| g < groups);
    let least = |g: usize| len(g).min(2);
    let shown: BTreeSet<usize> = if (0..groups).map(least).sum::<usize>() <= max {
        (0..groups).collect()
    } else {
        let kept = keep.map_or(0, |g| len(g).min((max / 2).max(2)));
        let others = (max - kept.min(max)) / 2;
        pick(groups, others + usize::from(keep.is_some()), keep)
    };
    let mut alloc: Vec<(usize, usize)> = shown.iter().map(|&g| (g, least(g))).collect();
    let mut left = max.saturating_sub(alloc.iter().map(|a| a.1).sum());
    if let Some(slot) = alloc.iter_mut().find(|a| Some(a.0) == keep) {
        let extra = left.min(len(slot.0) - slot.1);
        slot.1 += extra;
        left -= extra;
    }
    while left > 0 && alloc.iter().any(|a| a.1 < len(a.0)) {
        for slot in alloc.iter_mut() {
            if left > 0 && slot.1 < len(slot.0) {
                slot.1 += 1;
                left -= 1;
            }
        }
    }
    let mut set = BTreeSet::new();
    for (g, k) in alloc {
        let start = g * size;
        let pin_here = pin.filter(|p| p / size == g).map(|p| p - start);
        set.extend(pick(len(g), k, pin_here).into_iter().map(|i| start + i));
    }
    with_gaps(&set)
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

/// A matrix to draw: a 2-D view of a tensor plus labels. Build it with [`Grid::new`] and the
/// methods that add a Σ column or bands.
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
    /// Bands of the rows and columns (heads, KV groups) that elision keeps whole.
    pub row_bands: Option<Bands<'a>>,
    pub col_bands: Option<Bands<'a>>,
}

impl<'a> Grid<'a> {
    pub fn new(
        title: String,
        data: ArrayView2<'a, f32>,
        corner: &str,
        row_label: &'a dyn Fn(usize) -> String,
        col_label: &'a dyn Fn(usize) -> String,
        kind: Kind,
    ) -> Self {
        Grid {
            title,
            data,
            corner: corner.to_string(),
            row_label,
            col_label,
            kind,
            row_sum: false,
            row_bands: None,
            col_bands: None,
        }
    }

    /// With a Σ column of each row's sum.
    pub fn sums(mut self) -> Self {
        self.row_sum = true;
        self
    }

    pub fn rows_in(mut self, bands: Bands<'a>) -> Self {
        self.row_bands = Some(bands);
        self
    }

    pub fn cols_in(mut self, bands: Bands<'a>) -> Self {
        self.col_bands = Some(bands);
        self
    }
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
        /// Whether the cell carries a glyph without colour (heatmaps, not vector tables).
        glyph: bool,
    },
    Role(Role),
    Plain,
}

/// Whether `v` is a real score rather than a mask mark (-∞, the padding bias) or NaN.
fn is_score(v: f32) -> bool {
    v.is_finite() && v > PAD_THRESHOLD
}

fn cell(v: f32, kind: Kind, scale: f32, view: &View) -> (String, Look) {
    let p = view.precision;
    let signed = |v: f32, glyph: bool| {
        let t = if scale > 0.0 { v / scale } else { 0.0 };
        (
            fmt_num(v, p),
            Look::Heat {
                t: t.clamp(-1.0, 1.0),
                diverging: true,
                glyph,
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
                glyph: true,
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

/// The text a cell gets without colour: the heat carried by a glyph.
fn plain_text(text: &str, look: &Look) -> String {
    match look {
        Look::Heat {
            t,
            diverging,
            glyph: true,
        } => format!("{text}{}", glyph(*t, *diverging)),
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

/// Statistics over a whole 2-D slice, for the line under an elided table and the legend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub count: usize,
    /// Over finite values; `None` when there are none.
    pub min: Option<f32>,
    pub max: Option<f32>,
    pub mean: Option<f64>,
    pub neg_inf: usize,
    pub nan: usize,
    /// Finite values at or below [`PAD_THRESHOLD`]: scores carrying the padding bias.
    pub pad: usize,
}

pub fn stats(data: ArrayView2<f32>) -> Stats {
    let (mut min, mut max, mut sum, mut finite) = (f32::INFINITY, f32::NEG_INFINITY, 0f64, 0);
    let (mut neg_inf, mut nan, mut pad) = (0, 0, 0);
    for &v in data.iter() {
        if v.is_finite() {
            min = min.min(v);
            max = max.max(v);
            sum += f64::from(v);
            finite += 1;
            if v <= PAD_THRESHOLD {
                pad += 1;
            }
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
        pad,
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

/// `showing 6 of 8 rows, 4 of 12 columns · all 8×12: min …, max …, mean …` with the count of
/// -∞ and NaN values only when there are any.
fn elided_line(grid: &Grid, shown: (usize, usize), s: &Stats, view: &View) -> String {
    let (nrows, ncols) = grid.data.dim();
    let p = view.precision;
    let mut parts = Vec::new();
    if shown.0 < nrows {
        parts.push(format!("{} of {nrows} rows", shown.0));
    }
    if shown.1 < ncols {
        parts.push(format!("{} of {ncols} columns", shown.1));
    }
    let mut all = match (s.min, s.max, s.mean) {
        (Some(min), Some(max), Some(mean)) => format!(
            "all {nrows}×{ncols}: min {}, max {}, mean {}",
            fmt_num(min, p),
            fmt_num(max, p),
            fmt_num(mean as f32, p)
        ),
        _ => format!("all {nrows}×{ncols}: no finite value"),
    };
    for (n, what) in [(s.neg_inf, "-∞"), (s.nan, "NaN")] {
        if n > 0 {
            all.push_str(&format!(", {n} {what}"));
        }
    }
    format!("  showing {} · {all}", parts.join(", "))
}

/// What a drawn table showed, for its legend.
struct Drawn {
    table: String,
    /// The scale a full glyph or the deepest colour stands for (signed kinds).
    scale: f32,
    /// Smallest and largest real value among the shown cells.
    range: Option<(f32, f32)>,
    /// Whether a row maximum was marked.
    marked: bool,
    /// Rows and columns of data shown.
    shown: (usize, usize),
}

/// The one-line key under a heatmap: what the colours or glyphs mean and the range they span.
fn legend(grid: &Grid, d: &Drawn, all: Option<&Stats>, view: &View, pal: &Palette) -> String {
    let p = view.precision;
    let range = d.range.map(|(lo, hi)| {
        if lo == hi {
            format!("shown {}", fmt_num(lo, p))
        } else {
            format!("shown {} … {}", fmt_num(lo, p), fmt_num(hi, p))
        }
    });
    let swatch = |v: f32, t: f32, diverging: bool| {
        pal.heat(&format!(" {} ", fmt_num(v, p)), t, diverging, false)
    };
    let mut parts: Vec<String> = Vec::new();
    match grid.kind {
        Kind::Signed { .. } | Kind::Masked | Kind::Values { .. } => {
            let s = d.scale;
            if pal.enabled {
                parts.push(format!(
                    "{}{}{} blue negative, red positive",
                    swatch(-s, -1.0, true),
                    swatch(0.0, 0.0, true),
                    swatch(s, 1.0, true)
                ));
            } else {
                parts.push(format!(
                    "░▒▓█ positive, ⡀⣀⣤⣿ negative, full at ±{}",
                    fmt_num(s, p)
                ));
            }
        }
        Kind::Weights => {
            if pal.enabled {
                parts.push(format!(
                    "{}{}{} weight, dark to light",
                    swatch(0.0, 0.0, false),
                    swatch(0.5, 0.5, false),
                    swatch(1.0, 1.0, false)
                ));
            } else {
                parts.push("░▒▓█ weight up to ¼ ½ ¾ 1 (blank 0)".into());
            }
            if d.marked {
                parts.push(format!("{ROW_MAX} row's largest"));
            }
        }
        _ => {}
    }
    parts.extend(range);
    if let (Kind::Masked, Some(s)) = (grid.kind, all) {
        if s.neg_inf > 0 {
            parts.push(format!("{} = causal mask", pal.paint("-∞", Role::Blocked)));
        }
        if s.pad > 0 {
            parts.push(format!(
                "{} = padded key (−1e9)",
                pal.paint("pad", Role::Pad)
            ));
        }
    }
    let key = pal.paint("key:", Role::Muted);
    wrap_words(
        &format!("  {key} {}", parts.join(" · ")),
        view.width,
        "    ",
    )
}

/// Whether a table of this kind is a heatmap with a legend under it.
fn has_legend(kind: Kind, pal: &Palette) -> bool {
    match kind {
        Kind::Signed { .. } | Kind::Masked | Kind::Weights => true,
        // Vector tables are plain numbers without colour.
        Kind::Values { .. } => pal.enabled,
        _ => false,
    }
}

/// Draws a grid: the title, the (elided) table, a legend under a heatmap, and a line saying
/// how much is shown when anything was elided.
pub fn render(grid: &Grid, view: &View, pal: &Palette) -> String {
    let (nrows, ncols) = grid.data.dim();
    let rows = plan_banded(nrows, view.max_rows, grid.row_bands.as_ref());
    // No cell is narrower than a digit, the decimals, a space and a column line: more columns
    // than this cannot fit, so the search below starts there even for a huge --max-cols.
    let fit_bound = view.width / (view.precision.max(1) + 3);
    let mut max_cols = view.max_cols.min(fit_bound).min(ncols).max(2);
    loop {
        let cols = plan_banded(ncols, max_cols, grid.col_bands.as_ref());
        let built = build(grid, &rows, &cols, view, pal, max_cols > 2);
        if let Some(drawn) = built {
            let mut out = String::new();
            for line in wrap_words(&grid.title, view.width, "  ").lines() {
                out.push_str(&pal.paint(line, Role::Heading));
                out.push('\n');
            }
            out.push_str(&drawn.table);
            out.push('\n');
            let elided = rows.contains(&None) || cols.contains(&None);
            let all = (elided || grid.kind == Kind::Masked).then(|| cached_stats(grid.data));
            if has_legend(grid.kind, pal) {
                out.push_str(&legend(grid, &drawn, all.as_ref(), view, pal));
            }
            if let (true, Some(s)) = (elided, &all) {
                let line = elided_line(grid, drawn.shown, s, view);
                for line in wrap_words(&line, view.width, "    ").lines() {
                    out.push_str(&pal.paint(line, Role::Muted));
                    out.push('\n');
                }
            }
            return out;
        }
        max_cols -= 1;
    }
}

/// A shown cell's text and look, and whether it is its row's largest weight.
type Shown = ((String, Look), bool);
/// The shown cells row by row; `None` for an ellipsis row or cell.
type Body = Vec<Option<Vec<Option<Shown>>>>;

/// Lays out the shown cells as a table; `None` when `must_fit` and the table would be wider
/// than the view (the caller then tries fewer columns).
fn build(
    grid: &Grid,
    rows: &[Option<usize>],
    cols: &[Option<usize>],
    view: &View,
    pal: &Palette,
    must_fit: bool,
) -> Option<Drawn> {
    let shown_values = || {
        rows.iter()
            .flatten()
            .flat_map(|&i| cols.iter().flatten().map(move |&j| grid.data[[i, j]]))
            .filter(|&v| is_score(v))
    };
    let scale = match grid.kind {
        Kind::Signed { scale: Some(s) } | Kind::Values { scale: Some(s) } => s,
        _ => shown_values().fold(0f32, |m, v| m.max(v.abs())),
    };
    let range = shown_values().fold(None, |r: Option<(f32, f32)>, v| {
        Some(r.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
    });
    // The largest weight of each shown row (over the whole row, shown or not).
    let weights = grid.kind == Kind::Weights;
    let row_max = |i: usize| {
        grid.data
            .row(i)
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f32::NEG_INFINITY, f32::max)
    };
    let mut marked = false;
    // Texts of the shown cells, row by row; `None` marks an ellipsis cell.
    let body: Body = rows
        .iter()
        .map(|r| {
            r.map(|i| {
                let top = if weights { row_max(i) } else { f32::NAN };
                cols.iter()
                    .map(|c| {
                        c.map(|j| {
                            let v = grid.data[[i, j]];
                            let (text, look) = cell(v, grid.kind, scale, view);
                            let mut text = if pal.enabled {
                                text
                            } else {
                                plain_text(&text, &look)
                            };
                            let is_max = weights && v == top && top > 0.0;
                            if weights {
                                text.push(if is_max { ROW_MAX } else { ' ' });
                            }
                            marked |= is_max;
                            ((text, look), is_max)
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
    let heads: Vec<String> = cols.iter().map(|c| column_head(grid, *c, pal)).collect();

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
                .filter_map(|row| row[k].as_ref().map(|((t, _), _)| width_of(t)))
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
                        Some(((t, look), is_max)) => {
                            let padded = pad_lines(t, w, false);
                            match look {
                                Look::Heat { t, diverging, .. } => {
                                    pal.heat(&padded, *t, *diverging, *is_max)
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
    Some(Drawn {
        table: table.to_string(),
        scale,
        range,
        marked,
        shown: (rows.iter().flatten().count(), cols.iter().flatten().count()),
    })
}

/// A column's header: its label, under the name of its band when the columns have named
/// bands (the selected band highlighted, or in `[brackets]` without colour).
fn column_head(grid: &Grid, col: Option<usize>, pal: &Palette) -> String {
    let named = grid
        .col_bands
        .as_ref()
        .and_then(|b| b.label.map(|f| (b, f)));
    match (col, named) {
        (None, None) => "…".into(),
        (None, Some(_)) => "\n…".into(),
        (Some(j), None) => (grid.col_label)(j),
        (Some(j), Some((b, name))) => {
            let g = j / b.size.max(1);
            let band = name(g);
            let band = if b.keep == Some(g) {
                if pal.enabled {
                    pal.paint(&band, Role::Selected)
                } else {
                    format!("[{band}]")
                }
            } else {
                band
            };
            format!("{band}\n{}", (grid.col_label)(j))
        }
    }
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

    fn bands(size: usize, keep: Option<usize>, pin: Option<usize>) -> Bands<'static> {
        Bands {
            size,
            keep,
            pin,
            label: None,
        }
    }

    #[test]
    fn banded_plans_keep_the_selected_head_and_every_boundary() {
        // Lesson 2: 12 features = 3 heads of 4, head 1 selected, room for 8 columns.
        let p = plan_banded(12, 8, Some(&bands(4, Some(1), None)));
        let s = Some;
        assert_eq!(
            p,
            [s(0), None, s(3), s(4), s(5), s(6), s(7), s(8), None, s(11)]
        );
        // Lesson 8: 8 query heads in 2 KV groups of 4, query head 5 selected, 6 rows of room:
        // the boundary q3 | q4 stays and q5 is shown.
        let p = plan_banded(8, 6, Some(&bands(4, Some(1), Some(5))));
        assert_eq!(p, [s(0), None, s(3), s(4), s(5), s(6), s(7)]);
        // RoPE's halves: the same offsets in both, so the pairs (d, d + 32) are both visible.
        let p = plan_banded(64, 8, Some(&bands(32, None, None)));
        assert_eq!(
            p,
            [
                s(0),
                s(1),
                None,
                s(30),
                s(31),
                s(32),
                s(33),
                None,
                s(62),
                s(63)
            ]
        );
        // Too many heads for every one: the first, the selected and the last stay.
        let p = plan_banded(2048, 8, Some(&bands(64, Some(5), None)));
        let shown: Vec<usize> = p.iter().flatten().copied().collect();
        assert_eq!(shown.len(), 8);
        assert!(shown.contains(&0) && shown.contains(&2047));
        assert!(shown.contains(&320) && shown.contains(&383), "{shown:?}");
        // A pin alone selects its band.
        let p = plan_banded(8, 4, Some(&bands(4, None, Some(5))));
        assert!(p.contains(&Some(5)), "{p:?}");
        // Everything that fits is shown, in order, with no two ellipses in a row.
        assert_eq!(plan_banded(6, 8, Some(&bands(2, Some(0), None))).len(), 6);
        for n in 1..40 {
            for max in 2..12 {
                for size in 1..10 {
                    let p =
                        plan_banded(n, max, Some(&bands(size, Some(n / 3 / size), Some(n / 2))));
                    let shown: Vec<usize> = p.iter().flatten().copied().collect();
                    assert!(shown.windows(2).all(|w| w[0] < w[1]), "{p:?}");
                    assert!(shown.len() <= max.max(2), "{n} {max} {size}: {p:?}");
                    assert!(p.windows(2).all(|w| w[0].is_some() || w[1].is_some()));
                    assert!(shown.contains(&(n / 2)), "{n} {max} {size}: {p:?}");
                }
            }
        }
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
