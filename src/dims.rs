//! Named dimensions and shapes: every shape the user sees is written with role names
//! (`[bsz=2, n_heads=8, seq_len=5, head_dim=64]`), never bare numbers.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// The role a dimension plays in MiniMind's attention (ARCHITECTURE.md, "Stages of one forward call").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum DimName {
    Bsz,
    SeqLen,
    PastLen,
    KvLen,
    Hidden,
    NHeads,
    NKvHeads,
    NRep,
    HeadDim,
    /// `n_heads·head_dim`: the output features of `q_proj` (and input of `o_proj`).
    QFeatures,
    /// `n_kv_heads·head_dim`: the output features of `k_proj` and `v_proj`.
    KvFeatures,
    /// A broadcast axis of size 1 (as in `attention_mask.unsqueeze(1).unsqueeze(2)`).
    One,
}

impl DimName {
    /// The name used on screen and in the exported trace's `dims` lists.
    pub fn as_str(self) -> &'static str {
        match self {
            DimName::Bsz => "bsz",
            DimName::SeqLen => "seq_len",
            DimName::PastLen => "past_len",
            DimName::KvLen => "kv_len",
            DimName::Hidden => "hidden",
            DimName::NHeads => "n_heads",
            DimName::NKvHeads => "n_kv_heads",
            DimName::NRep => "n_rep",
            DimName::HeadDim => "head_dim",
            DimName::QFeatures => "n_heads·head_dim",
            DimName::KvFeatures => "n_kv_heads·head_dim",
            DimName::One => "1",
        }
    }
}

impl fmt::Display for DimName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One axis of a tensor: its role and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dim {
    pub name: DimName,
    pub size: usize,
}

impl Dim {
    pub const fn new(name: DimName, size: usize) -> Self {
        Dim { name, size }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name == DimName::One {
            write!(f, "1")
        } else {
            write!(f, "{}={}", self.name, self.size)
        }
    }
}

/// The shape of a tensor as a list of named axes, outermost first.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    pub fn new(dims: impl Into<Vec<Dim>>) -> Self {
        Shape(dims.into())
    }

    pub fn dims(&self) -> &[Dim] {
        &self.0
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn sizes(&self) -> Vec<usize> {
        self.0.iter().map(|d| d.size).collect()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|d| d.name.as_str()).collect()
    }

    /// Number of elements. Saturates rather than overflowing, so absurd configs can still be
    /// reported on instead of panicking.
    pub fn numel(&self) -> u128 {
        self.0
            .iter()
            .fold(1u128, |acc, d| acc.saturating_mul(d.size as u128))
    }

    pub fn dim(&self, axis: usize) -> Dim {
        self.0[axis]
    }

    pub fn last(&self) -> Dim {
        *self.0.last().expect("a shape has at least one axis")
    }

    /// The same shape with axes `a` and `b` swapped.
    pub fn swapped(&self, a: usize, b: usize) -> Shape {
        let mut dims = self.0.clone();
        dims.swap(a, b);
        Shape(dims)
    }

    /// The same shape with axis `axis` replaced.
    pub fn with(&self, axis: usize, dim: Dim) -> Shape {
        let mut dims = self.0.clone();
        dims[axis] = dim;
        Shape(dims)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

/// A shape serialises as its sizes and its axis names side by side, the layout of the trace
/// export: `{"shape": [1, 5, 64], "dims": ["bsz", "seq_len", "head_dim"]}`.
impl Serialize for Shape {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Shape", 2)?;
        st.serialize_field("shape", &self.sizes())?;
        st.serialize_field("dims", &self.names())?;
        st.end()
    }
}

/// Builds a [`Shape`] from `(name, size)` pairs: `shape![(Bsz, 2), (SeqLen, 5)]`.
#[macro_export]
macro_rules! shape {
    ($(($name:ident, $size:expr)),* $(,)?) => {
        $crate::dims::Shape(vec![$($crate::dims::Dim::new($crate::dims::DimName::$name, $size)),*])
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes_print_with_names() {
        let s = shape![(Bsz, 2), (NHeads, 8), (SeqLen, 5), (HeadDim, 64)];
        assert_eq!(s.to_string(), "[bsz=2, n_heads=8, seq_len=5, head_dim=64]");
        assert_eq!(s.numel(), 2 * 8 * 5 * 64);
        assert_eq!(
            s.swapped(1, 2).to_string(),
            "[bsz=2, seq_len=5, n_heads=8, head_dim=64]"
        );
        let p = shape![(Bsz, 2), (One, 1), (One, 1), (KvLen, 7)];
        assert_eq!(p.to_string(), "[bsz=2, 1, 1, kv_len=7]");
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"shape":[2,1,1,7],"dims":["bsz","1","1","kv_len"]}"#
        );
    }
}
