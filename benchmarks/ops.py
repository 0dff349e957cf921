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
from minigrad.catalogue import CATALOGUE  # noqa: E402
from minigrad.report import markdown_table, save_json  # noqa: E402

# (op, label, shape, settings): the benchmark cases of the op catalogue (minigrad/catalogue.py), the papers'
# layer shapes.
CASES = [(name, label, shape, chosen) for name, op in CATALOGUE.items() for label, shape, chosen in op.benchmarks]


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
    name, label, shape, chosen = case
    op = CATALOGUE[name]
    arrays = [a.astype(np.float32) for a in op.inputs(np.random.default_rng(seed), shape, **chosen)]
    mg_inputs = [mg.Tensor(a, requires_grad=True, device=device) for a in arrays]
    torch_inputs = [torch.tensor(a, requires_grad=True, device=device) for a in arrays]

    def mg_fn(*t):
        return op.minigrad(*t, **chosen)

    def torch_fn(T, *t):
        return op.torch(T, *t, **chosen)
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
    return {"op": name, "case": label, "minigrad_first_ms": 1e3 * mg_first, "minigrad_ms": 1e3 * mg_steady,
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
