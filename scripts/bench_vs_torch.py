"""Time PyTorch's explicit MiniMind attention forward next to attnstep's whole process.

Usage: python3 scripts/bench_vs_torch.py PATH/TO/model_minimind.py [--sizes 512 2048]
                                         [--repeat N] [--threads N] [--bin target/release/attnstep]

PyTorch side: MiniMind's own `Attention` (from the model file given, like the checker script)
with the MiniMind2 shape (hidden 512, 8 heads, 2 KV heads, head_dim 64, no QK-norm, so
q_norm/k_norm are identities), flash off so it takes the explicit branch that materialises the
scores, forward only under `torch.no_grad()`, one prefill of L tokens with the cache returned;
timed after a warm-up, best of N. Model construction, import and RoPE tables are not timed.

attnstep side: the whole process `attnstep run --preset minimind2 --seq-len L --stage o_proj
--color never` (start-up, weights and inputs drawn, every tensor of the trace recorded, one stage
printed, exit), release build, best of N wall-clock runs. Its peak RSS is read from
`os.wait4` in a small launcher process (the child's own getrusage) and printed next to the bytes of the tensors the trace
holds, worked out here from the shapes: every recorded tensor and weight counted once in f32,
even where attnstep shares one buffer between two names (a view), so it is an upper bound on
what the trace needs.

Both sides use the machine's threads as they are (PyTorch: torch.get_num_threads(); attnstep:
RAYON_NUM_THREADS or all cores), or N each with --threads N; both are printed. The two sides
alternate run by run, so a busy moment on a shared machine hits both.
"""
import argparse, importlib.util, math, os, subprocess, sys, time

import torch

HIDDEN, HEADS, KV_HEADS, HEAD_DIM, THETA = 512, 8, 2, 64, 1e6


def load_minimind(path):
    spec = importlib.util.spec_from_file_location("model_minimind", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def traced_bytes(L, bsz=1):
    """Bytes of every tensor one minimind2 prefill of L tokens records, plus the weights."""
    q, kv = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
    weights = q * HIDDEN + 2 * kv * HIDDEN + HIDDEN * q
    tok = bsz * L
    per_token = (
        HIDDEN            # x
        + q + 2 * kv      # xq/xk/xv after the projections
        + q + 2 * kv      # the same split into heads
        + q + kv          # xq/xk after RoPE
        + 2 * kv          # the cache (xk, xv)
        + 2 * q           # repeat_kv's xk, xv
        + 3 * q           # transposed xq, xk, xv
        + q + q + HIDDEN  # weighted sum, merged heads, o_proj
    )
    rope = 2 * L * HEAD_DIM                 # cos, sin
    square = 3 * bsz * HEADS * L * L        # scores, masked scores, weights
    mask = L * L                            # causal mask
    return 4 * (weights + tok * per_token + rope + square + mask)


def torch_forward(mm, L):
    """MiniMind2's Attention with flash off, warmed up; returns a function timing one forward."""
    cfg = mm.MiniMindConfig(hidden_size=HIDDEN, num_attention_heads=HEADS,
                            num_key_value_heads=KV_HEADS, head_dim=HEAD_DIM, rope_theta=THETA)
    attn = mm.Attention(cfg).eval()
    attn.flash = False  # the explicit branch: scores, mask, softmax, weighted sum
    attn.q_norm = torch.nn.Identity()  # MiniMind2 has no QK-norm
    attn.k_norm = torch.nn.Identity()
    cos, sin = mm.precompute_freqs_cis(HEAD_DIM, end=L, rope_base=THETA)
    x = torch.randn(1, L, HIDDEN)

    def once():
        with torch.no_grad():
            t0 = time.perf_counter()
            out, present = attn(x, (cos[:L], sin[:L]), None, True, None)
            return time.perf_counter() - t0

    once(), once()  # warm-up
    return once


# Runs one command and prints its wall time and peak RSS. It runs in a fresh small Python
# process that forks the command itself: a child's peak RSS as Linux reports it includes the
# memory of the process it was forked from (exec records the old address space's high-water
# mark), so forking attnstep straight from this script, with torch loaded, would add ~1 GB.
LAUNCHER = """
import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - t0, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status))
"""


def run_attnstep(binary, L):
    """One whole attnstep process: (wall seconds, peak RSS bytes)."""
    args = [binary, "run", "--preset", "minimind2", "--seq-len", str(L), "--stage", "o_proj",
            "--color", "never", "--max-memory", "64GiB"]
    r = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *args],
                       capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.strip():
        sys.exit(f"launcher failed: {r.stderr.strip()}")
    wall, peak, code = r.stdout.split()
    if int(code) != 0:
        sys.exit(f"attnstep failed (exit {code}): {r.stderr.strip()}")
    return float(wall), int(peak)  # Linux reports ru_maxrss in kilobytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_file", help="MiniMind's model/model_minimind.py")
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 2048])
    ap.add_argument("--repeat", type=int, default=5, help="runs per side; the best counts")
    ap.add_argument("--threads", type=int, help="threads for both sides (default: as configured)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--bin", default=os.path.join(root, "target", "release", "attnstep"))
    a = ap.parse_args()
    if not os.path.exists(a.bin):
        sys.exit(f"no attnstep binary at {a.bin}; build it with `cargo build --release` "
                 "or pass --bin PATH")
    mm = load_minimind(a.model_file)
    if a.threads:
        torch.set_num_threads(a.threads)
        os.environ["RAYON_NUM_THREADS"] = str(a.threads)
    threads = os.environ.get("RAYON_NUM_THREADS", f"one per core ({os.cpu_count()})")
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"attnstep threads: {threads}; best of {a.repeat}")
    print(f"{'L':>6} {'PyTorch ms':>11} {'attnstep ms':>12} {'ratio':>6} "
          f"{'peak RSS MB':>12} {'traced MB':>10} {'RSS/traced':>10}")
    for L in a.sizes:
        forward, t_torch, runs = torch_forward(mm, L), math.inf, []
        for _ in range(a.repeat):
            t_torch = min(t_torch, forward())
            runs.append(run_attnstep(a.bin, L))
        t_ours = min(t for t, _ in runs)
        peak = max(r for _, r in runs)
        traced = traced_bytes(L)
        print(f"{L:>6} {t_torch * 1e3:>11.1f} {t_ours * 1e3:>12.1f} {t_ours / t_torch:>6.2f} "
              f"{peak / 1e6:>12.1f} {traced / 1e6:>10.1f} {peak / traced:>10.2f}")


if __name__ == "__main__":
    main()
