//! Attention dimensions of real models, each from its published configuration.
//!
//! Only what MiniMind's `Attention` needs is kept (widths, head counts, norm epsilon, RoPE base)
//! plus the layer count, so `attnstep shapes` can total the KV cache over the whole model. Where
//! a model's attention differs from MiniMind's in ways that change numbers but not shapes
//! (biases, learned positions, sliding windows), its `note` says so.

/// The attention-relevant part of a model's published configuration.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
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
    /// `max_position_embeddings` of the published config, when known: the context the model
    /// was built for.
    pub max_position_embeddings: Option<usize>,
    /// Where the numbers come from.
    pub source: &'static str,
    /// How the real model's attention differs from MiniMind's, if it does.
    pub note: &'static str,
}

impl Preset {
    /// "MHA", "GQA" or "MQA", from the head counts.
    pub fn attention_kind(&self) -> &'static str {
        attention_kind(self.num_attention_heads, self.num_key_value_heads)
    }
}

/// Names the attention variant: every query head has its own KV head (MHA), all share one
/// (MQA), or groups share one each (GQA).
pub fn attention_kind(heads: usize, kv_heads: usize) -> &'static str {
    if kv_heads == heads {
        "MHA"
    } else if kv_heads == 1 {
        "MQA"
    } else {
        "GQA"
    }
}

/// Every preset, in the order `attnstep presets` lists them.
pub const PRESETS: &[Preset] = &[
    // MiniMind2 (jingyaogong/minimind, LMConfig / MiniMindConfig of the 2025 release):
    // dim 512, n_layers 8, n_heads 8, n_kv_heads 2, norm_eps 1e-5, rope_theta 1e6,
    // max_position_embeddings 32768.
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
        max_position_embeddings: Some(32768),
        source: "MiniMind2, jingyaogong/minimind model/model_minimind.py (2025)",
        note: "",
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
        max_position_embeddings: None,
        source: "MiniMind-3, jingyaogong/minimind model/model_minimind.py MiniMindConfig",
        note: "",
    },
    // GPT-2 small (openai-community/gpt2 config.json): n_embd 768, n_head 12, n_layer 12,
    // layer_norm_epsilon 1e-5, n_positions 1024. No RoPE: theta below is only a stand-in.
    Preset {
        name: "gpt2",
        hidden_size: 768,
        num_attention_heads: 12,
        num_key_value_heads: 12,
        head_dim: 64,
        qk_norm: false,
        rms_norm_eps: 1e-5,
        rope_theta: 1e4,
        num_hidden_layers: 12,
        max_position_embeddings: Some(1024),
        source: "openai-community/gpt2 config.json (n_embd, n_head, n_layer, layer_norm_epsilon)",
        note: "GPT-2 has no RoPE: it adds learned position embeddings to x, and uses LayerNorm and \
               biased projections (a fused c_attn). attnstep applies RoPE (theta 1e4) instead; the \
               numbers differ from GPT-2's, the shapes do not.",
    },
    // Llama 2 7B (meta-llama/Llama-2-7b-hf config.json): hidden_size 4096, 32 heads, 32 KV
    // heads, 32 layers, rms_norm_eps 1e-5, rope_theta 10000 (the default), context 4096.
    Preset {
        name: "llama-2-7b",
        hidden_size: 4096,
        num_attention_heads: 32,
        num_key_value_heads: 32,
        head_dim: 128,
        qk_norm: false,
        rms_norm_eps: 1e-5,
        rope_theta: 1e4,
        num_hidden_layers: 32,
        max_position_embeddings: Some(4096),
        source: "meta-llama/Llama-2-7b-hf config.json",
        note: "",
    },
    // Llama 3 8B (meta-llama/Meta-Llama-3-8B config.json): hidden_size 4096, 32 heads, 8 KV
    // heads, 32 layers, rms_norm_eps 1e-5, rope_theta 500000, context 8192.
    Preset {
        name: "llama-3-8b",
        hidden_size: 4096,
        num_attention_heads: 32,
        num_key_value_heads: 8,
        head_dim: 128,
        qk_norm: false,
        rms_norm_eps: 1e-5,
        rope_theta: 5e5,
        num_hidden_layers: 32,
        max_position_embeddings: Some(8192),
        source: "meta-llama/Meta-Llama-3-8B config.json",
        note: "Llama 3.1 8B has the same attention dimensions and reaches 131072 tokens with \
               llama3 RoPE scaling, which attnstep does not model (the shapes are the same).",
    },
    // Llama 3 70B (meta-llama/Meta-Llama-3-70B config.json): hidden_size 8192, 64 heads, 8 KV
    // heads, 80 layers, rms_norm_eps 1e-5, rope_theta 500000, context 8192.
    Preset {
        name: "llama-3-70b",
        hidden_size: 8192,
        num_attention_heads: 64,
        num_key_value_heads: 8,
        head_dim: 128,
        qk_norm: false,
        rms_norm_eps: 1e-5,
        rope_theta: 5e5,
        num_hidden_layers: 80,
        max_position_embeddings: Some(8192),
        source: "meta-llama/Meta-Llama-3-70B config.json",
        note: "Llama 3.1 70B has the same attention dimensions and reaches 131072 tokens with \
               llama3 RoPE scaling, which attnstep does not model (the shapes are the same).",
    },
    // Mistral 7B v0.1 (mistralai/Mistral-7B-v0.1 config.json): hidden_size 4096, 32 heads,
    // 8 KV heads, 32 layers, rms_norm_eps 1e-5, rope_theta 10000, sliding_window 4096,
    // max_position_embeddings 32768.
    Preset {
        name: "mistral-7b",
        hidden_size: 4096,
        num_attention_heads: 32,
        num_key_value_heads: 8,
        head_dim: 128,
        qk_norm: false,
        rms_norm_eps: 1e-5,
        rope_theta: 1e4,
        num_hidden_layers: 32,
        max_position_embeddings: Some(32768),
        source: "mistralai/Mistral-7B-v0.1 config.json",
        note: "v0.1 uses sliding-window attention (4096 keys) and its reference code keeps a \
               rolling cache of 4096 positions; attnstep attends to the whole cache as MiniMind \
               does, so beyond 4096 tokens its KV figures are the full-attention upper bound.",
    },
    // Qwen2.5 7B (Qwen/Qwen2.5-7B config.json): hidden_size 3584, 28 heads, 4 KV heads,
    // 28 layers, rms_norm_eps 1e-6, rope_theta 1000000, max_position_embeddings 131072.
    Preset {
        name: "qwen2.5-7b",
        hidden_size: 3584,
        num_attention_heads: 28,
        num_key_value_heads: 4,
        head_dim: 128,
        qk_norm: false,
        rms_norm_eps: 1e-6,
        rope_theta: 1e6,
        num_hidden_layers: 28,
        max_position_embeddings: Some(131072),
        source: "Qwen/Qwen2.5-7B config.json",
        note: "Qwen2 adds a bias to q_proj, k_proj and v_proj (MiniMind has none); the shapes \
               are the same.",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_dimensions() {
        // (name, hidden, heads, kv heads, head_dim, layers, eps, theta), from the model cards.
        type Row = (&'static str, usize, usize, usize, usize, usize, f64, f64);
        let want: [Row; 8] = [
            ("minimind2", 512, 8, 2, 64, 8, 1e-5, 1e6),
            ("minimind3", 768, 8, 4, 96, 8, 1e-6, 1e6),
            ("gpt2", 768, 12, 12, 64, 12, 1e-5, 1e4),
            ("llama-2-7b", 4096, 32, 32, 128, 32, 1e-5, 1e4),
            ("llama-3-8b", 4096, 32, 8, 128, 32, 1e-5, 5e5),
            ("llama-3-70b", 8192, 64, 8, 128, 80, 1e-5, 5e5),
            ("mistral-7b", 4096, 32, 8, 128, 32, 1e-5, 1e4),
            ("qwen2.5-7b", 3584, 28, 4, 128, 28, 1e-6, 1e6),
        ];
        assert_eq!(PRESETS.len(), want.len());
        for (name, hidden, heads, kv, hd, layers, eps, theta) in want {
            let p = find(name).unwrap();
            assert_eq!(
                (
                    p.hidden_size,
                    p.num_attention_heads,
                    p.num_key_value_heads,
                    p.head_dim,
                    p.num_hidden_layers
                ),
                (hidden, heads, kv, hd, layers),
                "{name}"
            );
            assert_eq!((p.rms_norm_eps, p.rope_theta), (eps, theta), "{name}");
        }
    }

    #[test]
    fn every_preset_is_consistent() {
        for p in PRESETS {
            assert_eq!(
                p.hidden_size % p.num_attention_heads,
                0,
                "{}: heads split hidden",
                p.name
            );
            assert_eq!(
                p.num_attention_heads % p.num_key_value_heads,
                0,
                "{}",
                p.name
            );
            assert_eq!(p.head_dim % 2, 0, "{}", p.name);
            assert!(!p.source.is_empty());
        }
        assert_eq!(find("gpt2").unwrap().attention_kind(), "MHA");
        assert_eq!(find("llama-2-7b").unwrap().attention_kind(), "MHA");
        assert_eq!(find("Qwen2.5_7B").unwrap().attention_kind(), "GQA");
        assert_eq!(attention_kind(8, 1), "MQA");
    }
}
