"""Check attnstep against MiniMind's own Attention, tensor by tensor; or write golden files.

Usage:
  python3 scripts/check_against_minimind.py PATH/TO/model_minimind.py TRACE.json [...]
  python3 scripts/check_against_minimind.py PATH/TO/model_minimind.py --write-golden OUT_DIR [NAME ...]

Both modes load MiniMind's model file (from a MiniMind checkout; it needs torch, and
transformers for its imports) and run MiniMind's `Attention` step by step with the KV cache
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
"""
import importlib.util, json, math, os, sys
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
    bsz, seq_len, _ = x.shape
    cos_all, sin_all = rope
    cos, sin = cos_all[sp:sp + seq_len], sin_all[sp:sp + seq_len]
    kv_len = sp + seq_len
    am = mask_all[:, :kv_len] if mask_all is not None else None
    ref = {'x': x}
    with torch.no_grad():
        out, present = attn(x, (cos, sin), past, True, am)
        a = attn
        xq, xk, xv = a.q_proj(x), a.k_proj(x), a.v_proj(x)
        ref['xq_proj'], ref['xk_proj'], ref['xv_proj'] = xq, xk, xv
        xq = xq.view(bsz, seq_len, a.n_local_heads, a.head_dim)
        xk = xk.view(bsz, seq_len, a.n_local_kv_heads, a.head_dim)
        xv = xv.view(bsz, seq_len, a.n_local_kv_heads, a.head_dim)
        ref['xq_heads'], ref['xk_heads'], ref['xv_heads'] = xq, xk, xv
        xq, xk = a.q_norm(xq), a.k_norm(xk)
        if c['qk_norm']: ref['xq_norm'], ref['xk_norm'] = xq, xk
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
        ref['output'] = out
        assert torch.allclose(a.o_proj(ref['merged']), out, atol=1e-5), "recomputed output differs from forward"
        assert torch.equal(present[0], ref['xk_cache']) and torch.equal(present[1], ref['xv_cache'])
    return ref, present


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
            r = r.float()
            both_inf = torch.isinf(mine) & torch.isinf(r) & (torch.sign(mine) == torch.sign(r))
            diff = ((mine - r).abs() / torch.clamp(r.abs(), min=1.0))
            diff = torch.where(both_inf, torch.zeros_like(diff), diff)
            d = diff.max().item() if diff.numel() else 0.0
            if math.isnan(d): d = float('inf')
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


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    mm = load_minimind(sys.argv[1])
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
