//! The planted slips by name: the plain value a configuration carries (`Config::bug`), apart
//! from what the rest of [`crate::bugs`] says about each, so the configuration needs nothing else.

use serde::Serialize;

/// A planted slip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// `/ math.sqrt(hidden_size)` instead of `/ math.sqrt(head_dim)`.
    ScaleByHidden,
    /// No `/ math.sqrt(head_dim)` at all.
    NoScale,
    /// `F.softmax(scores, dim=-2)`: normalised over the queries instead of the keys.
    SoftmaxOverQueries,
    /// The causal triangle added to the first `seq_len` columns instead of the last.
    CausalNotOffset,
    /// RoPE positions restart at 0 on every call instead of continuing after `past_len`.
    RopeRestarts,
    /// `repeat_kv` tiles the KV heads (0, 1, 0, 1, …) instead of repeating each (0, 0, 1, 1, …).
    RepeatKvTiles,
    /// `.view(bsz, n_heads, seq_len, head_dim)` straight from `[bsz, seq_len, hidden]`.
    ViewWithoutTranspose,
    /// Padding filled with `-inf` instead of `-1e9`.
    PaddingNegInf,
    /// `repeat_kv` applied to the keys only.
    ValuesNotRepeated,
    /// The cache stores keys before RoPE instead of after.
    CacheBeforeRope,
}

impl Bug {
    pub const ALL: [Bug; 10] = [
        Bug::ScaleByHidden,
        Bug::NoScale,
        Bug::SoftmaxOverQueries,
        Bug::CausalNotOffset,
        Bug::RopeRestarts,
        Bug::RepeatKvTiles,
        Bug::ViewWithoutTranspose,
        Bug::PaddingNegInf,
        Bug::ValuesNotRepeated,
        Bug::CacheBeforeRope,
    ];

    /// The name used with `--bug` and in lessons.
    pub fn name(self) -> &'static str {
        match self {
            Bug::ScaleByHidden => "scale-by-hidden",
            Bug::NoScale => "no-scale",
            Bug::SoftmaxOverQueries => "softmax-over-queries",
            Bug::CausalNotOffset => "causal-not-offset",
            Bug::RopeRestarts => "rope-restarts",
            Bug::RepeatKvTiles => "repeat-kv-tiles",
            Bug::ViewWithoutTranspose => "view-without-transpose",
            Bug::PaddingNegInf => "padding-neg-inf",
            Bug::ValuesNotRepeated => "values-not-repeated",
            Bug::CacheBeforeRope => "cache-before-rope",
        }
    }

    /// The slip with this name (`_` accepted for `-`).
    pub fn parse(name: &str) -> Option<Bug> {
        let key = name.trim().to_ascii_lowercase().replace('_', "-");
        Bug::ALL.into_iter().find(|b| b.name() == key)
    }
}

impl std::fmt::Display for Bug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
