"""Per-op speed, minigrad against PyTorch: forward + backward at the shapes the papers' models use.

    python benchmarks/ops.py                       # every op, 2 threads
    python benchmarks/ops.py --ops conv2d max_pool2d --repeats 30

For each case both engines run the same op on the same float32 input, then backward with the same random
upstream gradient, in one process with the same number of threads. The first minigrad call pays numba's
JIT compilation (or the load of its on-disk cache); it is reported apart as "first call", and the steady
state is the median of ``--repeats`` timed calls after it. Results are printed and saved as JSON and
Markdown into --out.
"""

import argparse
import os
import sys
import time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ops", nargs="+", help="only these ops (default: all)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out", default="results/benchmarks")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: minigrad on CuPy and PyTorch on the same GPU")
    args = p.parse_args(argv)
    if args.threads < 1 or args.repeats < 1:
        p.error("--threads and --repeats must be positive")
    return args


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # thread counts must be in the environment before NumPy, numba and torch load
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minigrad as mg  # noqa: E402  (before NumPy: see minigrad/threads.py)
import numpy as np  # noqa: E402
import minigrad.functional as F  # noqa: E402
from minigrad.ops import rnn as rnn_ops  # noqa: E402
from minigrad.report import markdown_table, save_json  # noqa: E402


def conv_case(label, n, c, h, k, kernel=3, padding=1):
    def make(rng):
        return [rng.standard_normal((n, c, h, h)), rng.standard_normal((k, c, kernel, kernel)) * 0.1,
                rng.standard_normal(k)]
    return ("conv2d", label, make, lambda x, w, b: F.conv2d(x, w, b, padding=padding),
            lambda T, x, w, b: T.nn.functional.conv2d(x, w, b, padding=padding))


def pool_case(op, label, n, c, h):
    def make(rng):
        return [rng.standard_normal((n, c, h, h))]
    return (op, label, make, lambda x: getattr(F, op)(x, 2), lambda T, x: getattr(T.nn.functional, op)(x, 2))


def batch_norm_case(label, n, c, h):
    def make(rng):
        return [rng.standard_normal((n, c, h, h)), 1 + 0.1 * rng.standard_normal(c), 0.1 * rng.standard_normal(c)]

    def mg_fn(x, w, b):
        xp = mg.get_array_module(x.data)                     # running statistics where x is (CPU or GPU)
        return F.batch_norm(x, xp.zeros(c, np.float32), xp.ones(c, np.float32), w, b, training=True)

    def torch_fn(T, x, w, b):
        return T.nn.functional.batch_norm(x, T.zeros(c, device=x.device), T.ones(c, device=x.device), w, b,
                                          training=True)
    return ("batch_norm", label, make, mg_fn, torch_fn)


def rnn_case(kind, label, batch, seq, input_size, hidden, bidirectional):
    """One LSTM or GRU layer (kind 'lstm' or 'gru') over a (seq, batch, input_size) sequence from a zero state;
    the upstream gradient reaches the output sequence (batch-major would only add a transpose)."""
    gates, directions = (4 if kind == "lstm" else 3), (2 if bidirectional else 1)
    shapes = [(gates * hidden, input_size), (gates * hidden, hidden), (gates * hidden,), (gates * hidden,)]

    def make(rng):
        bound = 1 / np.sqrt(hidden)                            # PyTorch's initialisation
        weights = [rng.uniform(-bound, bound, s) for _ in range(directions) for s in shapes]
        return [rng.standard_normal((seq, batch, input_size))] + weights

    def mg_fn(x, *weights):
        per_direction = [tuple(weights[4 * d:4 * d + 4]) for d in range(directions)]
        run = rnn_ops.lstm if kind == "lstm" else rnn_ops.gru
        return run(x, None, per_direction, bidirectional=bidirectional)[0]

    def torch_fn(T, x, *weights):
        # torch.lstm / torch.gru are what torch.nn.LSTM / GRU call: (input, hx, flat weights, has_biases,
        # num_layers, dropout, train, bidirectional, batch_first), returning the output first.
        zeros = T.zeros(directions, batch, hidden, device=x.device)
        hx = (zeros, zeros) if kind == "lstm" else zeros
        return getattr(T, kind)(x, hx, list(weights), True, 1, 0.0, True, bidirectional, False)[0]
    return (kind, label, make, mg_fn, torch_fn)


CASES = [
    conv_case("Pinto CNN conv1 (128, 3, 28, 28) -> 32", 128, 3, 28, 32),
    conv_case("Pinto CNN conv2 (128, 32, 14, 14) -> 64", 128, 32, 14, 64),
    conv_case("Pinto CNN conv3 (128, 64, 7, 7) -> 128", 128, 64, 7, 128),
    conv_case("U-Net enc1b (32, 32, 28, 28) -> 32", 32, 32, 28, 32),
    conv_case("U-Net bottleneck (32, 256, 3, 3) -> 512", 32, 256, 3, 512),
    conv_case("DCLNN conv2 (128, 32, 26, 26) -> 64, no padding", 128, 32, 26, 64, padding=0),
    pool_case("max_pool2d", "Pinto CNN pool1 (128, 32, 28, 28)", 128, 32, 28),
    pool_case("max_pool2d", "Pinto CNN pool2 (128, 64, 14, 14)", 128, 64, 14),
    pool_case("max_pool2d", "Pinto CNN pool3 (128, 128, 7, 7)", 128, 128, 7),
    pool_case("avg_pool2d", "DCLNN avg pool (128, 64, 24, 24)", 128, 64, 24),
    batch_norm_case("U-Net (32, 32, 28, 28)", 32, 32, 28),
    batch_norm_case("U-Net (32, 64, 14, 14)", 32, 64, 14),
    batch_norm_case("U-Net (32, 128, 7, 7)", 32, 128, 7),
    batch_norm_case("U-Net (32, 512, 1, 1)", 32, 512, 1),
    rnn_case("lstm", "CNN-LSTM's LSTM (batch 32, seq 7, 448) -> 128", 32, 7, 448, 128, False),
    rnn_case("gru", "CNN-GRU's bidirectional GRU (batch 32, seq 7, 448) -> 2 x 256", 32, 7, 448, 256, True),
    rnn_case("lstm", "LSTM (batch 32, seq 28, 128) -> 128", 32, 28, 128, 128, False),
    rnn_case("gru", "bidirectional GRU (batch 32, seq 28, 128) -> 2 x 256", 32, 28, 128, 256, True),
    rnn_case("lstm", "LSTM (batch 32, seq 7, 512) -> 256", 32, 7, 512, 256, False),
    rnn_case("gru", "bidirectional GRU (batch 32, seq 7, 512) -> 2 x 256", 32, 7, 512, 256, True),
    rnn_case("lstm", "LSTM (batch 32, seq 49, 64) -> 128", 32, 49, 64, 128, False),
]


def time_calls(step, repeats, synchronize=lambda: None):
    """(first call, median of the next ``repeats`` calls), in seconds; ``synchronize`` waits for a GPU."""
    start = time.perf_counter()
    step()
    synchronize()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        synchronize()
        times.append(time.perf_counter() - start)
    return first, float(np.median(times))


def run_case(torch, case, repeats, seed=0, device="cpu"):
    op, label, make, mg_fn, torch_fn = case
    arrays = [a.astype(np.float32) for a in make(np.random.default_rng(seed))]
    mg_inputs = [mg.Tensor(a, requires_grad=True, device=device) for a in arrays]
    torch_inputs = [torch.tensor(a, requires_grad=True, device=device) for a in arrays]
    upstream_array = np.random.default_rng(seed + 1).standard_normal(mg_fn(*mg_inputs).shape).astype(np.float32)
    upstream = mg.Tensor(upstream_array, device=device).data
    torch_upstream = torch.from_numpy(upstream_array).to(device)
    mg_sync, torch_sync = (lambda: None), (lambda: None)
    if device == "cuda":
        import cupy
        mg_sync, torch_sync = cupy.cuda.Device().synchronize, torch.cuda.synchronize

    def mg_step():
        for t in mg_inputs:
            t.grad = None
        mg_fn(*mg_inputs).backward(upstream)

    def torch_step():
        for t in torch_inputs:
            t.grad = None
        torch_fn(torch, *torch_inputs).backward(torch_upstream)

    mg_first, mg_steady = time_calls(mg_step, repeats, mg_sync)
    _, torch_steady = time_calls(torch_step, repeats, torch_sync)
    return {"op": op, "case": label, "minigrad_first_ms": 1e3 * mg_first, "minigrad_ms": 1e3 * mg_steady,
            "pytorch_ms": 1e3 * torch_steady, "ratio": mg_steady / torch_steady}


def main(args):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from torch_twins import start_torch
    torch = start_torch(args.threads, args.device)
    cases = [c for c in CASES if not args.ops or c[0] in args.ops]
    if not cases:
        raise SystemExit(f"no case for ops {args.ops}; ops: {sorted({c[0] for c in CASES})}")
    results = []
    for case in cases:
        results.append(run_case(torch, case, args.repeats, device=args.device))
        r = results[-1]
        print(f"{r['op']:<12} {r['case']:<50} minigrad {r['minigrad_ms']:7.2f} ms  PyTorch {r['pytorch_ms']:7.2f} ms"
              f"  {r['ratio']:.2f}x   (first call {r['minigrad_first_ms']:.0f} ms)", flush=True)
    rows = [[r["op"], r["case"], f"{r['minigrad_ms']:.2f}", f"{r['pytorch_ms']:.2f}", f"{r['ratio']:.2f}x",
             f"{r['minigrad_first_ms']:.0f}"] for r in results]
    table = markdown_table(["op", "shape", "minigrad ms", f"PyTorch {torch.__version__} ms", "minigrad / PyTorch",
                            "minigrad first call ms (JIT)"], rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "ops" if args.device == "cpu" else f"ops_{args.device}"
    save_json(out / f"{stem}.json", {"threads": args.threads, "repeats": args.repeats, "device": args.device,
                                     "torch_version": torch.__version__, "results": results})
    (out / f"{stem}.md").write_text(f"# Forward + backward per op, float32, {args.device}, {args.threads} threads"
                                    f"\n\n{table}\n")
    print("\n" + table)


if __name__ == "__main__":
    main(ARGS)
