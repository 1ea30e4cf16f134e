//! Which rows and columns of a big matrix to show: numpy-style elision that keeps heads and
//! groups whole and a selected one visible.

use std::collections::BTreeSet;

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
