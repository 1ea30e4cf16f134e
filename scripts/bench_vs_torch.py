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

A lower bound for any process that holds the whole trace, printed as "floor": the time this
machine takes to first-touch the memory attnstep's run holds (its peak RSS less that of a
one-token run), in fresh processes, one per thread, each touching its share, plus the products'
arithmetic (projections, the full Q·Kᵀ, the causal half of weights·V) at the rate PyTorch's
own matrix multiply reaches here with the same threads. It leaves out everything else (drawing
the inputs, softmax, masks, start-up, exit), so no implementation that records every tensor can
run under it on this machine; "floor/PT" above 1 means PyTorch's forward, which keeps no trace
and reuses its warm heap, cannot be matched here.

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


# Touches n fresh bytes, one write per page, and prints the seconds it took (the kernel's cost
# of first-touch: a page fault, a fresh page, clearing it).
TOUCH = """
import mmap, sys, time
n = int(sys.argv[1]); page = mmap.PAGESIZE; pages = len(range(0, n, page))
m = mmap.mmap(-1, n)
t = time.perf_counter()
m[0:n:page] = b"\\x01" * pages
print(time.perf_counter() - t)
"""


def touch_seconds(nbytes, workers, repeat):
    """Best wall time for `workers` fresh processes, started together, to touch nbytes in all."""
    best = math.inf
    for _ in range(repeat):
        procs = [subprocess.Popen([sys.executable, "-S", "-c", TOUCH, str(nbytes // workers)],
                                  stdout=subprocess.PIPE, text=True) for _ in range(workers)]
        best = min(best, max(float(p.communicate()[0]) for p in procs))
    return best


def product_flops(L, bsz=1):
    """Multiply-adds ×2 of the products a prefill of L tokens must do: the four projections,
    Q·Kᵀ whole (its scores are recorded above the diagonal too) and weights·V over the causal
    half (row i reads i + 1 keys)."""
    q, kv = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
    tok = bsz * L
    projections = 2 * tok * HIDDEN * (q + 2 * kv) + 2 * tok * q * HIDDEN
    scores = 2 * bsz * HEADS * L * L * HEAD_DIM
    weighted = 2 * bsz * HEADS * (L * (L + 1) // 2) * HEAD_DIM
    return projections + scores + weighted


def torch_matmul_rate(n=1024, repeat=5):
    """FLOP/s of PyTorch's own [n, n]·[n, n] float32 product with its current threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best


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


def run_attnstep(binary, L, stage="o_proj"):
    """One whole attnstep process: (wall seconds, peak RSS bytes)."""
    args = [binary, "run", "--preset", "minimind2", "--seq-len", str(L), "--stage", stage,
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
    workers = int(os.environ.get("RAYON_NUM_THREADS", os.cpu_count()))
    rate = torch_matmul_rate()
    base = min(run_attnstep(a.bin, 1, stage="input")[1] for _ in range(3))
    print(f"PyTorch's matmul here: {rate / 1e9:.0f} GFLOP/s; a one-token run's peak RSS: "
          f"{base / 1e6:.1f} MB")
    print(f"{'L':>6} {'PyTorch ms':>11} {'attnstep ms':>12} {'ratio':>6} "
          f"{'peak RSS MB':>12} {'traced MB':>10} {'RSS/traced':>10} {'floor ms':>9} "
          f"{'floor/PT':>9}")
    for L in a.sizes:
        forward, t_torch, runs = torch_forward(mm, L), math.inf, []
        for _ in range(a.repeat):
            t_torch = min(t_torch, forward())
            runs.append(run_attnstep(a.bin, L))
        t_ours = min(t for t, _ in runs)
        peak = max(r for _, r in runs)
        traced = traced_bytes(L)
        floor = touch_seconds(max(peak - base, 0), workers, a.repeat) + product_flops(L) / rate
        print(f"{L:>6} {t_torch * 1e3:>11.1f} {t_ours * 1e3:>12.1f} {t_ours / t_torch:>6.2f} "
              f"{peak / 1e6:>12.1f} {traced / 1e6:>10.1f} {peak / traced:>10.2f} "
              f"{floor * 1e3:>9.1f} {floor / t_torch:>9.2f}")


if __name__ == "__main__":
    main()
