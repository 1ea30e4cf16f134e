//! The KV-cache view (the cache before and after a call) and the repeat_kv view (which query
//! heads read each KV head).

use comfy_table::Cell;

use crate::render::matrix::{self, Bands, Grid, Kind};
use crate::render::palette::Role;
use crate::stage::TensorId;

use super::ctx::*;

pub(super) fn kv_cache(c: &Ctx, step: usize) -> Vec<String> {
    let (b, kvh, st) = (c.b, c.kvh, c.st);
    let past = st.start_pos;
    let mut out = Vec::new();
    let before = if step > 0 {
        c.trace.steps[step - 1].tensor(TensorId::XkCache)
    } else {
        None
    };
    out.push(crate::render::wrap::wrap_words(
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

pub(super) fn repeat_kv(c: &Ctx) -> Vec<String> {
    let cfg = c.cfg;
    let (n_kv, n_rep) = (cfg.num_key_value_heads, cfg.n_rep());
    let mut table = table(
        c,
        vec![
            Cell::new("KV head"),
            Cell::new(format!("query heads that read it (n_rep={n_rep})")),
        ],
    );
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
                         it{}",
                        c.b,
                        // With n_rep = 1 every query head has its own KV head: no rows repeat.
                        if n_rep > 1 {
                            ": equal rows share a KV head"
                        } else {
                            ""
                        }
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
pub(super) fn with_pin(n: usize, max: usize, pin: usize) -> Vec<Option<usize>> {
    with_pin_opt(n, max, Some(pin))
}

pub(super) fn with_pin_opt(n: usize, max: usize, pin: Option<usize>) -> Vec<Option<usize>> {
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
