"""minigrad and PyTorch side by side: the same model, initial weights, batch order, recipe and threads.

    python benchmarks/compare_torch.py --model mlnn                      # Pinto & Silva's MLNN, Table 1
    python benchmarks/compare_torch.py --model mlnn --seeds 0 1 2        # repeat with three seeds

For each seed, builds the registered minigrad model, copies its initial weights into the PyTorch twin
(benchmarks/torch_twins.py), and trains both with the paper's recipe (models.recipe) on the same batches,
in one process with the same number of threads, the two taking turns epoch by epoch. Validation accuracy is taken
after every epoch (outside the timed part). At the end: test accuracy, seconds per training epoch and
inference throughput of each engine, and the ratios minigrad / PyTorch, printed and saved as JSON and
Markdown into --out.

The first minigrad epoch includes numba's JIT compilation (or loading it from numba's cache) and is
reported apart; "steady" is the median of the other epochs. Training in float32 is chaotic: two engines
that round differently drift apart within an epoch and end at different points of a noisy curve, so one
seed's accuracy difference is mostly that noise. Several seeds give a mean and a spread to compare.
"""

import argparse
import os
import sys
import time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="mlnn", help="a registered model with a PyTorch twin")
    p.add_argument("--epochs", type=int, help="default: the paper's recipe")
    p.add_argument("--limit", type=int, help="train on a stratified subset of this many images")
    p.add_argument("--threads", type=int, default=2, help="threads for BLAS, numba and PyTorch")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: minigrad on CuPy and PyTorch on the same GPU")
    p.add_argument("--out", default="results/compare_torch")
    args = p.parse_args(argv)
    for name in ("threads", "epochs", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name} must be a positive integer, got {value}")
    return args


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # thread counts must be in the environment before NumPy, numba and torch load
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minigrad as mg  # noqa: E402  (before NumPy: see minigrad/threads.py)
import numpy as np  # noqa: E402
from minigrad import metrics, optim  # noqa: E402
from minigrad.data import BloodMNIST, DataLoader  # noqa: E402
from minigrad.report import markdown_table, save_json  # noqa: E402
from minigrad.training import predict_logits, train_one_epoch  # noqa: E402
from models import create_model, recipe  # noqa: E402


def torch_train_epoch(model, loader, optimizer, device="cpu"):
    """One epoch of the same loop as minigrad.training.train_one_epoch; returns its seconds."""
    import torch
    import torch.nn.functional as F
    model.train()
    start = time.perf_counter()
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(torch.from_numpy(x).to(device)), torch.from_numpy(y).to(device))
        loss.backward()
        optimizer.step()
        loss.item()                         # as minigrad's loop reads its loss (on a GPU: waits for the step)
    return time.perf_counter() - start


def torch_logits(model, images, batch_size=512, device="cpu"):
    import torch
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(images[i:i + batch_size]).to(device)).cpu().numpy()
                               for i in range(0, len(images), batch_size)])


def accuracy_of(logits, labels):
    return float((logits.argmax(axis=1) == labels).mean())


class Engine:
    """One engine's model, optimizer and batches, trained an epoch at a time."""

    def __init__(self, name, model, settings, train, seed, device="cpu"):
        import torch
        self.name, self.model, self.device = name, model.to(device), device
        self.loader = DataLoader(train, batch_size=settings["batch_size"], shuffle=True, seed=seed)
        adam = dict(lr=settings["lr"], betas=tuple(settings.get("betas", (0.9, 0.999))),
                    eps=settings.get("eps", 1e-8), weight_decay=settings.get("weight_decay", 0.0))
        if name == "minigrad":
            self.optimizer = optim.Adam(model.parameters(), **adam)
        else:
            self.optimizer = torch.optim.Adam(model.parameters(), **adam)
        self.seconds, self.val_accuracy = [], []

    def train_epoch(self, epoch):
        if self.name == "minigrad":
            return train_one_epoch(self.model, self.loader, self.optimizer, epoch=epoch, progress=False,
                                   device=self.device)["seconds"]
        return torch_train_epoch(self.model, self.loader, self.optimizer, self.device)

    def logits(self, x, batch_size=512):
        if self.name == "minigrad":
            return predict_logits(self.model, x, batch_size, device=self.device)
        return torch_logits(self.model, x, batch_size, self.device)

    def summary(self, test_x, test_y):
        speed = metrics.inference_speed(lambda x: self.logits(x, batch_size=len(x)), test_x, batch_size=256)
        steady = self.seconds[1:] or self.seconds
        return {"epoch_seconds": self.seconds, "first_epoch_s": self.seconds[0],
                "steady_epoch_s": float(np.median(steady)), "val_accuracy": self.val_accuracy,
                "test_accuracy": accuracy_of(self.logits(test_x), test_y),
                "inference_samples_per_s": speed["samples_per_second"]}


def compare(args, seed, settings, train, splits):
    """One seed: both engines from the same initial weights, taking turns epoch by epoch, so that a change
    in the machine's speed during the run (it is shared) slows both alike."""
    from torch_twins import torch_twin
    mg.manual_seed(seed)
    model = create_model(args.model)
    engines = [Engine("minigrad", model, settings, train, seed, args.device),
               Engine("pytorch", torch_twin(args.model, model.state_dict()), settings, train, seed, args.device)]
    (val_x, val_y), (test_x, test_y) = splits["val"][:], splits["test"][:]
    for epoch in range(settings["epochs"]):
        for engine in engines:
            engine.seconds.append(engine.train_epoch(epoch))
            engine.val_accuracy.append(accuracy_of(engine.logits(val_x), val_y))
            print(f"  {engine.name:<8} seed {seed} epoch {epoch + 1}: {engine.seconds[-1]:.2f} s, "
                  f"val acc {engine.val_accuracy[-1]:.4f}", flush=True)
    return {engine.name: engine.summary(test_x, test_y) for engine in engines}


def ratio_rows(m, t):
    """Table rows comparing two result dicts (one seed, or the means over seeds)."""
    return [
        ["test accuracy", f"{m['test_accuracy']:.4f}", f"{t['test_accuracy']:.4f}",
         f"{100 * (m['test_accuracy'] - t['test_accuracy']):+.2f} points"],
        ["seconds / epoch (steady)", f"{m['steady_epoch_s']:.2f}", f"{t['steady_epoch_s']:.2f}",
         f"{m['steady_epoch_s'] / t['steady_epoch_s']:.2f}x"],
        ["seconds, first epoch", f"{m['first_epoch_s']:.2f}", f"{t['first_epoch_s']:.2f}",
         f"{m['first_epoch_s'] / t['first_epoch_s']:.2f}x"],
        ["inference images / s", f"{m['inference_samples_per_s']:,.0f}",
         f"{t['inference_samples_per_s']:,.0f}",
         f"{m['inference_samples_per_s'] / t['inference_samples_per_s']:.2f}x"],
    ]


def mean_over_seeds(runs, engine):
    keys = ("test_accuracy", "steady_epoch_s", "first_epoch_s", "inference_samples_per_s")
    return {k: float(np.mean([r[engine][k] for r in runs])) for k in keys}


def describe_device(device, torch):
    if device == "cpu":
        return "CPU"
    import cupy
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    return name.decode() if isinstance(name, bytes) else name


def main(args):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from torch_twins import start_torch
    torch = start_torch(args.threads, args.device)
    settings = recipe(args.model)
    if settings.get("optimizer", "adam") != "adam":
        raise SystemExit(f"compare_torch trains with Adam; {args.model}'s recipe names {settings['optimizer']}")
    if args.epochs:
        settings["epochs"] = args.epochs
    splits = {s: BloodMNIST(s) for s in ("train", "val", "test")}
    train = splits["train"]
    if args.limit:
        train = train.subset(min(args.limit, len(train)), seed=0)
    device = describe_device(args.device, torch)
    print(f"{args.model}: {len(train)} training images, {settings['epochs']} epochs, batch "
          f"{settings['batch_size']}, Adam lr {settings['lr']}, {args.threads} threads, seeds {args.seeds}, "
          f"on {device}")

    runs = [compare(args, seed, settings, train, splits) for seed in args.seeds]
    header = ["", "minigrad", f"PyTorch {torch.__version__}", "minigrad / PyTorch"]
    sections = []
    for seed, run in zip(args.seeds, runs):
        sections.append((f"seed {seed}", markdown_table(header, ratio_rows(run["minigrad"], run["pytorch"]))))
    if len(runs) > 1:
        m, t = mean_over_seeds(runs, "minigrad"), mean_over_seeds(runs, "pytorch")
        table = markdown_table(header, ratio_rows(m, t))
        spread = {e: float(np.std([r[e]["test_accuracy"] for r in runs])) for e in ("minigrad", "pytorch")}
        sections.append((f"mean over {len(runs)} seeds (test accuracy std: minigrad {spread['minigrad']:.4f}, "
                         f"PyTorch {spread['pytorch']:.4f})", table))
    text = "\n\n".join(f"### {title}\n\n{table}" for title, table in sections)
    print("\n" + text)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.device == "cpu" else f"_{args.device}"
    save_json(out / f"{args.model}{suffix}.json",
              {"model": args.model, "settings": settings, "threads": args.threads, "device": device,
               "train_images": len(train), "torch_version": torch.__version__, "seeds": args.seeds, "runs": runs})
    (out / f"{args.model}{suffix}.md").write_text(
        f"# {args.model}: minigrad vs PyTorch on {device}\n\n{len(train)} training images, {settings['epochs']} "
        f"epochs, batch {settings['batch_size']}, Adam lr {settings['lr']}, {args.threads} threads; per seed the "
        f"same initial weights and batch order in both engines.\n\n{text}\n")
    print(f"\nsaved {out / (args.model + suffix + '.json')} and .md")


if __name__ == "__main__":
    main(ARGS)
