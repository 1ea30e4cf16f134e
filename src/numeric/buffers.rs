//! Buffers: the shared [`Data`] of a tensor, fresh zeroed outputs an operation writes into
//! (with optional transparent huge pages), and contiguous or strided views of inputs.

use ndarray::{ArcArray, ArrayD, ArrayView2, ArrayViewD, Axis, Ix2, IxDyn, Zip, s};
use std::sync::atomic::{AtomicBool, Ordering};

/// The numbers of a tensor: a reference-counted n-dimensional f32 array, so cloning shares.
pub type Data = ArcArray<f32, IxDyn>;

/// Whether large outputs ask for transparent huge pages; see [`set_huge_pages`].
static HUGE_PAGES: AtomicBool = AtomicBool::new(false);

/// Asks for transparent huge pages (Linux `MADV_HUGEPAGE`) for the whole 2 MiB blocks of every
/// large output, or stops asking. Off by default.
///
/// Fresh memory costs its first touch, a page fault and the kernel clearing the page, and at
/// long contexts that is most of a run. Huge pages take one fault per 2 MiB instead of 512.
/// Measured on the 2-core VM this was tuned on (MiniMind2, L = 2048): back-to-back runs take
/// 0.45 s with huge pages against 1.1 s without, but a run after a few idle seconds takes 2–3 s
/// with them against 1.1 s without, because the hypervisor takes back idle 2 MiB blocks and must
/// back them again on first touch. Single runs are the usual case, so this is off unless a
/// caller (a benchmark loop, a machine without that hypervisor) turns it on.
pub fn set_huge_pages(on: bool) {
    HUGE_PAGES.store(on, Ordering::Relaxed);
}

/// A fresh zero-filled output buffer of `len` floats, derefs to the `[f32]` an operation writes
/// its result into, then becomes the result's [`Data`] without a copy.
///
/// Zeroed allocation of a large buffer maps fresh pages without writing them, so the first touch
/// is the only cost, and pages an operation never writes (a causal row's zero tail) cost
/// nothing. With [`set_huge_pages`] on, the data starts on a 2 MiB boundary inside a slightly
/// larger allocation (the untouched head costs address space, not memory) and its whole 2 MiB
/// blocks are advised to use huge pages; a partial last block keeps small pages, so the
/// resident size stays the tensor's own.
pub(super) struct Out {
    buf: Vec<f32>,
    start: usize,
    len: usize,
}

/// Transparent huge page size on x86-64 and aarch64 Linux.
pub(super) const HUGE: usize = 2 << 20;

impl Out {
    pub(super) fn zeroed(len: usize) -> Out {
        let huge =
            cfg!(target_os = "linux") && len * 4 >= HUGE && HUGE_PAGES.load(Ordering::Relaxed);
        let pad = if huge { HUGE / 4 } else { 0 };
        let buf = vec![0.0f32; len + pad];
        let start = if huge {
            let addr = buf.as_ptr() as usize;
            (addr.next_multiple_of(HUGE) - addr) / 4
        } else {
            0
        };
        let out = Out { buf, start, len };
        if huge {
            advise_huge_pages(&out);
        }
        out
    }

    /// The result as shared data of `sizes` (which hold `len` elements).
    pub(super) fn into_data(self, sizes: &[usize]) -> Data {
        let Out { buf, start, len } = self;
        ndarray::Array1::from_vec(buf)
            .slice_move(s![start..start + len])
            .into_shape_with_order(IxDyn(sizes))
            .expect("the buffer holds exactly the elements of the shape")
            .into_shared()
    }
}

impl std::ops::Deref for Out {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[self.start..self.start + self.len]
    }
}

impl std::ops::DerefMut for Out {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

/// Advises the whole 2 MiB blocks of `v` (which starts on a block boundary) to use huge pages.
#[cfg(target_os = "linux")]
pub(super) fn advise_huge_pages(v: &[f32]) {
    let blocks = std::mem::size_of_val(v) / HUGE;
    if blocks == 0 {
        return;
    }
    // SAFETY: the range lies inside `v`'s allocation and starts page-aligned; MADV_HUGEPAGE only
    // changes how the kernel backs those pages, never their contents. A refusal (THP disabled)
    // is harmless, so the result is ignored.
    unsafe {
        libc::madvise(
            v.as_ptr() as *mut libc::c_void,
            blocks * HUGE,
            libc::MADV_HUGEPAGE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn advise_huge_pages(_v: &[f32]) {}

/// Wraps a row-major vector as shared data of `sizes`.
pub(super) fn shared(buf: Vec<f32>, sizes: &[usize]) -> Data {
    ArrayD::from_shape_vec(IxDyn(sizes), buf)
        .expect("the vector holds exactly the elements of the shape")
        .into_shared()
}

/// The elements of `a` in row-major order, copied once into a fresh buffer (used only when `a`
/// is not already standard layout). Copies whole last-axis lanes, in parallel.
pub(super) fn to_standard(a: &ArrayViewD<f32>) -> Out {
    let mut buf = Out::zeroed(a.len());
    if a.ndim() == 0 || a.is_empty() {
        buf.iter_mut().zip(a.iter()).for_each(|(o, v)| *o = *v);
        return buf;
    }
    let last = Axis(a.ndim() - 1);
    let mut out = ndarray::ArrayViewMutD::from_shape(a.raw_dim(), &mut buf)
        .expect("the buffer holds the elements");
    Zip::from(out.lanes_mut(last))
        .and(a.lanes(last))
        .par_for_each(|mut o, i| o.assign(&i));
    buf
}

/// `x` as a row-major slice: borrowed when it already is one, else copied once.
pub(super) fn contiguous(x: &Data) -> Rows<'_> {
    match x.as_slice() {
        Some(s) => Rows::Borrowed(s),
        None => Rows::Copied(to_standard(&x.view())),
    }
}

/// The elements of a tensor in row-major order, see [`contiguous`].
pub(super) enum Rows<'a> {
    Borrowed(&'a [f32]),
    Copied(Out),
}

impl std::ops::Deref for Rows<'_> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            Rows::Borrowed(s) => s,
            Rows::Copied(out) => out,
        }
    }
}

/// `a` with its leading axes fixed at the row-major multi-index of `flat`, keeping the last
/// `keep` axes: a view, no copy.
pub(super) fn fix_leading<'a>(
    a: &ArrayViewD<'a, f32>,
    flat: usize,
    keep: usize,
) -> ArrayViewD<'a, f32> {
    let lead = &a.shape()[..a.ndim() - keep];
    let mut index = vec![0; lead.len()];
    let mut rest = flat;
    for (i, &size) in index.iter_mut().zip(lead).rev() {
        *i = rest % size;
        rest /= size;
    }
    let mut v = a.clone();
    for i in index {
        v = v.index_axis_move(Axis(0), i);
    }
    v
}

/// Matrix `index` (row-major over the leading axes) of `a`, rank ≥ 2.
pub(super) fn matrix_at<'a>(a: &ArrayViewD<'a, f32>, index: usize) -> ArrayView2<'a, f32> {
    fix_leading(a, index, 2)
        .into_dimensionality::<Ix2>()
        .expect("two axes are left")
}
