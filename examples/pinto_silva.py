"""Reproduce Pinto & Silva's experiment on BloodMNIST: train the CNN and the MLNN, evaluate both on the test
split, and fill in the paper's Table 2.

    python examples/pinto_silva.py --out results/pinto_silva                  # the paper's settings (Table 1)
    python examples/pinto_silva.py --limit 2000 --epochs 2 --out /tmp/quick     # a quick look
    python examples/pinto_silva.py --models mlnn --out results/pinto_silva --resume

Writes into --out: report.json (every figure), report.md (Table 2 with a column per model, then per-class
tables), curves.png (loss and accuracy per epoch of both models), confusion_<model>.png, and
checkpoint_<model>.npz after every epoch, from which --resume continues.
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

PAPER = "Pinto & Silva, Blood Cell Classification Using Deep Learning: MLNN and CNN Architectures"
PAPER_NAMES = {"cnn": "CNN", "mlnn": "MLNN (DNN)"}


def parse_args(argv=None):
    p = example_parser(__doc__.split("\n")[0], out="results/pinto_silva")
    p.add_argument("--models", nargs="+", default=["cnn", "mlnn"], choices=sorted(PAPER_NAMES))
    return parse_example_args(p, argv)


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


def write_report(out, results, args, splits, started):
    plot_curves({PAPER_NAMES[n]: r["history"] for n, r in results.items()}, out / "curves.png",
                title="Pinto & Silva on BloodMNIST (minigrad)")
    save_json(out / "report.json", {"paper": PAPER, "started": started, "seed": args.seed,
                                    "train_images": len(splits["train"]), "models": results})
    settings = "; ".join(f"{PAPER_NAMES[n]}: Adam lr {r['settings']['lr']}, batch {r['settings']['batch_size']}, "
                         f"{r['settings']['epochs']} epochs, He init" for n, r in results.items())
    lines = ["# Pinto & Silva on BloodMNIST, reproduced with minigrad", "",
             f"Run started {started}; seed {args.seed}; {len(splits['train'])} training images, "
             f"{len(splits['test'])} test images (official split).", "",
             "## Table 2. Model performance comparison (test set)", "", table2(results), "",
             f"Settings (Table 1): {settings}.", "", "![training curves](curves.png)", ""]
    for name, r in results.items():
        lines += [f"## {PAPER_NAMES[name]}: per class", "", per_class_table(r), "",
                  f"![confusion matrix](confusion_{name}.png)", ""]
    (out / "report.md").write_text("\n".join(lines))


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_splits(args.data, args.limit, args.seed)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    results = {name: train_and_evaluate(name, splits, out, **run_options(args), epochs=args.epochs, lr=args.lr,
                                        batch_size=args.batch_size)
               for name in args.models}
    write_report(out, results, args, splits, started)
    for name, r in results.items():
        print(f"{PAPER_NAMES[name]}: test accuracy {r['test']['accuracy']:.4f}, "
              f"ROC AUC {r['test']['roc_auc_ovr']:.4f}, F1 {r['test']['f1_weighted']:.4f}")
    print(f"report written to {out / 'report.md'}")


if __name__ == "__main__":
    sys.exit(run(main))
