"""Check attnstep against MiniMind's own code, tensor by tensor; or write golden files.

Usage:
  python3 scripts/check_against_minimind.py PATH/TO/model_minimind.py TRACE.json [...]
  python3 scripts/check_against_minimind.py PATH/TO/model_minimind.py --write-golden OUT_DIR [NAME ...]
  python3 scripts/check_against_minimind.py PATH/TO/model_minimind.py --checkpoint DIR --text TEXT
          [--steps N,N,...] [--layers all|N,...] [--attnstep PATH]

Every mode loads MiniMind's model file (from a MiniMind checkout; it needs torch, and
transformers for its imports) and runs MiniMind's `Attention` step by step with the KV cache
(`past_key_value`, `use_cache=True`), the attention mask, `is_causal` as configured, and the
position embeddings sliced at start_pos from MiniMind's `precompute_freqs_cis`. Every
intermediate is recomputed with MiniMind's own functions (`apply_rotary_pos_emb`, `repeat_kv`,
the explicit scores path), and the recomputed output must equal the module's forward output.
Without QK-norm (MiniMind2) the module's q_norm/k_norm are replaced by identities.

Check mode: copies an attnstep-trace/1 file's weights into the module, feeds it the trace's
inputs, and reports the largest difference relative to max(1, |value|). Exit 1 if any exceeds
1e-4.

Golden mode (--write-golden): for each named configuration in GOLDEN (all of them when no NAME
is given) draws the weights and per-step inputs with torch from the configuration's seed
(q_norm/k_norm weights are drawn too, so they are not all 1), runs MiniMind, and writes
OUT_DIR/NAME.json in the attnstep-golden/1 format: the configuration under attnstep's
ConfigSpec field names, the weights, and for every step every tensor under attnstep's trace
names (`x` is the step's input; the rest are MiniMind's values that attnstep must reproduce).
Values are float32, written with the shortest digits that read back to the same float32;
infinities are the strings "inf" / "-inf". Each written file is read back and checked like a
trace. `cargo test` (tests/it/golden.rs) runs attnstep on every file in tests/fixtures/golden/.

Checkpoint mode (--checkpoint): loads MiniMind's MiniMindForCausalLM for a checkpoint in the
Hugging Face layout (config.json through MiniMindConfig, model.safetensors in float32; without
q_norm/k_norm tensors the norms become identities; flash_attn off, so the module itself takes the
explicit scores path), tokenizes TEXT with the `tokenizers` library from DIR/tokenizer.json and
requires the ids to equal the export's model.token_ids. It runs `attnstep export --weights DIR
--text TEXT --layer N [--steps ...]` for each chosen layer (all by default), runs the model one
call per step with the KV cache, and for each chosen layer captures the hidden state entering it
(`hidden_in`) and every tensor of its Attention.forward, recomputed from the arguments the block
passed it as above. Every tensor of every step, the layer's attention weights, the config, the
step layout and the top-5 next tokens (ids, and probabilities of the last position's softmax)
must agree within 1e-4 relative to max(1, |value|); a top-5 swap counts only when the two
probabilities differ by more than that. It prints the largest difference per tensor and exits 1
on any failure, 2 on bad arguments or a checkpoint that does not fit MiniMind's model.
"""
import importlib.util, json, math, os, subprocess, sys, tempfile
import numpy as np
import torch
import torch.nn.functional as F

GOLDEN_FORMAT = "attnstep-golden/1"
TOLERANCE = 1e-4


def load_minimind(path):
    spec = importlib.util.spec_from_file_location("model_minimind", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def T(t):
    data = [float(v) for v in t['data']]  # float() also reads "inf", "-inf" and "nan"
    return torch.tensor(data, dtype=torch.float32).reshape(t['shape'])


def mask_rows(c):
    """The attention mask as a [bsz, total_len] float tensor, or None. A trace writes the rows
    as lists of 0/1, a golden as strings of '0'/'1' (attnstep's ConfigSpec form)."""
    rows = c.get('attention_mask')
    if not rows:
        return None
    rows = [[int(ch) for ch in r] if isinstance(r, str) else r for r in rows]
    return torch.tensor(rows, dtype=torch.float32)


def build_attention(mm, c):
    """MiniMind's Attention for attnstep config `c`, with torch's default initialisation."""
    cfg = mm.MiniMindConfig(hidden_size=c['hidden_size'], num_attention_heads=c['num_attention_heads'],
                            num_key_value_heads=c['num_key_value_heads'], head_dim=c['head_dim'],
                            rms_norm_eps=c['rms_norm_eps'], rope_theta=c['rope_theta'])
    attn = mm.Attention(cfg).eval()
    attn.is_causal = c['causal']
    return attn


def set_weights(attn, c, W):
    with torch.no_grad():
        for n in ['q_proj', 'k_proj', 'v_proj', 'o_proj']:
            getattr(attn, n).weight.copy_(T(W[n]))
        if c['qk_norm']:
            attn.q_norm.weight.copy_(T(W['q_norm'])); attn.k_norm.weight.copy_(T(W['k_norm']))
        else:
            attn.q_norm = torch.nn.Identity(); attn.k_norm = torch.nn.Identity()


def rope_tables(mm, c, total):
    return mm.precompute_freqs_cis(c['head_dim'], end=max(32768, total), rope_base=c['rope_theta'])


def reference_step(mm, attn, c, x, past, rope, mask_all, sp):
    """One forward call: the module's (output, present) and every intermediate under attnstep's
    names, recomputed line by line with the module's own parts."""
    seq_len = x.shape[1]
    cos_all, sin_all = rope
    cos, sin = cos_all[sp:sp + seq_len], sin_all[sp:sp + seq_len]
    am = mask_all[:, :sp + seq_len] if mask_all is not None else None
    with torch.no_grad():
        out, present = attn(x, (cos, sin), past, True, am)
        ref = attention_intermediates(mm, attn, x, cos, sin, past, am, c['qk_norm'])
    return with_output(attn, ref, out, present), present


def attention_intermediates(mm, a, x, cos, sin, past, am, qk_norm):
    """Every intermediate of `a.forward(x, (cos, sin), past, True, am)` up to `merged`, under
    attnstep's names, recomputed line by line with the module's own parts and MiniMind's
    functions."""
    bsz, seq_len, _ = x.shape
    kv_len = (past[0].shape[1] if past is not None else 0) + seq_len
    ref = {'x': x}
    with torch.no_grad():
        xq, xk, xv = a.q_proj(x), a.k_proj(x), a.v_proj(x)
        ref['xq_proj'], ref['xk_proj'], ref['xv_proj'] = xq, xk, xv
        xq = xq.view(bsz, seq_len, a.n_local_heads, a.head_dim)
        xk = xk.view(bsz, seq_len, a.n_local_kv_heads, a.head_dim)
        xv = xv.view(bsz, seq_len, a.n_local_kv_heads, a.head_dim)
        ref['xq_heads'], ref['xk_heads'], ref['xv_heads'] = xq, xk, xv
        xq, xk = a.q_norm(xq), a.k_norm(xk)
        if qk_norm: ref['xq_norm'], ref['xk_norm'] = xq, xk
        ref['cos'], ref['sin'] = cos, sin
        xq, xk = mm.apply_rotary_pos_emb(xq, xk, cos, sin)
        ref['xq_rope'], ref['xk_rope'] = xq, xk
        if past is not None:
            xk = torch.cat([past[0], xk], dim=1); xv = torch.cat([past[1], xv], dim=1)
        ref['xk_cache'], ref['xv_cache'] = xk, xv
        ref['xk_repeat'], ref['xv_repeat'] = mm.repeat_kv(xk, a.n_rep), mm.repeat_kv(xv, a.n_rep)
        xq, xk, xv = xq.transpose(1, 2), ref['xk_repeat'].transpose(1, 2), ref['xv_repeat'].transpose(1, 2)
        ref['xq_t'], ref['xk_t'], ref['xv_t'] = xq, xk, xv
        scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(a.head_dim)
        ref['scores'] = scores.clone()
        cm = torch.zeros(seq_len, kv_len)
        if a.is_causal:
            cm[:, -seq_len:] += torch.full((seq_len, seq_len), float("-inf")).triu(1)
            scores[:, :, :, -seq_len:] += torch.full((seq_len, seq_len), float("-inf")).triu(1)
        ref['causal_mask'] = cm
        if am is not None:
            ref['attention_mask'] = am
            ref['padding_mask'] = (1.0 - am.unsqueeze(1).unsqueeze(2)) * -1e9
            scores += ref['padding_mask']
        ref['scores_masked'] = scores
        w = F.softmax(scores.float(), dim=-1)
        ref['weights'] = w
        o = w @ xv
        ref['attn_out'] = o
        ref['merged'] = o.transpose(1, 2).reshape(bsz, seq_len, -1)
    return ref


def with_output(a, ref, out, present):
    """`ref` with the module's own output added, after checking that the recomputed
    intermediates lead to it and to the cache it returned."""
    with torch.no_grad():
        assert torch.allclose(a.o_proj(ref['merged']), out, atol=1e-5), "recomputed output differs from forward"
    assert torch.equal(present[0], ref['xk_cache']) and torch.equal(present[1], ref['xv_cache'])
    ref['output'] = out
    return ref


def rel_diff(mine, r):
    """The largest |mine - r| / max(1, |r|); equal infinities count as 0, NaN as inf."""
    r = r.float()
    both_inf = torch.isinf(mine) & torch.isinf(r) & (torch.sign(mine) == torch.sign(r))
    diff = ((mine - r).abs() / torch.clamp(r.abs(), min=1.0))
    diff = torch.where(both_inf, torch.zeros_like(diff), diff)
    d = diff.max().item() if diff.numel() else 0.0
    return float('inf') if math.isnan(d) else d


def main(mm, path):
    tr = json.load(open(path))
    c = tr['config']
    attn = build_attention(mm, c)
    set_weights(attn, c, tr['weights'])
    total = sum(s['seq_len'] for s in tr['steps'])
    rope = rope_tables(mm, c, total)
    mask_all = mask_rows(c)
    # A golden may leave out the rearranged-only tensors; a trace must have them all.
    optional = LAYOUT if tr.get('format') == GOLDEN_FORMAT else set()
    past = None
    worst = 0.0
    for si, st in enumerate(tr['steps']):
        ts = st['tensors']
        ref, past = reference_step(mm, attn, c, T(ts['x']), past, rope, mask_all, st['start_pos'])
        for name, r in ref.items():
            if name not in ts:
                if name in optional: continue
                print(f"step {si}: MISSING {name}"); worst = float('inf'); continue
            mine = T(ts[name])
            if list(mine.shape) != list(r.shape):
                print(f"step {si}: SHAPE {name} {list(mine.shape)} vs {list(r.shape)}"); worst = float('inf'); continue
            d = rel_diff(mine, r)
            worst = max(worst, d)
            if d > TOLERANCE: print(f"step {si}: {name} max rel diff {d:.3g}")
    print(f"{path}: worst {worst:.3g}", "OK" if worst <= TOLERANCE else "FAIL")
    return worst <= TOLERANCE


# ---------------------------------------------------------------------------------------------
# Golden mode

def cfg(**kw):
    """An attnstep configuration in ConfigSpec field names, with MiniMind2-like defaults."""
    base = dict(hidden_size=16, num_attention_heads=4, num_key_value_heads=2, head_dim=8, batch=1,
                steps=[6, 1], attention_mask=None, qk_norm=False, rms_norm_eps=1e-5,
                rope_theta=1e6, causal=True)
    base.update(kw)
    return base


# Tensors that only rearrange numbers already in the file (view, transpose, repeat_kv). They
# are written only for the configurations marked `layout` below, to keep the files small; the
# values they are made from are in every file.
LAYOUT = {'xq_heads', 'xk_heads', 'xv_heads', 'xk_repeat', 'xv_repeat', 'xq_t', 'xk_t', 'xv_t', 'merged'}

# name -> (what it covers, configuration, torch seed, input rows scaled by 1e-3, layout).
# Scaled rows are (batch, position) pairs: their q/k head vectors have a mean square near
# rms_norm_eps, so the eps visibly changes QK-norm's output.
GOLDEN = {
    'a_theta_gqa': (
        "head_dim 8 at rope_theta 50000 (the second frequency turns 0.5 rad by position 8), "
        "GQA n_rep 2, MiniMind2-style (no QK-norm)",
        cfg(hidden_size=8, rope_theta=5e4, steps=[8, 1]), 101, [], False),
    'b_qk_norm': (
        "head_dim 16 at rope_theta 1e6, QK-norm with drawn (non-unit) q_norm/k_norm weights and "
        "eps 1e-6; one input row is tiny so eps matters",
        cfg(num_attention_heads=2, num_key_value_heads=1, head_dim=16, steps=[6, 1],
            qk_norm=True, rms_norm_eps=1e-6), 102, [(0, 3)], False),
    'c_padding': (
        "MiniMind-3 style (QK-norm, eps 1e-6) with batch 2: row 0 left-padded, row 1 "
        "right-padded, then a decode step that appends a 1 to both rows as generate does",
        cfg(hidden_size=8, num_attention_heads=2, num_key_value_heads=1, batch=2, steps=[5, 1],
            attention_mask=["001111", "111001"], qk_norm=True, rms_norm_eps=1e-6), 103, [], False),
    'd_cache_steps': (
        "a prefill of 5, a chunk of 3 and two decode steps through the KV cache, GQA n_rep 2, "
        "rope_theta 1e4",
        cfg(hidden_size=8, steps=[5, 3, 1, 1], rope_theta=1e4), 104, [], False),
    'e_non_causal': (
        "MiniMind-3 style (QK-norm, eps 1e-6) with is_causal False: a prefill and a decode step",
        cfg(hidden_size=8, steps=[5, 1], qk_norm=True, rms_norm_eps=1e-6, causal=False), 105, [], False),
    'f_mha': (
        "MHA: 2 query heads and 2 KV heads (n_rep 1), with the rearranged tensors too",
        cfg(hidden_size=8, num_attention_heads=2, num_key_value_heads=2, steps=[5, 1],
            rope_theta=1e4), 106, [], True),
    'g_mqa': (
        "MQA: 4 query heads sharing 1 KV head (n_rep 4), with the rearranged tensors too",
        cfg(hidden_size=8, num_attention_heads=4, num_key_value_heads=1, steps=[5, 1],
            rope_theta=1e4), 107, [], True),
}


def num(v):
    """A float32 as JSON: the shortest decimal that reads back as the same float32."""
    if math.isnan(v): return '"nan"'
    if math.isinf(v): return '"inf"' if v > 0 else '"-inf"'
    return str(np.float32(v))


def tensor_json(t):
    t = t.detach().float().contiguous()
    data = ','.join(num(v) for v in t.flatten().tolist())
    return f'{{"shape":{json.dumps(list(t.shape))},"data":[{data}]}}'


def named_json(tensors, indent):
    pad = ' ' * indent
    lines = [f'{pad}{json.dumps(n)}:{tensor_json(t)}' for n, t in tensors.items()]
    return '{\n' + ',\n'.join(lines) + '\n' + ' ' * (indent - 1) + '}'


def write_golden(mm, name, out_dir):
    about, c, seed, tiny_rows, layout = GOLDEN[name]
    torch.manual_seed(seed)
    attn = build_attention(mm, c)  # nn.Linear's own init draws q, k, v, o
    weights = {n: getattr(attn, n).weight.detach().clone() for n in ['q_proj', 'k_proj', 'v_proj', 'o_proj']}
    if c['qk_norm']:
        with torch.no_grad():
            attn.q_norm.weight.copy_(0.5 + torch.rand(c['head_dim']))
            attn.k_norm.weight.copy_(0.5 + torch.rand(c['head_dim']))
        weights['q_norm'] = attn.q_norm.weight.detach().clone()
        weights['k_norm'] = attn.k_norm.weight.detach().clone()
    else:
        attn.q_norm = torch.nn.Identity(); attn.k_norm = torch.nn.Identity()
    rope = rope_tables(mm, c, sum(c['steps']))
    mask_all = mask_rows(c)
    past, steps, sp = None, [], 0
    for seq_len in c['steps']:
        x = torch.randn(c['batch'], seq_len, c['hidden_size'])
        for b, pos in tiny_rows:
            if sp <= pos < sp + seq_len:
                x[b, pos - sp] *= 1e-3
        ref, past = reference_step(mm, attn, c, x, past, rope, mask_all, sp)
        if not layout:
            ref = {n: t for n, t in ref.items() if n not in LAYOUT}
        steps.append((sp, seq_len, ref))
        sp += seq_len
    step_text = ',\n'.join(
        f'  {{"start_pos":{sp},"seq_len":{n},"tensors":{named_json(ref, 4)}}}' for sp, n, ref in steps)
    text = (
        '{\n'
        f'"format":{json.dumps(GOLDEN_FORMAT)},\n'
        f'"name":{json.dumps(name)},\n'
        f'"about":{json.dumps(about)},\n'
        f'"generated_by":{json.dumps(f"scripts/check_against_minimind.py --write-golden, torch {torch.__version__}, seed {seed}")},\n'
        f'"config":{json.dumps(c)},\n'
        f'"weights":{named_json(weights, 2)},\n'
        f'"steps":[\n{step_text}\n]\n'
        '}\n')
    path = os.path.join(out_dir, name + '.json')
    with open(path, 'w') as f:
        f.write(text)
    return path


# ---------------------------------------------------------------------------------------------
# Checkpoint mode

TRACE_FORMAT = "attnstep-trace/1"
DEFAULT_ATTNSTEP = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'target', 'release', 'attnstep'))


class BadInput(Exception):
    """Arguments or a checkpoint the check cannot run on; reported with exit status 2."""


def checkpoint_args(argv):
    import argparse
    p = argparse.ArgumentParser(
        prog='check_against_minimind.py MODEL_FILE',
        description="Check attnstep's export of a real MiniMind checkpoint against MiniMind's own model.")
    p.add_argument('--checkpoint', required=True, metavar='DIR',
                   help='a checkpoint in the Hugging Face layout (config.json, model.safetensors, tokenizer.json)')
    p.add_argument('--text', required=True, help='the text to run through the checkpoint')
    p.add_argument('--steps', metavar='N,N,...',
                   help="tokens per forward call, e.g. 5,1,1 (default: attnstep's, the whole text as one prefill)")
    p.add_argument('--layers', default='all', metavar='all|N,...',
                   help='the layers whose export is checked (0-based; default all)')
    p.add_argument('--attnstep', default=DEFAULT_ATTNSTEP, metavar='PATH',
                   help='the attnstep binary (default: target/release/attnstep of this checkout)')
    return p.parse_args(argv)


def positive_list(text, what):
    try:
        values = [int(v) for v in text.split(',')]
    except ValueError:
        values = []
    if not values or any(v < 0 for v in values):
        raise BadInput(f"{what} {text!r} is not a comma-separated list of numbers (e.g. 5,1,1)")
    return values


def load_checkpoint(mm, ckpt):
    """MiniMind's MiniMindForCausalLM for the checkpoint in `ckpt`, weights in float32 (attnstep
    computes in f32 whatever the stored dtype), and whether it has QK-norm."""
    import warnings
    from safetensors.torch import load_file
    for f in ('config.json', 'model.safetensors', 'tokenizer.json'):
        if not os.path.isfile(os.path.join(ckpt, f)):
            raise BadInput(f"{ckpt}: no {f}; a checkpoint directory in the Hugging Face layout has "
                           "config.json, model.safetensors and tokenizer.json")
    with open(os.path.join(ckpt, 'config.json')) as f:
        raw = json.load(f)
    with warnings.catch_warnings():  # transformers' notes on fields MiniMind does not use
        warnings.simplefilter('ignore')
        cfg = mm.MiniMindConfig.from_dict(raw)
    # The explicit scores path (the one attnstep follows) rather than SDPA, so the module's own
    # output is the recomputation's, not merely equal up to rounding.
    cfg.flash_attn = False
    model = mm.MiniMindForCausalLM(cfg).eval()
    state = {k: v.float() for k, v in load_file(os.path.join(ckpt, 'model.safetensors')).items()}
    norms = [f'model.layers.{l}.self_attn.{n}.weight'
             for l in range(cfg.num_hidden_layers) for n in ('q_norm', 'k_norm')]
    have = [k for k in norms if k in state]
    if have and len(have) != len(norms):
        raise BadInput(f"{ckpt}: q_norm/k_norm weights for only some layers "
                       f"(missing {', '.join(k for k in norms if k not in state)})")
    qk_norm = bool(have)
    if not qk_norm:  # MiniMind2-style: no QK-norm, so the module's norms become identities
        for block in model.model.layers:
            block.self_attn.q_norm = torch.nn.Identity()
            block.self_attn.k_norm = torch.nn.Identity()
    if cfg.tie_word_embeddings and 'lm_head.weight' in state and \
            not torch.equal(state['lm_head.weight'], state.get('model.embed_tokens.weight')):
        raise BadInput(f"{ckpt}: tie_word_embeddings is true but lm_head.weight differs from "
                       "model.embed_tokens.weight")
    expected = set(model.state_dict())
    missing = expected - set(state) - ({'lm_head.weight'} if cfg.tie_word_embeddings else set())
    extra = set(state) - expected
    if missing or extra:
        raise BadInput(f"{ckpt}: model.safetensors does not fit MiniMind's model for config.json"
                       + (f"; missing {', '.join(sorted(missing))}" if missing else '')
                       + (f"; unexpected {', '.join(sorted(extra))}" if extra else ''))
    try:
        model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        raise BadInput(f"{ckpt}: model.safetensors does not fit config.json: {e}")
    return cfg, model, state, qk_norm


def run_minimind(mm, model, ids, steps, layers, qk_norm):
    """Runs the ids through MiniMind's model one call per step with the KV cache. For each layer
    in `layers`, per step: the hidden state entering the block (`hidden_in`) and every tensor of
    its Attention.forward, recomputed from the arguments the block passed it. Also the last
    position's next-token probabilities."""
    captured = {l: [] for l in layers}
    entering = {}
    hooks = []
    for l in layers:
        block = model.model.layers[l]

        def pre(_m, args, l=l):
            entering[l] = args[0].detach().clone()

        def post(a, args, out, l=l):
            x, (cos, sin), past, _use_cache, am = args
            ref = attention_intermediates(mm, a, x.detach().clone(), cos, sin, past, am, qk_norm)
            # clone: the block adds the residual into this tensor in place after the call
            ref = with_output(a, ref, out[0].detach().clone(), out[1])
            captured[l].append({'hidden_in': entering[l], **ref})

        hooks += [block.register_forward_pre_hook(pre), block.self_attn.register_forward_hook(post)]
    past, start, logits = None, 0, None
    try:
        with torch.no_grad():
            for n in steps:
                out = model(torch.tensor([ids[start:start + n]]), past_key_values=past, use_cache=True)
                past, start, logits = out.past_key_values, start + n, out.logits
    finally:
        for h in hooks:
            h.remove()
    return captured, torch.softmax(logits[0, -1].float(), dim=-1)


def run_attnstep(exe, ckpt, text, layer, steps, out_path):
    cmd = [exe, 'export', '--weights', ckpt, '--text', text, '--layer', str(layer), '-o', out_path]
    if steps:
        cmd += ['--steps', ','.join(map(str, steps))]
    print('$', ' '.join(cmd[:5]), repr(text), ' '.join(cmd[6:]))
    env = dict(os.environ, RUST_BACKTRACE='0')
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        print(f"attnstep failed (exit {r.returncode}):\n{r.stderr.strip()}")
        return None
    with open(out_path) as f:
        return json.load(f)


class Tally:
    """The largest difference per tensor kind, where it was, and every failure."""

    def __init__(self):
        self.worst, self.failures, self.notes = {}, [], []

    def diff(self, kind, d, where):
        if kind not in self.worst or d > self.worst[kind][0]:
            self.worst[kind] = (d, where)
        if d > TOLERANCE:
            self.failures.append(f"{where}: {kind} max rel diff {d:.3g}")

    def fail(self, message):
        self.failures.append(message)


def compare_trace(tr, layer, cfg, qk_norm, state, ids, steps, refs, probs, tally):
    """Compares one export (layer `layer`) with MiniMind's numbers, into `tally`."""
    at = f"layer {layer}"
    if tr.get('format') != TRACE_FORMAT:
        tally.fail(f"{at}: format {tr.get('format')!r}, expected {TRACE_FORMAT!r}")
    m = tr.get('model') or {}
    for key, want in [('layer', layer), ('layers', cfg.num_hidden_layers), ('token_ids', ids)]:
        if m.get(key) != want:
            tally.fail(f"{at}: model.{key} is {m.get(key)!r}, MiniMind: {want!r}")
    c = tr['config']
    exact = dict(hidden_size=cfg.hidden_size, num_attention_heads=cfg.num_attention_heads,
                 num_key_value_heads=cfg.num_key_value_heads, head_dim=cfg.head_dim, batch=1,
                 steps=steps, attention_mask=None, qk_norm=qk_norm, causal=True)
    for key, want in exact.items():
        if c.get(key) != want:
            tally.fail(f"{at}: config.{key} is {c.get(key)!r}, MiniMind: {want!r}")
    for key, want in [('rms_norm_eps', cfg.rms_norm_eps), ('rope_theta', cfg.rope_theta)]:
        if not isinstance(c.get(key), (int, float)) or abs(c[key] - want) > 1e-6 * abs(want):
            tally.fail(f"{at}: config.{key} is {c.get(key)!r}, MiniMind: {want!r}")

    prefix = f'model.layers.{layer}.self_attn.'
    names = ['q_proj', 'k_proj', 'v_proj', 'o_proj'] + (['q_norm', 'k_norm'] if qk_norm else [])
    W = tr.get('weights', {})
    for n in set(W) - set(names):
        tally.fail(f"{at}: weights.{n} should not be there")
    for n in names:
        if n not in W:
            tally.fail(f"{at}: weights.{n} MISSING"); continue
        mine, r = T(W[n]), state[prefix + n + '.weight']
        if list(mine.shape) != list(r.shape):
            tally.fail(f"{at}: weights.{n} SHAPE {list(mine.shape)} vs {list(r.shape)}"); continue
        tally.diff(f"weights.{n}", rel_diff(mine, r), at)

    if len(tr['steps']) != len(refs):
        tally.fail(f"{at}: {len(tr['steps'])} steps, MiniMind ran {len(refs)}")
    start = 0
    for si, (st, ref) in enumerate(zip(tr['steps'], refs)):
        where = f"{at} step {si}"
        n = steps[si]
        kind = 'prefill' if si == 0 else 'decode' if n == 1 else 'chunk'
        for key, want in [('kind', kind), ('start_pos', start), ('seq_len', n)]:
            if st.get(key) != want:
                tally.fail(f"{where}: {key} is {st.get(key)!r}, expected {want!r}")
        start += n
        ts = st['tensors']
        for name, r in ref.items():
            if name not in ts:
                tally.fail(f"{where}: {name} MISSING"); continue
            mine = T(ts[name])
            if list(mine.shape) != list(r.shape):
                tally.fail(f"{where}: {name} SHAPE {list(mine.shape)} vs {list(r.shape)}"); continue
            tally.diff(name, rel_diff(mine, r), where)
        for name in ts:
            if name not in ref:
                note = f"{where}: {name} is in the export but not checked (unknown to this script)"
                if note not in tally.notes: tally.notes.append(note)

    top = m.get('top5') or []
    ref_ids = torch.topk(probs, min(5, probs.numel())).indices.tolist()
    if len(top) != len(ref_ids):
        tally.fail(f"{at}: top5 has {len(top)} entries, expected {len(ref_ids)}")
    for rank, (entry, rid) in enumerate(zip(top, ref_ids)):
        tid, p = int(entry[0]), float(entry[2])
        if not 0 <= tid < probs.numel():
            tally.fail(f"{at}: top5[{rank}] id {tid} is outside the vocabulary"); continue
        if tid != rid:
            gap = abs(probs[tid].item() - probs[rid].item())
            if gap > TOLERANCE:
                tally.fail(f"{at}: top5[{rank}] is id {tid}, MiniMind's is {rid} "
                           f"(probabilities {probs[tid].item():.6g} vs {probs[rid].item():.6g})")
            else:
                tally.notes.append(f"{at}: top5[{rank}] id {tid} vs MiniMind's {rid}: a tie within {gap:.2g}")
        tally.diff('top5 prob', abs(p - probs[tid].item()) / max(1.0, probs[tid].item()), at)


def checkpoint_main(mm, argv):
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()  # its notes on MiniMind's tuple cache are not ours to act on
    a = checkpoint_args(argv)
    ckpt = a.checkpoint
    if not os.path.isfile(a.attnstep) or not os.access(a.attnstep, os.X_OK):
        raise BadInput(f"no attnstep binary at {a.attnstep}; build it with `cargo build --release` "
                       "or name it with --attnstep PATH")
    cfg, model, state, qk_norm = load_checkpoint(mm, ckpt)
    L = cfg.num_hidden_layers
    layers = list(range(L)) if a.layers == 'all' else positive_list(a.layers, '--layers')
    bad = [l for l in layers if l >= L]
    if bad:
        raise BadInput(f"--layers {a.layers}: the checkpoint has layers 0..{L - 1}")
    layers = sorted(set(layers))
    from tokenizers import Tokenizer
    ids = Tokenizer.from_file(os.path.join(ckpt, 'tokenizer.json')).encode(a.text).ids
    if not ids:
        raise BadInput(f"--text {a.text!r} gives no tokens")
    if len(ids) > cfg.max_position_embeddings:
        raise BadInput(f"--text has {len(ids)} tokens; MiniMind's RoPE table holds "
                       f"max_position_embeddings = {cfg.max_position_embeddings}")
    steps = positive_list(a.steps, '--steps') if a.steps else None
    if steps and (0 in steps or sum(steps) != len(ids)):
        raise BadInput(f"--steps {a.steps} must be positive and add up to the text's {len(ids)} tokens")

    traces = {}
    with tempfile.TemporaryDirectory() as tmp:
        for l in layers:
            tr = run_attnstep(a.attnstep, ckpt, a.text, l, steps, os.path.join(tmp, f'layer{l}.json'))
            if tr is None:
                return 1
            got = (tr.get('model') or {}).get('token_ids')
            if got != ids:
                print(f"FAIL: token ids differ for {a.text!r}\n  attnstep:   {got}\n  tokenizers: {ids}")
                return 1
            traces[l] = tr
    steps = steps or traces[layers[0]]['config']['steps']
    if sum(steps) != len(ids):
        print(f"FAIL: attnstep's steps {steps} do not add up to the {len(ids)} tokens")
        return 1
    refs, probs = run_minimind(mm, model, ids, steps, layers, qk_norm)

    style = (f"{'QK-norm' if qk_norm else 'no QK-norm'}, {cfg.num_attention_heads} query / "
             f"{cfg.num_key_value_heads} KV heads, head_dim {cfg.head_dim}, "
             f"{'MoE' if cfg.use_moe else 'dense'}, {'tied' if cfg.tie_word_embeddings else 'untied'} lm_head")
    print(f"{ckpt}: {L} layers ({style}); {len(ids)} tokens {ids}; steps {steps}; "
          f"checking layer{'s' if len(layers) > 1 else ''} {','.join(map(str, layers))}")
    tally = Tally()
    for l in layers:
        compare_trace(traces[l], l, cfg, qk_norm, state, ids, steps, refs[l], probs, tally)
    print("largest difference relative to max(1, |value|), per tensor:")
    width = max(len(k) for k in tally.worst) if tally.worst else 0
    for kind, (d, where) in tally.worst.items():
        print(f"  {kind:<{width}}  {d:.3g}  ({where})" + ('  FAIL' if d > TOLERANCE else ''))
    top = traces[layers[0]]['model']['top5']
    print("top-5: " + ', '.join(f"{e[0]} {e[1]!r} {e[2]:.4g}" for e in top))
    for note in tally.notes:
        print("note:", note)
    for f in tally.failures:
        print("FAIL:", f)
    overall = max((d for d, _ in tally.worst.values()), default=0.0)
    ok = not tally.failures
    print(f"{ckpt}: worst {overall:.3g}", "OK" if ok else f"FAIL ({len(tally.failures)} problems)")
    return 0 if ok else 1


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    mm = load_minimind(sys.argv[1])
    if '--checkpoint' in sys.argv[2:]:
        try:
            sys.exit(checkpoint_main(mm, sys.argv[2:]))
        except BadInput as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
    if sys.argv[2] == '--write-golden':
        if len(sys.argv) < 4:
            sys.exit(__doc__)
        out_dir, names = sys.argv[3], sys.argv[4:] or list(GOLDEN)
        unknown = [n for n in names if n not in GOLDEN]
        if unknown:
            sys.exit(f"unknown golden configuration(s) {', '.join(unknown)}; known: {', '.join(GOLDEN)}")
        os.makedirs(out_dir, exist_ok=True)
        ok = True
        for n in names:
            path = write_golden(mm, n, out_dir)
            print(f"wrote {path} ({os.path.getsize(path)} bytes)")
            ok = main(mm, path) and ok  # the file read back must reproduce MiniMind
        sys.exit(0 if ok else 1)
    ok = all([main(mm, p) for p in sys.argv[2:]])
    sys.exit(0 if ok else 1)
