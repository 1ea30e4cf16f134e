"""Check attnstep-trace/1 files against MiniMind's own Attention, tensor by tensor.

Usage: python3 scripts/check_against_minimind.py PATH/TO/model_minimind.py TRACE.json [...]

Loads MiniMind's model file (from a MiniMind checkout; it needs torch, and transformers for its
imports), copies the trace's weights into MiniMind's `Attention`, runs every step through it with
the KV cache and the trace's inputs, recomputes each intermediate with MiniMind's own functions,
and reports the largest difference relative to max(1, |value|). Exit 1 if any exceeds 1e-4.
Without QK-norm (MiniMind2) the module's q_norm/k_norm are replaced by identities.
"""
import importlib.util, json, math, sys, torch
import torch.nn.functional as F


def load_minimind(path):
    spec = importlib.util.spec_from_file_location("model_minimind", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

def T(t):
    data = [float(v) for v in t['data']]  # float() also reads "inf", "-inf" and "nan"
    return torch.tensor(data, dtype=torch.float32).reshape(t['shape'])

def main(mm, path):
    tr = json.load(open(path))
    c = tr['config']
    cfg = mm.MiniMindConfig(hidden_size=c['hidden_size'], num_attention_heads=c['num_attention_heads'],
                            num_key_value_heads=c['num_key_value_heads'], head_dim=c['head_dim'],
                            rms_norm_eps=c['rms_norm_eps'], rope_theta=c['rope_theta'])
    attn = mm.Attention(cfg).eval()
    attn.is_causal = c['causal']
    W = tr['weights']
    with torch.no_grad():
        for n in ['q_proj', 'k_proj', 'v_proj', 'o_proj']:
            getattr(attn, n).weight.copy_(T(W[n]))
        if c['qk_norm']:
            attn.q_norm.weight.copy_(T(W['q_norm'])); attn.k_norm.weight.copy_(T(W['k_norm']))
        else:
            attn.q_norm = torch.nn.Identity(); attn.k_norm = torch.nn.Identity()
    total = sum(s['seq_len'] for s in tr['steps'])
    cos_all, sin_all = mm.precompute_freqs_cis(c['head_dim'], end=max(32768, total), rope_base=c['rope_theta'])
    mask_all = torch.tensor(c['attention_mask'], dtype=torch.float32) if c.get('attention_mask') else None
    past = None
    worst = 0.0
    for si, st in enumerate(tr['steps']):
        ts = st['tensors']; sp = st['start_pos']
        x = T(ts['x']); bsz, seq_len, _ = x.shape
        cos, sin = cos_all[sp:sp + seq_len], sin_all[sp:sp + seq_len]
        kv_len = sp + seq_len
        am = mask_all[:, :kv_len] if mask_all is not None else None
        ref = {}
        with torch.no_grad():
            out, present = attn(x, (cos, sin), past, True, am)
            # intermediates, line by line with the module's own parts
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
            assert torch.allclose(a.o_proj(ref['merged']), out, atol=1e-5)
            assert torch.equal(present[0], ref['xk_cache'])
        past = present
        for name, r in ref.items():
            if name not in ts:
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
            if d > 1e-4: print(f"step {si}: {name} max rel diff {d:.3g}")
    print(f"{path}: worst {worst:.3g}", "OK" if worst <= 1e-4 else "FAIL")
    return worst <= 1e-4

if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    mm = load_minimind(sys.argv[1])
    ok = all([main(mm, p) for p in sys.argv[2:]])
    sys.exit(0 if ok else 1)
