"""Reproduce Pinto & Silva's experiment on BloodMNIST: train, evaluate on the test split, write the report.

    python examples/pinto_silva.py --out results/pinto_silva            # the paper's settings (Table 1)
    python examples/pinto_silva.py --limit 2000 --epochs 2 --out /tmp/quick

Writes into --out: report.json (every figure), report.md (the paper's Table 2 filled in), curves.png
(loss and accuracy per epoch), confusion_<model>.png, and checkpoint_<model>.pkl after every epoch, which
--resume continues from.

The paper's architectures that minigrad has so far: the MLNN (Algorithm 2). The CNN (Algorithm 1) needs
convolution and pooling, which come next.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

import minigrad as mg  # noqa: E402  (before NumPy: see minigrad/threads.py)
import numpy as np  # noqa: E402
from minigrad import metrics, optim, random  # noqa: E402
from minigrad.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from minigrad.data import CLASSES, BloodMNIST, DataLoader  # noqa: E402
from minigrad.report import markdown_table, plot_confusion_matrix, plot_curves, save_json  # noqa: E402
from minigrad.training import evaluate, predict_logits, train_one_epoch  # noqa: E402
from models import create_model  # noqa: E402

# Table 1 of the paper: per-architecture hyper-parameters (Adam, betas 0.9/0.999, eps 1e-8, He init).
TABLE1 = {"mlnn": {"lr": 0.01, "epochs": 10, "batch_size": 128}}
PAPER_NAMES = {"mlnn": "MLNN (DNN)"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["mlnn"], choices=sorted(TABLE1))
    p.add_argument("--epochs", type=int, help="override Table 1's epochs")
    p.add_argument("--lr", type=float, help="override Table 1's learning rate")
    p.add_argument("--batch-size", type=int, help="override Table 1's batch size (128)")
    p.add_argument("--limit", type=int, help="train on a stratified subset of this many images (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", help="path to bloodmnist.npz (default: the MedMNIST cache)")
    p.add_argument("--out", default="results/pinto_silva", help="folder for the report")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
    if args.lr is not None and args.lr <= 0:
        p.error(f"--lr must be positive, got {args.lr}")
    return args


def train_model(name, splits, args, out):
    """Train one architecture with Table 1's settings, checkpointing every epoch; returns its results."""
    settings = dict(TABLE1[name])
    settings.update({k: v for k, v in (("lr", args.lr), ("epochs", args.epochs),
                                       ("batch_size", args.batch_size)) if v is not None})
    mg.manual_seed(args.seed)
    model = create_model(name)
    optimizer = optim.Adam(model.parameters(), lr=settings["lr"], betas=(0.9, 0.999), eps=1e-8)
    train = splits["train"]
    loader = DataLoader(train, batch_size=settings["batch_size"], shuffle=True, seed=args.seed)
    checkpoint = out / f"checkpoint_{name}.pkl"
    history, start_epoch, train_seconds = [], 0, 0.0
    if args.resume and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        loader.load_state_dict(state["loader"])
        random.set_state(state["rng"])
        history, start_epoch, train_seconds = state["history"], state["epoch"], state["train_seconds"]
        print(f"{name}: resumed after epoch {start_epoch} from {checkpoint}")
    print(model)
    for epoch in range(start_epoch, settings["epochs"]):
        stats = train_one_epoch(model, loader, optimizer, epoch=epoch, progress=not args.no_progress)
        val = evaluate(model, *splits["val"][:])
        train_seconds += stats["seconds"]
        history.append({"epoch": epoch + 1, "train_loss": stats["loss"], "train_accuracy": stats["accuracy"],
                        "val_loss": val["loss"], "val_accuracy": val["accuracy"], "seconds": stats["seconds"]})
        print(f"{name} epoch {epoch + 1}/{settings['epochs']}: train loss {stats['loss']:.4f} "
              f"acc {stats['accuracy']:.4f} | val loss {val['loss']:.4f} acc {val['accuracy']:.4f} "
              f"| {stats['seconds']:.1f} s")
        save_checkpoint(checkpoint, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                     "loader": loader.state_dict(), "rng": random.get_state(),
                                     "epoch": epoch + 1, "history": history, "train_seconds": train_seconds,
                                     "settings": settings})

    test_images, test_labels = splits["test"][:]
    result = evaluate(model, test_images, test_labels)
    quality = metrics.classification_metrics(test_labels, result["probabilities"], class_names=list(CLASSES))
    speed = metrics.inference_speed(lambda x: predict_logits(model, x, batch_size=len(x)), test_images,
                                    batch_size=256, warmup=1)
    plot_confusion_matrix(quality["confusion_matrix"], CLASSES, out / f"confusion_{name}.png",
                          title=f"{PAPER_NAMES[name]} on BloodMNIST test ({len(test_labels)} images)")
    return {"settings": settings, "history": history, "test": quality, "test_loss": result["loss"],
            "efficiency": {"training_seconds": train_seconds, "inference_ms_per_sample": speed["ms_per_sample"],
                           "throughput_samples_per_s": speed["samples_per_second"],
                           "parameters": metrics.count_parameters(model)}}


def table2(results):
    """The paper's Table 2 with one column per trained model."""
    names = list(results)
    rows = []

    def row(label, fn, fmt):
        rows.append([label] + [fmt.format(fn(results[n])) for n in names])

    def section(title):
        rows.append([f"**{title}**"] + [""] * len(names))

    section("Quality metrics")
    row("Accuracy", lambda r: r["test"]["accuracy"], "{:.4f}")
    row("Precision (weighted)", lambda r: r["test"]["precision_weighted"], "{:.4f}")
    row("Recall (weighted)", lambda r: r["test"]["recall_weighted"], "{:.4f}")
    row("F1-Score (weighted)", lambda r: r["test"]["f1_weighted"], "{:.4f}")
    row("MCC", lambda r: r["test"]["mcc"], "{:.4f}")
    section("Efficacy metrics")
    row("Sensitivity (avg)", lambda r: r["test"]["sensitivity_mean"], "{:.4f}")
    row("Specificity (avg)", lambda r: r["test"]["specificity_mean"], "{:.4f}")
    row("Balanced Accuracy (eq. 9)", lambda r: r["test"]["balanced_accuracy"], "{:.4f}")
    section("Efficiency metrics")
    row("Training Time (s)", lambda r: r["efficiency"]["training_seconds"], "{:.1f}")
    row("Inference Time (ms/sample)", lambda r: r["efficiency"]["inference_ms_per_sample"], "{:.4f}")
    row("Throughput (samples/s)", lambda r: r["efficiency"]["throughput_samples_per_s"], "{:,.0f}")
    row("Parameters (M)", lambda r: r["efficiency"]["parameters"] / 1e6, "{:.3f}")
    section("Also measured")
    row("ROC AUC (one-vs-rest, macro)", lambda r: r["test"]["roc_auc_ovr"], "{:.4f}")
    row("Log loss", lambda r: r["test"]["log_loss"], "{:.4f}")
    return markdown_table(["Metric"] + [PAPER_NAMES[n] for n in names], rows)


def per_class_table(result):
    rows = [[c["name"], f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{spec:.3f}", f"{c['f1']:.3f}",
             c["support"]] for c, spec in zip(result["test"]["per_class"], result["test"]["specificity_per_class"])]
    return markdown_table(["class", "precision", "recall (sensitivity)", "specificity", "F1", "support"], rows)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = {s: BloodMNIST(s, path=args.data) for s in ("train", "val", "test")}
    if args.limit:
        splits["train"] = splits["train"].subset(min(args.limit, len(splits["train"])), seed=args.seed)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    results = {name: train_model(name, splits, args, out) for name in args.models}

    plot_curves({PAPER_NAMES[n]: r["history"] for n, r in results.items()}, out / "curves.png",
                title="Pinto & Silva on BloodMNIST (minigrad)")
    save_json(out / "report.json", {"paper": "Pinto & Silva, Blood Cell Classification Using Deep Learning: "
                                    "MLNN and CNN Architectures", "started": started, "seed": args.seed,
                                    "train_images": len(splits["train"]), "models": results})
    lines = ["# Pinto & Silva on BloodMNIST, reproduced with minigrad", "",
             f"Run started {started}; seed {args.seed}; {len(splits['train'])} training images, "
             f"{len(splits['test'])} test images (official split).", "",
             "## Table 2. Model performance comparison (test set)", "", table2(results), "",
             "Settings (Table 1): " + "; ".join(f"{PAPER_NAMES[n]}: Adam lr {r['settings']['lr']}, batch "
                                               f"{r['settings']['batch_size']}, {r['settings']['epochs']} epochs, "
                                               "He init" for n, r in results.items()), "",
             "![training curves](curves.png)", ""]
    for name, r in results.items():
        lines += [f"## {PAPER_NAMES[name]}: per class", "", per_class_table(r), "",
                  f"![confusion matrix](confusion_{name}.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    for name, r in results.items():
        print(f"{PAPER_NAMES[name]}: test accuracy {r['test']['accuracy']:.4f}, "
              f"ROC AUC {r['test']['roc_auc_ovr']:.4f}, F1 {r['test']['f1_weighted']:.4f}")
    print(f"report written to {out / 'report.md'}")


if __name__ == "__main__":
    main()
