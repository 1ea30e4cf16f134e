"""Train a tiny checkpoint of MiniMind's architecture whose attention heads a student can read.

Usage: python3 scripts/train_tiny.py PATH/TO/model_minimind.py --out assets/tiny --seed 0

The architecture is MiniMind's own: `MiniMindConfig` and `MiniMindForCausalLM` are loaded from the
given `model_minimind.py` (a MiniMind checkout; it needs torch and transformers) with importlib.
Nothing of MiniMind's code is copied here. This script only brings the data and the training loop:

* A word-level vocabulary of about three hundred English words and a small sentence grammar, both
  defined below. A training document is `<bos>`, grammar sentences, `<eos>`; some sentences are
  copies of an earlier sentence of the same document, so that a model which learns to copy
  ("induction": after `A B ... A` predict `B`) lowers its loss.
* A two-layer model (hidden 64, 4 query heads sharing 2 key/value heads, head_dim 32, QK-norm,
  RoPE) trained on the CPU from a fixed seed, in one thread so that the result is reproducible.
* Measurement on held-out sequences (made from a separate random stream and checked not to occur in
  training) with one repeated phrase: attention weights are recomputed per layer and head from the
  model's own modules along MiniMind's explicit path (q/k projections, view, q_norm/k_norm, RoPE,
  scores / sqrt(head_dim), causal mask, softmax), and each head gets a previous-token score, an
  induction score and a first-token (sink) score.

Writes to --out: config.json, model.safetensors (float32) and generation_config.json as MiniMind's
`save_pretrained` writes them (tied embeddings, so no `lm_head.weight`; config.json post-processed as
MiniMind's scripts/convert_model.py does), tokenizer.json (a `tokenizers` WordLevel tokenizer),
heldout.json (held-out sequences, the chosen heads and their scores, demo sentences) and
TRAINING.md (how the checkpoint was made and what was measured). Exit 1 if the heads miss the
required scores.
"""
import argparse, hashlib, importlib.util, json, math, os, platform, random, sys, time

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# Vocabulary and grammar (this script's own words)
# ---------------------------------------------------------------------------------------------

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]  # ids 0..3; bos/eos match MiniMindConfig's 1 and 2
PAD, BOS, EOS, UNK = 0, 1, 2, 3

DETERMINERS = "the a this that every one my your his her our their some".split()
DET_WEIGHTS = [8, 4] + [1] * 11  # "the" and "a" are the common ones
ADJECTIVES = """big small old young red blue green yellow black white brown tall short quiet loud
happy sad brave tired hungry clever lazy busy gentle angry calm bright dark warm cold soft hard
heavy light sweet fresh rusty shiny wooden golden silver tiny huge funny strange careful friendly
proud shy""".split()
NOUNS = """cat dog bird fox horse cow sheep goat rabbit mouse owl frog fish bear wolf duck lion
tiger snake pig king queen farmer baker teacher doctor sailor child girl boy man woman friend pilot
painter student tailor miller hunter singer book ball lamp key box cup chair table hat coat ship
boat apple bread cake letter song drum bell candle rope stone coin map basket clock kite ring shoe
spoon""".split()
PLACES = """garden river forest house market school bridge hill lake road village castle kitchen
field tower harbor barn library station park cave island valley shop beach""".split()
NAMES = """anna ben clara david emma felix grace henry iris jack kate leo maya noah olivia paul rosa
sam tara victor wendy oscar lucy hugo nina omar ruby theo zoe ivan""".split()
VERBS_T = """saw found took carried liked painted chased helped lifted dropped bought sold opened
closed washed followed watched pushed pulled kept lost made broke fixed held hid met called visited
loved fed brought cleaned moved counted checked built drew kicked caught""".split()
VERBS_I = """slept ran walked sang laughed waited danced jumped smiled cried rested swam worked
played stayed left arrived shouted sat stood fell climbed listened whistled hummed""".split()
ADVERBS = """quickly slowly quietly happily sadly early late again often today yesterday softly
loudly carefully gladly""".split()
PREPOSITIONS = "in on near under behind across beside inside over past by at into from to".split()
GLUE = "and but then so while because said was very with . ,".split()


def build_vocab():
    words = []
    for group in (SPECIALS, GLUE, DETERMINERS, ADJECTIVES, NOUNS, PLACES, NAMES, VERBS_T, VERBS_I,
                  ADVERBS, PREPOSITIONS):
        for w in group:
            if w not in words:
                words.append(w)
    return {w: i for i, w in enumerate(words)}


def noun_phrase(rng):
    if rng.random() < 0.25:
        return [rng.choice(NAMES)]
    np_ = [rng.choices(DETERMINERS, DET_WEIGHTS)[0]]
    if rng.random() < 0.5:
        np_.append(rng.choice(ADJECTIVES))
    return np_ + [rng.choice(NOUNS)]


def place_phrase(rng):
    pp = [rng.choice(PREPOSITIONS), rng.choices(DETERMINERS, DET_WEIGHTS)[0]]
    if rng.random() < 0.4:
        pp.append(rng.choice(ADJECTIVES))
    return pp + [rng.choice(PLACES)]


def sentence(rng):
    """One sentence of the grammar, as a word list ending with '.'."""
    k = rng.randrange(9)
    if k == 0:
        s = noun_phrase(rng) + [rng.choice(VERBS_T)] + noun_phrase(rng)
    elif k == 1:
        s = noun_phrase(rng) + [rng.choice(VERBS_T)] + noun_phrase(rng) + place_phrase(rng)
    elif k == 2:
        s = noun_phrase(rng) + [rng.choice(VERBS_I)] + ([rng.choice(ADVERBS)] if rng.random() < 0.6 else [])
    elif k == 3:
        s = noun_phrase(rng) + [rng.choice(VERBS_I)] + place_phrase(rng)
    elif k == 4:
        s = (noun_phrase(rng) + [rng.choice(VERBS_T)] + noun_phrase(rng) + ["and", rng.choice(VERBS_T)]
             + noun_phrase(rng))
    elif k == 5:
        s = noun_phrase(rng) + ["was"] + (["very"] if rng.random() < 0.4 else []) + [rng.choice(ADJECTIVES)]
    elif k == 6:
        s = noun_phrase(rng) + [rng.choice(VERBS_I), ",", rng.choice(["then", "but", "so"])] + \
            noun_phrase(rng) + [rng.choice(VERBS_I)]
    elif k == 7:
        s = [rng.choice(NAMES), "said", "that"] + noun_phrase(rng) + [rng.choice(VERBS_T)] + noun_phrase(rng)
    else:
        s = place_phrase(rng)[1:]  # "the garden" ...
        s = [rng.choice(["in", "near", "behind"])] + s + [","] + noun_phrase(rng) + [rng.choice(VERBS_I)]
    return s + ["."]


def training_document(rng, max_len, p_copy=0.5):
    """`<bos>`, sentences (some copied from earlier in the document), `<eos>`: at most max_len words."""
    words, sentences = [], []
    while True:
        if sentences and rng.random() < p_copy:
            s = rng.choice(sentences)
        else:
            s = sentence(rng)
        if len(words) + len(s) > max_len - 2:
            break
        words += s
        sentences.append(s)
    return ["<bos>"] + words + ["<eos>"]


def heldout_sequence(rng, max_len=110):
    """`<bos>` prefix, PHRASE, middle, PHRASE, tail: the phrase is a sentence without its period.

    The phrase's words are all different and no other sentence uses any of them, so for every
    token of the second occurrence exactly one earlier position holds the same token: the
    induction target (that position + 1) is unambiguous.
    """
    while True:
        phrase = sentence(rng)[:-1]
        if 5 <= len(phrase) <= 9 and len(set(phrase)) == len(phrase):
            break
    banned = set(phrase)

    def filler(n):
        out = []
        for _ in range(n):
            while True:
                s = sentence(rng)
                if not banned & set(s):
                    break
            out += s
        return out

    while True:
        pre, mid, tail = filler(rng.randint(0, 2)), filler(rng.randint(1, 3)), filler(rng.randint(0, 1))
        words = ["<bos>"] + pre + phrase + ["."] + mid + phrase + ["."] + tail
        if len(words) <= max_len:
            break
    s1 = 1 + len(pre)
    s2 = s1 + len(phrase) + 1 + len(mid)
    return words, (s1, s1 + len(phrase)), (s2, s2 + len(phrase))


def detokenize(words):
    """Words (without `<bos>`) as text: punctuation attached to the word before it."""
    out = ""
    for w in words:
        out += w if (w in ".," or not out) else " " + w
    return out


DEMOS = [
    "the old sailor found a golden key near the river.",
    "anna carried the heavy basket to the market, then ben sang.",
    "the hungry fox chased a small rabbit into the forest.",
    "the brave pilot painted a red kite. maya slept. the brave pilot painted a red kite.",
]

# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------


def build_tokenizer(vocab):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()  # words, and runs of punctuation, apart
    # encode(text, add_special_tokens=True) puts <bos> first, as in training; False gives words only
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", BOS)])
    tok.add_special_tokens(SPECIALS)
    return tok

# ---------------------------------------------------------------------------------------------
# Model, attention weights and head scores
# ---------------------------------------------------------------------------------------------


def load_minimind(path):
    spec = importlib.util.spec_from_file_location("model_minimind", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def attention_maps(mm, model, ids):
    """Attention weights [layers][heads, T, T] for one sequence, recomputed on MiniMind's explicit path.

    The input of each layer's attention is captured with a hook; the recomputed weights, applied to
    the values and o_proj, must give back the module's own output (which it computed with SDPA).
    """
    captured = []
    hooks = []
    for layer in model.model.layers:
        def hook(mod, args, output, store=captured):
            store.append((mod, args[0].detach().clone(), args[1], output[0].detach().clone()))
        hooks.append(layer.self_attn.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.tensor([ids]))
    finally:
        for h in hooks:
            h.remove()
    maps = []
    with torch.no_grad():
        for a, x, (cos, sin), out in captured:
            bsz, T, _ = x.shape
            xq = a.q_proj(x).view(bsz, T, a.n_local_heads, a.head_dim)
            xk = a.k_proj(x).view(bsz, T, a.n_local_kv_heads, a.head_dim)
            xv = a.v_proj(x).view(bsz, T, a.n_local_kv_heads, a.head_dim)
            xq, xk = a.q_norm(xq), a.k_norm(xk)
            xq, xk = mm.apply_rotary_pos_emb(xq, xk, cos, sin)
            xq = xq.transpose(1, 2)
            xk = mm.repeat_kv(xk, a.n_rep).transpose(1, 2)
            xv = mm.repeat_kv(xv, a.n_rep).transpose(1, 2)
            scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(a.head_dim)
            scores = scores + torch.full((T, T), float("-inf")).triu(1)
            w = F.softmax(scores.float(), dim=-1)
            again = a.o_proj((w @ xv).transpose(1, 2).reshape(bsz, T, -1))
            diff = (again - out).abs().max().item()
            if diff > 1e-4:
                raise RuntimeError(f"recomputed attention differs from the module's output by {diff}")
            maps.append(w[0])
    return maps


def head_scores(mm, model, heldout):
    """Per layer and head: previous-token, induction and first-token mean weights; plus the uniform baseline."""
    n_layers = len(model.model.layers)
    n_heads = model.config.num_attention_heads
    prev = torch.zeros(n_layers, n_heads); ind = torch.zeros(n_layers, n_heads); sink = torch.zeros(n_layers, n_heads)
    n_prev = n_ind = 0
    uniform = 0.0
    for ex in heldout:
        ids, (s1, _), (s2, e2) = ex["ids"], ex["first"], ex["second"]
        maps = attention_maps(mm, model, ids)
        T = len(ids)
        rows = torch.arange(1, T)
        ts = torch.arange(s2, e2)
        targets = s1 + (ts - s2) + 1
        for l, w in enumerate(maps):
            prev[l] += w[:, rows, rows - 1].sum(-1)
            sink[l] += w[:, rows, 0].sum(-1)
            ind[l] += w[:, ts, targets].sum(-1)
        n_prev += T - 1
        n_ind += e2 - s2
        uniform += sum(1.0 / (t + 1) for t in range(s2, e2))
    return prev / n_prev, ind / n_ind, sink / n_prev, uniform / n_ind


def heldout_loss(model, heldout):
    """Mean next-token loss over held-out sequences, overall and on the phrase's first and second occurrence."""
    tot, first, second = [], [], []
    with torch.no_grad():
        for ex in heldout:
            ids = torch.tensor([ex["ids"]])
            logits = model(ids).logits[0, :-1]
            nll = F.cross_entropy(logits, ids[0, 1:], reduction="none")
            tot.append(nll)
            (s1, e1), (s2, e2) = ex["first"], ex["second"]
            # nll[i] is the loss of predicting token i+1; the phrase's later tokens are what copying helps
            first.append(nll[s1:e1 - 1]); second.append(nll[s2:e2 - 1])
    return tuple(torch.cat(x).mean().item() for x in (tot, first, second))

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_file", help="MiniMind's model/model_minimind.py")
    ap.add_argument("--out", required=True, help="output directory, e.g. assets/tiny")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 keeps runs reproducible)")
    args = ap.parse_args()
    if not os.path.isfile(args.model_file):
        sys.exit(f"error: {args.model_file} is not a file; pass MiniMind's model/model_minimind.py")

    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    mm = load_minimind(args.model_file)

    vocab = build_vocab()
    inv = {i: w for w, i in vocab.items()}
    tok = build_tokenizer(vocab)

    seq_len, batch, lr, warmup = 128, 32, 3e-3, 150
    cfg = mm.MiniMindConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                            head_dim=32, rope_theta=1e6, vocab_size=len(vocab), max_position_embeddings=256,
                            bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD)

    # Held-out sequences: their own random stream, encoded by the tokenizer from their text.
    hrng = random.Random(f"attnstep-tiny-heldout-{args.seed}")
    heldout = []
    for _ in range(64):
        words, first, second = heldout_sequence(hrng)
        text = detokenize(words[1:])
        ids = tok.encode(text).ids
        assert ids == [vocab[w] for w in words], (text, ids)
        heldout.append({"text": text, "ids": ids, "first": list(first), "second": list(second)})
    heldout_keys = {tuple(ex["ids"][:16]): ex["ids"] for ex in heldout}

    torch.manual_seed(args.seed)
    model = mm.MiniMindForCausalLM(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    rng = random.Random(f"attnstep-tiny-train-{args.seed}")

    def lr_at(step):
        if step < warmup:
            return lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, args.steps - warmup)
        return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    log, rejected, recent = [], 0, []
    print(f"{n_params} parameters, vocab {len(vocab)}, {args.steps} steps of {batch}x{seq_len}", flush=True)
    for step in range(args.steps):
        docs = []
        while len(docs) < batch:
            d = [vocab[w] for w in training_document(rng, seq_len)]
            full = heldout_keys.get(tuple(d[:16]))
            if full is not None and d[:len(full)] == full:
                rejected += 1
                continue
            docs.append(d)
        x = torch.full((batch, seq_len), PAD, dtype=torch.long)
        for i, d in enumerate(docs):
            x[i, :len(d)] = torch.tensor(d)
        labels = x.masked_fill(x == PAD, -100)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        model.train()
        loss = model(x, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        recent.append(loss.item())
        if (step + 1) % 250 == 0 or step == 0:
            model.eval()
            prev, ind, sink, uni = head_scores(mm, model, heldout)
            hl = heldout_loss(model, heldout)
            train_loss = sum(recent) / len(recent)
            recent = []
            entry = {"step": step + 1, "train_loss": round(train_loss, 4), "heldout_loss": round(hl[0], 4),
                     "first_occurrence_loss": round(hl[1], 4), "second_occurrence_loss": round(hl[2], 4),
                     "best_prev_layer0": round(prev[0].max().item(), 4),
                     "best_induction_layer1": round(ind[1].max().item(), 4),
                     "seconds": round(time.time() - t_start, 1)}
            log.append(entry)
            print(json.dumps(entry), flush=True)

    train_seconds = time.time() - t_start

    # Save as MiniMind's convert_model.py does: save_pretrained, then rope_theta kept, rope_scaling
    # null and rope_parameters removed from config.json. Tied embeddings: no lm_head.weight.
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out)
    cpath = os.path.join(args.out, "config.json")
    config = json.load(open(cpath))
    config["rope_theta"] = cfg.rope_theta; config["rope_scaling"] = None; config.pop("rope_parameters", None)
    json.dump(config, open(cpath, "w"), indent=2, ensure_ascii=False)
    tok.save(os.path.join(args.out, "tokenizer.json"))

    # Everything below is measured on what was saved: a fresh MiniMind model built from config.json
    # and model.safetensors (not from_pretrained: under transformers 5 it can leave MiniMind's RoPE
    # tables uninitialised), and the tokenizer read back from tokenizer.json.
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    tensors = load_file(os.path.join(args.out, "model.safetensors"))
    assert all(t.dtype == torch.float32 for t in tensors.values())
    saved = mm.MiniMindForCausalLM(mm.MiniMindConfig(**json.load(open(cpath)))).eval()
    missing, unexpected = saved.load_state_dict(tensors, strict=False)
    assert missing == ["lm_head.weight"] and not unexpected, (missing, unexpected)
    assert saved.lm_head.weight is saved.model.embed_tokens.weight  # tied: lm_head is the embedding
    for name, t in model.state_dict().items():
        assert torch.equal(t, saved.state_dict()[name]), name
    tok2 = Tokenizer.from_file(os.path.join(args.out, "tokenizer.json"))
    for ex in heldout:
        assert tok2.encode(ex["text"]).ids == ex["ids"]
    assert tok2.encode("the cat sat", add_special_tokens=False).ids == [vocab["the"], vocab["cat"], vocab["sat"]]

    prev, ind, sink, uniform = head_scores(mm, saved, heldout)
    prev_head = int(prev[0].argmax())
    ind_head = int(ind[1].argmax())
    p_score, i_score = prev[0, prev_head].item(), ind[1, ind_head].item()
    ok = p_score >= 0.5 and i_score >= 0.5 and i_score >= 5 * uniform
    final_loss = heldout_loss(saved, heldout)

    demos = []
    for text in DEMOS:
        ids = tok2.encode(text).ids
        assert UNK not in ids, text
        words = [inv[i] for i in ids]
        maps = attention_maps(mm, saved, ids)
        rows = torch.arange(1, len(ids))
        d = {"text": text, "ids": ids, "tokens": words,
             "previous_token_head_weight_on_i_minus_1": round(maps[0][prev_head, rows, rows - 1].mean().item(), 4)}
        if words.count(".") > 1:  # the repeated-phrase demo: first and last sentence are the phrase
            n = words.index(".") - 1
            d["first"] = [1, 1 + n]
            d["second"] = [len(words) - 1 - n, len(words) - 1]
            assert words[1:1 + n] == words[-1 - n:-1]
            ts = torch.arange(d["second"][0], d["second"][1])
            d["induction_head_weight_on_target"] = round(maps[1][ind_head, ts, d["first"][0] + (ts - d["second"][0]) + 1].mean().item(), 4)
        demos.append(d)

    def table(m):
        return [[round(v, 4) for v in row] for row in m.tolist()]
    sink_heads = [(l, h, round(sink[l, h].item(), 4)) for l in range(cfg.num_hidden_layers)
                  for h in range(cfg.num_attention_heads) if sink[l, h] >= 0.3]
    summary = {
        "about": "Held-out sequences for the tiny MiniMind checkpoint (generated, never trained on). "
                 "Ranges are half-open [start, end) token positions in ids; ids[0] is <bos>. "
                 "The phrase in first and second is a sentence without its period; no other sentence "
                 "of the sequence shares a word with it, so each induction target is unique: for t in "
                 "second, target = first[0] + (t - second[0]) + 1.",
        "seed": args.seed,
        "previous_token_head": {"layer": 0, "head": prev_head},
        "induction_head": {"layer": 1, "head": ind_head},
        "python_means": {
            "previous_token": round(p_score, 4),
            "induction": round(i_score, 4),
            "induction_uniform_baseline": round(uniform, 4),
            "note": "mean weight on i-1 over all positions i >= 1; mean weight on the induction target "
                    "over the second occurrence; baseline = mean of 1/(t+1) over the same positions",
        },
        "per_head": {"previous_token": table(prev), "induction": table(ind), "first_token": table(sink)},
        "first_token_heads": [{"layer": l, "head": h, "mean_weight_on_position_0": s} for l, h, s in sink_heads],
        "demos": demos,
        "sequences": heldout,
    }
    with open(os.path.join(args.out, "heldout.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")

    sha = hashlib.sha256(open(os.path.join(args.out, "model.safetensors"), "rb").read()).hexdigest()
    write_training_md(args, cfg, config, vocab, n_params, log, rejected, prev, ind, sink, uniform,
                      prev_head, ind_head, train_seconds, heldout, final_loss, sha)
    print(f"previous-token head L0H{prev_head}: {p_score:.3f}; induction head L1H{ind_head}: {i_score:.3f} "
          f"(uniform {uniform:.3f}); sha256 {sha}; {train_seconds:.0f} s")
    if not ok:
        sys.exit("error: the heads miss the required scores (previous-token >= 0.5, induction >= 0.5 and >= 5x uniform)")


def write_training_md(args, cfg, config, vocab, n_params, log, rejected, prev, ind, sink, uniform,
                      prev_head, ind_head, seconds, heldout, final_loss, sha):
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    keys = ["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
            "intermediate_size", "vocab_size", "max_position_embeddings", "rms_norm_eps", "rope_theta",
            "hidden_act", "tie_word_embeddings", "use_moe", "bos_token_id", "eos_token_id"]
    L, H = prev.shape
    lines = [
        "# The tiny MiniMind checkpoint",
        "",
        "Written by `scripts/train_tiny.py`, which trained this checkpoint. A two-layer model of MiniMind's",
        "own architecture (`MiniMindForCausalLM` loaded from MiniMind's `model/model_minimind.py`), trained",
        "on generated sentences so that its attention heads show two textbook patterns.",
        "",
        "## Command",
        "",
        "```",
        f"python3 scripts/train_tiny.py PATH/TO/minimind/model/model_minimind.py --out {args.out} "
        f"--seed {args.seed} --steps {args.steps} --threads {args.threads}",
        "```",
        "",
        f"Seed {args.seed}; one torch thread and `torch.use_deterministic_algorithms(True)`, so that the same",
        "command on the same machine and library versions writes the same `model.safetensors`",
        f"(sha256 `{sha}`).",
        "",
        "## Files",
        "",
        "- `config.json`, `model.safetensors`, `generation_config.json`: as MiniMind's `save_pretrained` writes",
        "  them, with config.json post-processed as `scripts/convert_model.py` does (`rope_theta` kept,",
        "  `rope_scaling` null, `rope_parameters` removed). Float32. Word embeddings are tied",
        "  (`tie_word_embeddings: true`), so, as in MiniMind's own saved models, there is no `lm_head.weight`:",
        "  the output projection is `model.embed_tokens.weight`.",
        "- `tokenizer.json`: a `tokenizers` WordLevel tokenizer: lowercase normaliser, whitespace",
        "  pre-tokenizer (words and punctuation apart), `<unk>` for unknown words, and a post-processor that",
        "  puts `<bos>` first when special tokens are added (`encode(text, true)`); `encode(text, false)`",
        "  gives the word ids alone.",
        "- `heldout.json`: held-out sequences with a repeated phrase, the chosen heads, per-head scores, demos.",
        "",
        "To load it in Python, build `MiniMindForCausalLM(MiniMindConfig(**config))` and",
        "`load_state_dict(safetensors.torch.load_file(...), strict=False)` (only `lm_head.weight` is missing,",
        "and it is the embedding). MiniMind's `from_pretrained` under transformers 5 can leave the RoPE",
        "tables (non-persistent buffers) as uninitialised memory, which MiniMind's zero check does not catch.",
        "",
        "## Model",
        "",
        "| key | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {config[k]} |" for k in keys]
    lines += [
        "",
        f"{n_params} parameters ({n_params - cfg.vocab_size * cfg.hidden_size} without the tied embedding).",
        "Everything else is MiniMind's default (QK-norm, RoPE, SiLU MLP, no dropout, its own weight",
        "initialisation). `head_dim` is 32, not hidden_size / heads = 16 (MiniMind reads it from the config,",
        "so q_proj maps 64 to 4 x 32 = 128 and o_proj back): with 16 dimensions RoPE has only two quickly",
        "turning frequency pairs, and in trial runs layer 0 learned a blurred look-back over the last two or",
        "three tokens instead of a sharp previous-token head.",
        "",
        "## Data",
        "",
        f"A vocabulary of {len(vocab)} tokens: `<pad>` 0, `<bos>` 1, `<eos>` 2, `<unk>` 3, then `.` `,` and",
        "English words (determiners, adjectives, nouns, places, names, verbs, adverbs, prepositions).",
        "A grammar of nine sentence shapes (for example `the old fox found a red ball .`,",
        "`anna walked across the bridge .`, `in the garden , the cat slept .`). A training document is",
        f"`<bos>`, sentences up to {128} tokens, `<eos>`, padded (padding is not scored); each sentence after",
        "the first is, with probability 0.5, a copy of an earlier sentence of the same document, so",
        "copying from earlier context (induction) pays off. Documents are generated afresh every step",
        "from a seeded random stream.",
        "",
        f"Held-out: {len(heldout)} sequences from a separate random stream: `<bos>`, 0-2 sentences, a phrase",
        "(a sentence without its period, all words different), 1-3 sentences, the phrase again, 0-1",
        "sentences. No other sentence shares a word with the phrase, so every token of the second",
        "occurrence has exactly one earlier match. Training documents that begin with a held-out",
        f"sequence are skipped ({rejected} were).",
        "",
        "## Training",
        "",
        "AdamW (lr 3e-3, betas 0.9/0.95, no weight decay), 150 warm-up steps, cosine decay to 3e-4,",
        f"batch 32 x 128, {args.steps} steps, gradient clipping at 1.0. CPU: {cpu}, {args.threads} thread(s),",
        f"torch {torch.__version__}, Python {platform.python_version()}. Wall time {seconds:.0f} s.",
        "",
        "Loss (train: mean over the preceding steps; held-out: all tokens, and the phrase's tokens after",
        "its first word in its first and second occurrence) and the best head scores:",
        "",
        "| step | train | held-out | 1st occurrence | 2nd occurrence | best prev-token L0 | best induction L1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in log:
        lines.append(f"| {e['step']} | {e['train_loss']:.3f} | {e['heldout_loss']:.3f} | {e['first_occurrence_loss']:.3f} "
                     f"| {e['second_occurrence_loss']:.3f} | {e['best_prev_layer0']:.3f} | {e['best_induction_layer1']:.3f} |")
    lines += [
        "",
        "## Heads",
        "",
        "Attention weights recomputed from the saved weights along MiniMind's explicit path (q/k/v",
        "projections, view into heads, q_norm/k_norm, RoPE, scores / sqrt(head_dim), causal mask,",
        "softmax), checked against the module's own output. Mean over the held-out sequences of: the",
        "weight on position i-1 (all i >= 1); the weight on the induction target (for t in the second",
        "occurrence, the position after the matching token of the first occurrence); the weight on",
        f"position 0 (all i >= 1). Uniform attention would give {uniform:.3f} on the induction target.",
        "",
        "| layer | head | previous token | induction | first token |",
        "|---|---|---|---|---|",
    ]
    for l in range(L):
        for h in range(H):
            mark = " (chosen)" if (l, h) in ((0, prev_head), (1, ind_head)) else ""
            lines.append(f"| {l} | {h}{mark} | {prev[l, h]:.3f} | {ind[l, h]:.3f} | {sink[l, h]:.3f} |")
    lines += [
        "",
        f"Previous-token head: layer 0 head {prev_head} ({prev[0, prev_head]:.3f} on i-1).",
        f"Induction head: layer 1 head {ind_head} ({ind[1, ind_head]:.3f} on the target, "
        f"{ind[1, ind_head] / uniform:.1f}x uniform).",
        "First-token (attention sink) heads, with at least 0.3 of their weight on `<bos>`: "
        + (", ".join(f"layer {l} head {h} ({sink[l, h]:.3f})" for l in range(L) for h in range(H) if sink[l, h] >= 0.3)
           or "none") + ".",
        "",
        f"Held-out loss of the saved model: {final_loss[0]:.3f} over all tokens; on the phrase's later tokens",
        f"{final_loss[1]:.3f} in the first occurrence and {final_loss[2]:.3f} in the second, where it can copy.",
        "",
        "## How robust the recipe is",
        "",
        "Whether the two-head circuit forms within the step budget depends on the seed. In trial runs of",
        "this exact recipe, seeds 1 and 2 had not formed it cleanly after 2000 steps: layer 0 looked back",
        "over the last two or three tokens at once and layer 1 copied through that blur, so no single",
        "head reached the thresholds. The script checks the thresholds on what it saved and exits with",
        "status 1 when they are missed.",
        "",
    ]
    with open(os.path.join(args.out, "TRAINING.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
