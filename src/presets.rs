//! Attention dimensions of real models, each from its published configuration.

/// The attention-relevant part of a model's published configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub qk_norm: bool,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub num_hidden_layers: usize,
    /// Where the numbers come from.
    pub source: &'static str,
}

/// Every preset, in the order `attnstep presets` lists them.
pub const PRESETS: &[Preset] = &[
    // MiniMind2 (jingyaogong/minimind, LMConfig / MiniMindConfig of the 2025 release):
    // dim 512, n_layers 8, n_heads 8, n_kv_heads 2, norm_eps 1e-5, rope_theta 1e6.
    Preset {
        name: "minimind2",
        hidden_size: 512,
        num_attention_heads: 8,
        num_key_value_heads: 2,
        head_dim: 64,
        qk_norm: false,
        rms_norm_eps: 1e-5,
        rope_theta: 1e6,
        num_hidden_layers: 8,
        source: "MiniMind2, jingyaogong/minimind model/model_minimind.py (2025)",
    },
    // MiniMind-3 (jingyaogong/minimind, model/model_minimind.py MiniMindConfig defaults):
    // hidden 768, 8 layers, 8 heads, 4 KV heads, head_dim 96, rms_norm_eps 1e-6, q_norm/k_norm.
    Preset {
        name: "minimind3",
        hidden_size: 768,
        num_attention_heads: 8,
        num_key_value_heads: 4,
        head_dim: 96,
        qk_norm: true,
        rms_norm_eps: 1e-6,
        rope_theta: 1e6,
        num_hidden_layers: 8,
        source: "MiniMind-3, jingyaogong/minimind model/model_minimind.py MiniMindConfig",
    },
];

/// Finds a preset by name, ignoring case and `-`/`_`/`.` differences.
pub fn find(name: &str) -> Option<&'static Preset> {
    let key = normalise(name);
    PRESETS.iter().find(|p| normalise(p.name) == key)
}

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}
