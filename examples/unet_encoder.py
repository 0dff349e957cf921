"""Reproduce "Medical Blood Cell Image Classification using U-Net Encoder Based Deep Learning Model" on
BloodMNIST: the U-Net encoder classifier, its two baselines (Table 3) and its three ablations (Tables 4-6).

    python examples/unet_encoder.py --out results/unet_encoder                    # everything, the paper's epochs
    python examples/unet_encoder.py --models unet_encoder --epochs 30             # the main model only
    python examples/unet_encoder.py --limit 1000 --epochs 2 --out /tmp/unet       # a quick look

The recipe (models/unet.py): Adam lr 1e-3, weight decay 1e-4, cross-entropy with label smoothing 0.1,
ReduceLROnPlateau halving the lr, best checkpoint by validation accuracy restored at the end, flips,
90-degree turns, small shifts and rotations of the training batches, per-channel normalisation, batch 32;
60 epochs for the U-Net models, 40 for the baselines (--epochs sets one number for all). BloodMNIST's
official split stands in for the paper's stratified 80/20 split. Writes into --out: report.json,
report.md (Tables 3-6 with test accuracy and AUC beside the paper's validation accuracy),
val_accuracy_*.png (the paper's Figures 2 and 4-6), confusion_<model>.png and checkpoints (--resume).
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

import minigrad  # noqa: E402,F401  (before NumPy: see minigrad/threads.py)
from minigrad.report import markdown_table, plot_curves, save_json  # noqa: E402
from models.experiment import (example_parser, load_splits, parse_example_args, run_options,  # noqa: E402
                               train_and_evaluate)
from models.console import run  # noqa: E402

PAPER = "Medical Blood Cell Image Classification using U-Net Encoder Based Deep Learning Model"
NAMES = {"unet_encoder": "U-Net encoder (main)", "simple_cnn": "Baseline 1: Simple CNN",
         "deep_cnn": "Baseline 2: Deep CNN", "unet_no_bn": "without batch norm",
         "unet_shallow": "shallow encoder", "unet_no_dropout": "without dropout"}
# The paper's figures (validation accuracy on its own 640-image validation set) to show beside ours.
PAPER_VAL = {"unet_encoder": 0.9875, "simple_cnn": 0.7125, "deep_cnn": 0.9000, "unet_no_bn": 0.1250,
             "unet_shallow": 0.9406, "unet_no_dropout": 0.9828}
ABLATIONS = (("Table 4. Batch normalization ablation", "unet_no_bn", "val_accuracy_batch_norm.png"),
             ("Table 5. Shallow encoder ablation", "unet_shallow", "val_accuracy_shallow.png"),
             ("Table 6. Dropout ablation", "unet_no_dropout", "val_accuracy_dropout.png"))


def parse_args(argv=None):
    p = example_parser(__doc__.split("\n")[0], out="results/unet_encoder")
    p.add_argument("--models", nargs="+", default=list(NAMES), choices=list(NAMES))
    return parse_example_args(p, argv)


def best(history, key="val_accuracy"):
    return max(h[key] for h in history)


def summary_row(name, r):
    test = r["test"]
    return [NAMES[name], f"{best(r['history']):.4f}", f"{best(r['history'], 'train_accuracy'):.4f}",
            f"{test['accuracy']:.4f}", f"{test['roc_auc_ovr']:.4f}", f"{test['f1_weighted']:.4f}",
            f"{PAPER_VAL[name]:.4f}", len(r["history"]), f"{r['efficiency']['training_seconds'] / 60:.1f}"]


HEADER = ["model", "best val acc", "best train acc", "test acc", "test AUC", "test F1 (weighted)",
          "paper: best val acc", "epochs", "training min"]


def ablation_table(results, name):
    """Main model against one ablation. Where the two trained for different numbers of epochs, validation
    accuracy is also compared over the epochs both ran (the first k), so the difference is the ablation's."""
    main, ablated = results["unet_encoder"], results[name]
    k = min(len(main["history"]), len(ablated["history"]))
    rows = []
    for label, r in (("main model", main), (NAMES[name], ablated)):
        rows.append([label, len(r["history"]), f"{best(r['history']):.4f}", f"{best(r['history'][:k]):.4f}",
                     f"{best(r['history'][:k]) - best(main['history'][:k]):+.4f}",
                     f"{r['test']['accuracy']:.4f}", f"{r['test']['accuracy'] - main['test']['accuracy']:+.4f}"])
    return markdown_table(["configuration", "epochs", "best val acc", f"best val acc, epochs 1-{k}",
                           f"Δ val from main (epochs 1-{k})", "test acc", "Δ test from main"], rows)


def plot_val_curves(results, names, path, title):
    """The paper's figures: validation accuracy per epoch (our plot_curves draws loss and accuracy)."""
    plot_curves({NAMES[n]: results[n]["history"] for n in names if n in results}, path, title=title)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_splits(args.data, args.limit, args.seed)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    results = {}
    for name in args.models:
        results[name] = train_and_evaluate(name, splits, out, **run_options(args), epochs=args.epochs, lr=args.lr,
                                           batch_size=args.batch_size)
        save_json(out / "report.json", {"paper": PAPER, "started": started, "seed": args.seed,
                                        "train_images": len(splits["train"]), "models": results})

    lines = ["# The U-Net encoder paper on BloodMNIST, reproduced with minigrad", "",
             f"Run started {started}; seed {args.seed}; {len(splits['train'])} training, {len(splits['val'])} "
             f"validation and {len(splits['test'])} test images (BloodMNIST's official split, 28x28).", "",
             "## Table 3. Main model and baselines", "",
             markdown_table(HEADER, [summary_row(n, results[n]) for n in ("unet_encoder", "simple_cnn", "deep_cnn")
                                     if n in results]), ""]
    plot_val_curves(results, ("unet_encoder", "simple_cnn", "deep_cnn"), out / "val_accuracy_baselines.png",
                    "Figure 2: the main model and the baselines")
    lines += ["![main model and baselines](val_accuracy_baselines.png)", ""]
    for title, name, png in ABLATIONS:
        if name in results and "unet_encoder" in results:
            plot_val_curves(results, ("unet_encoder", name), out / png, f"{title.split('. ')[1]}: validation")
            lines += [f"## {title}", "", ablation_table(results, name), "", f"![{name}]({png})", ""]
    lines += ["## Every model", "", markdown_table(HEADER, [summary_row(n, r) for n, r in results.items()]), "",
              "The paper's column is its validation accuracy on its own data set (1000 images at 256x256); ours "
              "is on BloodMNIST at 28x28, so the two columns describe different data.", ""]
    lines += [f"![confusion matrix of {NAMES[n]}](confusion_{n}.png)" for n in results]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    for name, r in results.items():
        print(f"{NAMES[name]}: test accuracy {r['test']['accuracy']:.4f}, ROC AUC {r['test']['roc_auc_ovr']:.4f}")
    print(f"report written to {out / 'report.md'}")


if __name__ == "__main__":
    sys.exit(run(main))
