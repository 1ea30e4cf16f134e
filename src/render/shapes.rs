//! The shape table of a stage: each tensor the stage reads and writes, with named dimensions
//! in fixed colours, `before → after` where the stage changes a shape, and the changed
//! dimensions marked. In a window too narrow for the table, each shape goes on the lines
//! under its tensor's name, so no shape is cut inside its brackets.

use comfy_table::{Cell, ContentArrangement, Table};

use super::matrix::matrix_style;
use super::palette::{Palette, Role};
use super::view::View;
use crate::config::Config;
use crate::dims::{Dim, DimName, Shape};
use crate::numeric::Tensor;
use crate::text::visible_width;
use crate::trace::{TensorId, Trace};

/// For each dimension of `after`, whether the stage changed it: a dimension that `before` does
/// not have, or (when only the order changed, as in a transpose) one that moved.
pub fn changed_dims(before: &Shape, after: &Shape) -> Vec<bool> {
    let (b, a) = (before.dims(), after.dims());
    let count = |s: &[Dim], d: &Dim| s.iter().filter(|x| *x == d).count();
    let same_set = a.len() == b.len() && a.iter().all(|d| count(a, d) == count(b, d));
    if same_set {
        return a.iter().enumerate().map(|(i, d)| b[i] != *d).collect();
    }
    // Longest common subsequence: the dimensions carried over in order are not changes.
    let (n, m) = (b.len(), a.len());
    let mut l = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            l[i][j] = if b[i] == a[j] {
                l[i + 1][j + 1] + 1
            } else {
                l[i + 1][j].max(l[i][j + 1])
            };
        }
    }
    let mut changed = vec![true; m];
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if b[i] == a[j] {
            changed[j] = false;
            i += 1;
            j += 1;
        } else if l[i + 1][j] >= l[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    changed
}

/// A shape with each dimension in its colour; `changed` dimensions bold and underlined (or
/// wrapped in `*…*` without colour).
pub fn shape_text(shape: &Shape, changed: Option<&[bool]>, pal: &Palette) -> String {
    let parts: Vec<String> = shape
        .dims()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let ch = changed.is_some_and(|c| c[i]);
            let text = d.to_string();
            if ch && !pal.enabled {
                format!("*{text}*")
            } else {
                pal.dim(&text, d.name, ch)
            }
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Every named dimension of this step with its size, in its colour.
pub fn dims_legend(cfg: &Config, past_len: usize, seq_len: usize, pal: &Palette) -> Vec<String> {
    use DimName::*;
    let dims = [
        (Bsz, cfg.batch),
        (SeqLen, seq_len),
        (PastLen, past_len),
        (KvLen, past_len + seq_len),
        (Hidden, cfg.hidden_size),
        (NHeads, cfg.num_attention_heads),
        (NKvHeads, cfg.num_key_value_heads),
        (NRep, cfg.n_rep()),
        (HeadDim, cfg.head_dim),
    ];
    dims.into_iter()
        .map(|(n, s)| pal.dim(&format!("{n}={s}"), n, false))
        .collect()
}

/// The rows of a shape table with each shape on the lines under its tensor's name, for a
/// window too narrow for the three columns. A shape wider than the window is broken between
/// dimensions.
fn stacked(rows: &[Row], view: &View, pal: &Palette) -> String {
    let role_w = rows
        .iter()
        .flat_map(|(r, _, _)| r.lines())
        .map(visible_width)
        .max()
        .unwrap_or(0);
    let indent = " ".repeat(role_w + 4);
    let mut out = Vec::new();
    for (role, name, shape) in rows {
        let (roles, names, shapes): (Vec<&str>, Vec<&str>, Vec<&str>) = (
            role.lines().collect(),
            name.lines().collect(),
            shape.lines().collect(),
        );
        for k in 0..roles.len().max(names.len()).max(shapes.len()) {
            let r = roles.get(k).copied().unwrap_or("");
            let fill = " ".repeat(role_w - visible_width(r));
            out.push(format!(
                " {}{fill} {}",
                pal.paint(r, Role::Muted),
                names.get(k).copied().unwrap_or("")
            ));
            if let Some(s) = shapes.get(k) {
                let room = view.width.saturating_sub(indent.len());
                for line in super::wrap::wrap_words(s, room, "  ").lines() {
                    out.push(format!("{indent}{line}"));
                }
            }
        }
    }
    out.join("\n")
}

/// One line of a shape table: role (`in`, `out`, `weight`, `via`), tensor, shape; a pair
/// (a tensor and the one derived from it) takes two lines in each column.
type Row = (String, String, String);

/// The shape table of one stage.
pub fn table(
    trace: &Trace<Tensor>,
    step: usize,
    stage: usize,
    view: &View,
    pal: &Palette,
) -> String {
    let spec = trace.steps[step].stages[stage].id.spec();
    if spec.outputs.is_empty() && spec.reads.is_empty() && spec.weights.is_empty() {
        // A stage with no tensor of its own (the model's prediction) has no shape table.
        return String::new();
    }
    let mut rows = input_rows(trace, step, stage, pal);
    rows.extend(written_rows(trace, step, stage, pal));
    let side_by_side = side_by_side(&rows, pal);
    // Too wide for the window: each tensor's shape goes under its name instead of being cut
    // inside its brackets.
    let mut out = if side_by_side.lines().all(|l| visible_width(l) <= view.width) {
        side_by_side
    } else {
        stacked(&rows, view, pal)
    };
    out.push('\n');
    out.push_str(&footer(trace, step, stage, view, pal));
    out
}

/// The rows of what a stage reads: the step's tensors, the cache of the last call (at the
/// KV-cache stage of a later call), and the weights.
fn input_rows(trace: &Trace<Tensor>, step: usize, stage: usize, pal: &Palette) -> Vec<Row> {
    let st = &trace.steps[step];
    let sg = &st.stages[stage];
    let spec = sg.id.spec();
    let plain = |s: &Shape| shape_text(s, None, pal);
    let mut rows: Vec<Row> = Vec::new();
    for &id in spec.reads {
        if let Some(t) = st.tensor(id) {
            rows.push(("in".into(), id.name().to_string(), plain(&t.shape)));
        }
    }
    if sg.id == crate::stage::StageId::KvCache && step > 0 {
        let prev = &trace.steps[step - 1];
        for id in [TensorId::XkCache, TensorId::XvCache] {
            if let Some(t) = prev.tensor(id) {
                // The cache from the last call has past_len rows where it had kv_len.
                let shape = t
                    .shape
                    .with(1, Dim::new(DimName::PastLen, t.shape.dim(1).size));
                rows.push(("in".into(), format!("past {id}"), plain(&shape)));
            }
        }
    }
    for &id in spec.weights {
        if let Some(t) = trace.weight(id) {
            rows.push(("weight".into(), id.name().to_string(), plain(&t.shape)));
        }
    }
    rows
}

/// The rows of what a stage writes: each tensor (with the one it comes from, `before → after`,
/// when it has one), then the intermediate shapes the stage passes through.
fn written_rows(trace: &Trace<Tensor>, step: usize, stage: usize, pal: &Palette) -> Vec<Row> {
    let st = &trace.steps[step];
    let sg = &st.stages[stage];
    let spec = sg.id.spec();
    let plain = |s: &Shape| shape_text(s, None, pal);
    let mut rows: Vec<Row> = Vec::new();
    for t in &sg.tensors {
        // A tensor this stage both writes and derives another from shows once, in the pair.
        if t.from.is_none() && sg.tensors.iter().any(|o| o.from == Some(t.id)) {
            continue;
        }
        let src = t.from.and_then(|f| st.tensor(f).map(|s| (f, s)));
        let given = spec.output(t.id).is_some_and(|o| o.given);
        let role = if given { "in" } else { "out" };
        match src {
            Some((f, s)) if s.shape != t.value.shape => {
                let ch = changed_dims(&s.shape, &t.value.shape);
                rows.push((
                    "in\nout".into(),
                    format!("{f}\n→ {}", t.id),
                    format!(
                        "{}\n→ {}",
                        plain(&s.shape),
                        shape_text(&t.value.shape, Some(&ch), pal)
                    ),
                ));
            }
            Some((f, _)) => rows.push((
                "in\nout".into(),
                format!("{f}\n→ {}", t.id),
                format!(
                    "{}  {}",
                    plain(&t.value.shape),
                    pal.paint("(same shape)", Role::Muted)
                ),
            )),
            None => rows.push((role.into(), t.name().to_string(), plain(&t.value.shape))),
        }
    }
    for (label, shape) in &sg.via {
        rows.push(("via".into(), label.to_string(), plain(shape)));
    }
    rows
}

/// The rows as a three-column table: role, tensor, shape.
fn side_by_side(rows: &[Row], pal: &Palette) -> String {
    let mut table = Table::new();
    table
        .load_style(matrix_style())
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            Cell::new(""),
            Cell::new(pal.paint("tensor", Role::Heading)),
            Cell::new(pal.paint("shape", Role::Heading)),
        ]);
    for (role, name, shape) in rows {
        table.add_row(vec![
            Cell::new(pal.paint(role, Role::Muted)),
            Cell::new(name),
            Cell::new(shape),
        ]);
    }
    table.to_string()
}

/// The lines under the table: what each dimension name means here, and how a changed
/// dimension is marked when the stage changes a shape.
fn footer(trace: &Trace<Tensor>, step: usize, stage: usize, view: &View, pal: &Palette) -> String {
    let st = &trace.steps[step];
    let legend = dims_legend(&trace.config, st.start_pos, st.seq_len, pal);
    let mut out = super::wrap::wrap_words(
        &format!("{} {}", pal.paint("dims:", Role::Muted), legend.join("  ")),
        view.width,
        "      ",
    );
    if st.stages[stage].id.changes_shape() {
        out.push_str(&pal.paint(
            if pal.enabled {
                "  underlined: the dimension this stage changed\n"
            } else {
                "  *…*: the dimension this stage changed\n"
            },
            Role::Muted,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape;

    #[test]
    fn transpose_marks_both_swapped_axes() {
        let b = shape![(Bsz, 1), (SeqLen, 5), (NHeads, 8), (HeadDim, 64)];
        let a = b.swapped(1, 2);
        assert_eq!(changed_dims(&b, &a), vec![false, true, true, false]);
    }

    #[test]
    fn split_and_cache_mark_only_new_axes() {
        let b = shape![(Bsz, 1), (SeqLen, 5), (QFeatures, 512)];
        let a = shape![(Bsz, 1), (SeqLen, 5), (NHeads, 8), (HeadDim, 64)];
        assert_eq!(changed_dims(&b, &a), vec![false, false, true, true]);
        let b = shape![(Bsz, 1), (SeqLen, 1), (NKvHeads, 2), (HeadDim, 64)];
        let a = shape![(Bsz, 1), (KvLen, 6), (NKvHeads, 2), (HeadDim, 64)];
        assert_eq!(changed_dims(&b, &a), vec![false, true, false, false]);
        let b = shape![(Bsz, 2), (KvLen, 7)];
        let a = shape![(Bsz, 2), (One, 1), (One, 1), (KvLen, 7)];
        assert_eq!(changed_dims(&b, &a), vec![false, true, true, false]);
    }

    #[test]
    fn plain_shapes_star_the_changed_axis() {
        let a = shape![(Bsz, 1), (KvLen, 6)];
        let p = Palette::new(false);
        assert_eq!(
            shape_text(&a, Some(&[false, true]), &p),
            "[bsz=1, *kv_len=6*]"
        );
    }
}
