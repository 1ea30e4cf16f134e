"""Make tiny random MiniMind checkpoints in the Hugging Face layout, with MiniMind's own answers.

Usage: python3 scripts/minimind_checkpoint.py PATH/TO/model_minimind.py OUT_DIR [NAME ...]

Loads MiniMind's model file (from a MiniMind checkout; it needs torch, and transformers for its
imports), builds a random MiniMindForCausalLM with MiniMind's own classes for each fixture below
(or only the named ones), and writes OUT_DIR/NAME/ with:

- config.json and model.safetensors, written by MiniMind's model through save_pretrained (the way
  MiniMind's scripts/convert_model.py writes a checkpoint), in the fixture's dtype (and
  generation_config.json, which save_pretrained adds and attnstep does not read);
- tokenizer.json, a small tokenizer made with the `tokenizers` library (word-level, or a byte-level
  BPE trained on a few sentences, which marks a leading space with 'Ġ' like MiniMind's own);
- expected.json: the text, its token ids and decoded pieces, the step split, the chosen layer, and
  what MiniMind's own model computes when the ids go through it one step at a time with the KV
  cache: every layer's output per step; for the chosen layer, per step, its attention input x
  (the output of its input_layernorm), its attention output and the residual sum after it (the
  input of its post_attention_layernorm); and the last position's logits and top-5 next tokens.

Every RMSNorm weight is drawn away from 1, so the norms are really exercised. For a MiniMind2-style
fixture (no QK-norm) q_norm/k_norm are replaced by identities before the run and left out of the
saved tensors. For a 16-bit fixture the weights are rounded to that dtype before the run, so the
expected numbers are those of the stored weights.
"""
import importlib.util, json, math, os, sys
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers

WORDS = ("the a cat dog sat on mat rug red blue big small one two three four five six seven "
         "eight nine ten and or but not is was are were it he she they we you i me my your "
         "his her their our this that these those here there now then when where why how what "
         "who which run ran see saw look looked tree house car road sun moon star sky sea fish "
         "bird ate eat good bad old new hot cold up down in out over under . ,").split()
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
CORPUS = ["the cat sat on the mat", "the dog sat on the rug", "a big red car on the road",
          "the sun and the moon", "they saw the sea", "we ate the fish", "she looked at the sky",
          "the old house", "two cats and three dogs", "where is the cat?"]

FIXTURES = {
    # MiniMind-3 style: QK-norm, GQA (4 query heads share 2 KV heads), tied lm_head, and a
    # head_dim (12) that is not hidden_size / heads (32 / 4 = 8).
    "mm3_gqa": dict(seed=31, dtype="float32", tokenizer="word", qk_norm=True,
                    text="the big cat sat on the red mat", steps=[6, 1, 1], layer=2,
                    config=dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                num_key_value_heads=2, head_dim=12, intermediate_size=48,
                                vocab_size=100, rms_norm_eps=1e-6, rope_theta=1e6,
                                max_position_embeddings=32, tie_word_embeddings=True)),
    # MiniMind2 style: no QK-norm, multi-head attention, a separate lm_head, float16 weights,
    # byte-level BPE tokens.
    "mm2_untied": dict(seed=32, dtype="float16", tokenizer="bpe", qk_norm=False,
                       text="the dog sat on the mat?", steps=[4, 2, 1], layer=1,
                       config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=4, intermediate_size=64, vocab_size=128,
                                   rms_norm_eps=1e-5, rope_theta=1e4,
                                   max_position_embeddings=32, tie_word_embeddings=False)),
    # MiniMind-3 MoE: 4 experts, 2 per token, renormalised top-k weights, bfloat16 weights, and
    # the tied lm_head written out as well (some savers keep both copies of a tied matrix).
    "mm3_moe": dict(seed=33, dtype="bfloat16", tokenizer="word", qk_norm=True, head_twice=True,
                    text="we saw a big fish in the sea", steps=[5, 2, 1], layer=1,
                    config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                num_key_value_heads=2, intermediate_size=64, vocab_size=100,
                                rms_norm_eps=1e-6, rope_theta=1e6, max_position_embeddings=32,
                                tie_word_embeddings=True, use_moe=True, num_experts=4,
                                num_experts_per_tok=2, moe_intermediate_size=32,
                                norm_topk_prob=True)),
}


def load_minimind(path):
    spec = importlib.util.spec_from_file_location("model_minimind", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def word_tokenizer():
    vocab = {w: i for i, w in enumerate(SPECIAL + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


def bpe_tokenizer(vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL[:3],
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def randomise(model, qk_norm):
    """Draws every parameter: norms around 1 (never exactly), embeddings N(0, 0.25²) (they are
    the lm_head too when tied, and a wider spread makes the top-1 take all), linears
    U(-1.5/sqrt(in), 1.5/sqrt(in)) so attention is far from uniform."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(torch.empty_like(p).uniform_(0.5, 1.5))
            elif "embed_tokens" in name:
                p.normal_(0.0, 0.25)
            else:
                bound = 1.5 / math.sqrt(p.shape[1])
                p.uniform_(-bound, bound)
    if not qk_norm:
        for layer in model.model.layers:
            layer.self_attn.q_norm = torch.nn.Identity()
            layer.self_attn.k_norm = torch.nn.Identity()


def tensor_json(t):
    t = t.detach().float()
    return {"shape": list(t.shape), "data": [round(v, 7) for v in t.flatten().tolist()]}


def run_reference(model, ids, steps, layer):
    """Runs the ids through MiniMind's model one step at a time with the KV cache, recording each
    block's output and the chosen layer's attention input, output and residual sum with forward
    hooks."""
    outputs = [[] for _ in model.model.layers]
    layer_inputs, attn_outputs, residuals = [], [], []
    hooks = [block.register_forward_hook(
        lambda _m, _a, out, i=i: outputs[i].append(out[0].detach().clone()))
        for i, block in enumerate(model.model.layers)]
    chosen = model.model.layers[layer]
    hooks.append(chosen.input_layernorm.register_forward_hook(
        lambda _m, _a, out: layer_inputs.append(out.detach().clone())))
    hooks.append(chosen.self_attn.register_forward_hook(
        lambda _m, _a, out: attn_outputs.append(out[0].detach().clone())))
    # post_attention_layernorm's input is hidden_states after `+= residual`.
    hooks.append(chosen.post_attention_layernorm.register_forward_hook(
        lambda _m, args, _out: residuals.append(args[0].detach().clone())))
    past, start, logits = None, 0, None
    with torch.no_grad():
        for n in steps:
            chunk = torch.tensor([ids[start:start + n]])
            out = model(chunk, past_key_values=past, use_cache=True)
            past, start, logits = out.past_key_values, start + n, out.logits
    for h in hooks:
        h.remove()
    probs = torch.softmax(logits[0, -1].float(), dim=-1)
    top = torch.topk(probs, 5)
    ranked = torch.sort(logits[0, -1], descending=True).values[:6]
    assert (ranked[:-1] - ranked[1:]).min() > 1e-3, "top-5 must be clear of rounding noise"
    return outputs, (layer_inputs, attn_outputs, residuals), logits[0, -1], top


def make(mm, out_dir, name, spec):
    torch.manual_seed(spec["seed"])
    cfg = mm.MiniMindConfig(flash_attn=False, **spec["config"])
    model = mm.MiniMindForCausalLM(cfg).eval()
    randomise(model, spec["qk_norm"])
    dtype = getattr(torch, spec["dtype"])
    with torch.no_grad():  # round to the stored dtype, compute in f32 like attnstep
        for p in model.parameters():
            p.copy_(p.to(dtype).float())
    tok = word_tokenizer() if spec["tokenizer"] == "word" else bpe_tokenizer(96)
    assert tok.get_vocab_size() <= cfg.vocab_size
    ids = tok.encode(spec["text"]).ids
    assert sum(spec["steps"]) == len(ids), (name, len(ids), spec["steps"])
    outputs, (layer_inputs, attn_outputs, residuals), last_logits, top = run_reference(model, ids, spec["steps"],
                                                            spec["layer"])
    path = os.path.join(out_dir, name)
    os.makedirs(path, exist_ok=True)
    state = {k: v.to(dtype) for k, v in model.state_dict().items()}
    if cfg.tie_word_embeddings and not spec.get("head_twice"):
        del state["lm_head.weight"]  # a tied head is the embedding matrix, stored once
    model.to(dtype).save_pretrained(path, state_dict=state, safe_serialization=True)
    tok.save(os.path.join(path, "tokenizer.json"))
    expected = {
        "text": spec["text"],
        "ids": ids,
        "pieces": [tok.decode([i], skip_special_tokens=False) for i in ids],
        "steps": spec["steps"],
        "layer": spec["layer"],
        "qk_norm": spec["qk_norm"],
        "dtype": spec["dtype"],
        "hidden_states": [[tensor_json(t) for t in per_step] for per_step in outputs],
        "layer_inputs": [tensor_json(t) for t in layer_inputs],
        "attn_outputs": [tensor_json(t) for t in attn_outputs],
        "attn_residuals": [tensor_json(t) for t in residuals],
        "last_logits": tensor_json(last_logits),
        "top5": [{"id": int(i), "prob": float(p)} for p, i in zip(top.values, top.indices)],
    }
    with open(os.path.join(path, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    print(f"{name}: {len(ids)} tokens, steps {spec['steps']}, layer {spec['layer']}, "
          f"top-1 {expected['top5'][0]}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    mm = load_minimind(sys.argv[1])
    names = sys.argv[3:] or list(FIXTURES)
    for n in names:
        if n not in FIXTURES:
            sys.exit(f"unknown fixture {n}; known: {', '.join(FIXTURES)}")
        make(mm, sys.argv[2], n, FIXTURES[n])
