"""minigrad and PyTorch side by side: the same model, initial weights, batch order and threads.

    python benchmarks/compare_torch.py --model mlnn --epochs 10          # Pinto & Silva's MLNN, Table 1

Trains the minigrad model and an identical PyTorch model on BloodMNIST, one after the other in one process
with the same number of threads, then prints and saves (JSON and Markdown, into --out) a table of test
accuracy, seconds per training epoch and inference throughput of each, with the ratios minigrad/PyTorch.
The first minigrad epoch includes numba's JIT compilation (or loading it from cache), so it is reported
separately from the steady-state epochs.
"""

import argparse
import os
import sys
import time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="mlnn", choices=["mlnn"])
    p.add_argument("--epochs", type=int, help="default: the paper's (Table 1)")
    p.add_argument("--limit", type=int, help="train on a stratified subset of this many images")
    p.add_argument("--threads", type=int, default=2, help="threads for BLAS, numba and PyTorch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/compare_torch")
    args = p.parse_args(argv)
    if args.threads < 1 or (args.epochs is not None and args.epochs < 1):
        p.error("--threads and --epochs must be positive")
    return args


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # thread counts must be set before NumPy, numba and torch are imported
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minigrad as mg  # noqa: E402
from minigrad import metrics, optim  # noqa: E402
from minigrad.data import BloodMNIST, DataLoader  # noqa: E402
from minigrad.report import markdown_table, save_json  # noqa: E402
from minigrad.training import predict_logits, train_one_epoch  # noqa: E402
from models import create_model  # noqa: E402

# The paper's settings per model (Pinto & Silva, Table 1).
SETTINGS = {"mlnn": {"lr": 0.01, "epochs": 10, "batch_size": 128}}


def torch_mirror(name, state_dict):
    """The same architecture in PyTorch, with parameter names matching minigrad's, loaded with its weights."""
    import torch
    from torch import nn
    if name == "mlnn":
        class MLNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Sequential(nn.Flatten(), nn.Linear(2352, 1180), nn.ReLU(), nn.Linear(1180, 8))

            def forward(self, x):
                return self.net(x)
        model = MLNN()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state_dict.items()})
    return model


def train_torch_epoch(model, loader, optimizer):
    import torch
    import torch.nn.functional as F
    model.train()
    start = time.perf_counter()
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def torch_logits(model, images, batch_size=512):
    import torch
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(images[i:i + batch_size])).numpy()
                               for i in range(0, len(images), batch_size)])


def summarize(epoch_seconds):
    steady = epoch_seconds[1:] or epoch_seconds
    return {"first_epoch_s": epoch_seconds[0], "steady_epoch_s": float(np.median(steady)),
            "all_epochs_s": epoch_seconds}


def main(args):
    import torch
    torch.set_num_threads(args.threads)
    settings = dict(SETTINGS[args.model], **({"epochs": args.epochs} if args.epochs else {}))
    train = BloodMNIST("train")
    if args.limit:
        train = train.subset(min(args.limit, len(train)), seed=args.seed)
    test_x, test_y = BloodMNIST("test")[:]

    mg.manual_seed(args.seed)
    model = create_model(args.model)
    tmodel = torch_mirror(args.model, model.state_dict())  # same initial weights
    loaders = [DataLoader(train, batch_size=settings["batch_size"], shuffle=True, seed=args.seed)
               for _ in range(2)]                              # same seed: the same batch order in both

    print(f"{args.model}: {len(train)} training images, {settings['epochs']} epochs, batch "
          f"{settings['batch_size']}, Adam lr {settings['lr']}, {args.threads} threads")
    opt = optim.Adam(model.parameters(), lr=settings["lr"])
    mg_seconds = []
    for epoch in range(settings["epochs"]):
        mg_seconds.append(train_one_epoch(model, loaders[0], opt, epoch=epoch, progress=False)["seconds"])
        print(f"  minigrad epoch {epoch + 1}: {mg_seconds[-1]:.2f} s")
    topt = torch.optim.Adam(tmodel.parameters(), lr=settings["lr"])
    torch_seconds = []
    for epoch in range(settings["epochs"]):
        torch_seconds.append(train_torch_epoch(tmodel, loaders[1], topt))
        print(f"  pytorch  epoch {epoch + 1}: {torch_seconds[-1]:.2f} s")

    mg_pred = predict_logits(model, test_x).argmax(axis=1)
    torch_pred = torch_logits(tmodel, test_x).argmax(axis=1)
    mg_speed = metrics.inference_speed(lambda x: predict_logits(model, x, batch_size=len(x)), test_x, 256)
    torch_speed = metrics.inference_speed(lambda x: torch_logits(tmodel, x, batch_size=len(x)), test_x, 256)

    result = {
        "model": args.model, "settings": settings, "threads": args.threads, "train_images": len(train),
        "minigrad": {"test_accuracy": metrics.accuracy(test_y, mg_pred), **summarize(mg_seconds),
                     "inference_samples_per_s": mg_speed["samples_per_second"]},
        "pytorch": {"test_accuracy": metrics.accuracy(test_y, torch_pred), **summarize(torch_seconds),
                    "inference_samples_per_s": torch_speed["samples_per_second"],
                    "version": torch.__version__},
    }
    m, t = result["minigrad"], result["pytorch"]
    rows = [
        ["test accuracy", f"{m['test_accuracy']:.4f}", f"{t['test_accuracy']:.4f}",
         f"{100 * (m['test_accuracy'] - t['test_accuracy']):+.2f} points"],
        ["seconds / epoch (steady)", f"{m['steady_epoch_s']:.2f}", f"{t['steady_epoch_s']:.2f}",
         f"{m['steady_epoch_s'] / t['steady_epoch_s']:.2f}x"],
        ["seconds, first epoch", f"{m['first_epoch_s']:.2f}", f"{t['first_epoch_s']:.2f}",
         f"{m['first_epoch_s'] / t['first_epoch_s']:.2f}x"],
        ["inference images / s", f"{m['inference_samples_per_s']:,.0f}", f"{t['inference_samples_per_s']:,.0f}",
         f"{m['inference_samples_per_s'] / t['inference_samples_per_s']:.2f}x"],
    ]
    table = markdown_table(["", "minigrad", f"PyTorch {torch.__version__}", "minigrad / PyTorch"], rows)
    print("\n" + table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_json(out / f"{args.model}.json", result)
    (out / f"{args.model}.md").write_text(
        f"# {args.model}: minigrad vs PyTorch\n\n{len(train)} training images, {settings['epochs']} epochs, "
        f"batch {settings['batch_size']}, {args.threads} threads, same initial weights and batch order.\n\n"
        + table + "\n")
    print(f"\nsaved {out / (args.model + '.json')} and .md")


if __name__ == "__main__":
    main(ARGS)
