//! Unit tests of the matrix renderer: elision plans, cells, stats and legends.

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
                let p = plan_banded(n, max, Some(&bands(size, Some(n / 3 / size), Some(n / 2))));
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
fn stats_count_infinities_and_skip_them_in_the_mean() {
    let a = ndarray::arr2(&[[1.0, f32::NEG_INFINITY], [3.0, f32::NAN]]);
    let s = stats(a.view());
    assert_eq!(s.count, 4);
    assert_eq!(s.min, Some(1.0));
    assert_eq!(s.max, Some(3.0));
    assert_eq!(s.mean, Some(2.0));
    assert_eq!((s.neg_inf, s.nan), (1, 1));
}
