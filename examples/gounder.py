"""Reproduce Gounder's "CNN Classification of Blood Cell Types" on BloodMNIST with minigrad.

    python examples/gounder.py --out results/gounder                 # the report's recipe: 15 epochs, early stopping
    python examples/gounder.py --limit 2000 --epochs 2 --out /tmp/gounder

The model and the choices the report leaves open are described in models/gounder.py. Training: Adam
(Keras defaults), cross-entropy, batch 32, up to 15 epochs, early stopping on the validation loss with
the best weights restored. Writes into --out: report.json, report.md (test accuracy, precision, recall,
F1, the classification report and the report's own figures beside ours), curves.png, confusion_gounder_cnn.png,
and checkpoint_gounder_cnn.npz after every epoch (--resume continues from it).
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

PAPER = "Gounder, CNN Classification of Blood Cell Types (DS 224 report, 2025)"
REPORTED = {"val_accuracy": 0.9229, "test_accuracy": 0.9161, "precision": 0.9221}


def parse_args(argv=None):
    return parse_example_args(example_parser(__doc__.split("\n")[0], out="results/gounder"), argv)


def classification_report(test):
    """scikit-learn's classification_report as a Markdown table: per class, then the macro and weighted averages."""
    rows = [[c["name"], f"{c['precision']:.4f}", f"{c['recall']:.4f}", f"{c['f1']:.4f}", c["support"]]
            for c in test["per_class"]]
    total = sum(c["support"] for c in test["per_class"])
    rows.append(["accuracy", "", "", f"{test['accuracy']:.4f}", total])
    for average in ("macro", "weighted"):
        rows.append([f"{average} avg", f"{test[f'precision_{average}']:.4f}", f"{test[f'recall_{average}']:.4f}",
                     f"{test[f'f1_{average}']:.4f}", total])
    return markdown_table(["", "precision", "recall", "f1-score", "support"], rows)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_splits(args.data, args.limit, args.seed)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    r = train_and_evaluate("gounder_cnn", splits, out, **run_options(args), epochs=args.epochs, lr=args.lr,
                           batch_size=args.batch_size)
    plot_curves({"Gounder CNN": r["history"]}, out / "curves.png", title="Gounder's CNN on BloodMNIST (minigrad)")
    save_json(out / "report.json", {"paper": PAPER, "started": started, "seed": args.seed,
                                    "train_images": len(splits["train"]), "reported": REPORTED, "result": r})

    test, history = r["test"], r["history"]
    best = min(history, key=lambda h: h["val_loss"])
    ours = [["test accuracy", f"{test['accuracy']:.4f}", f"{REPORTED['test_accuracy']:.4f}"],
            ["test precision (weighted)", f"{test['precision_weighted']:.4f}", f"{REPORTED['precision']:.4f}"],
            ["test recall (weighted)", f"{test['recall_weighted']:.4f}", "—"],
            ["test F1 (weighted)", f"{test['f1_weighted']:.4f}", "—"],
            ["validation accuracy of the kept epoch", f"{best['val_accuracy']:.4f}", f"{REPORTED['val_accuracy']:.4f}"],
            ["kept epoch (lowest validation loss)", f"{best['epoch']} of {len(history)}", "13 of 15"],
            ["test ROC AUC (one-vs-rest, macro)", f"{test['roc_auc_ovr']:.4f}", "—"]]
    lines = ["# Gounder's CNN on BloodMNIST, reproduced with minigrad", "",
             f"Run started {started}; seed {args.seed}; {len(splits['train'])} training images, "
             f"{len(splits['test'])} test images (official split). Settings: {r['settings']}.", "",
             "## Results", "", markdown_table(["", "minigrad", "the report"], ours), "",
             "## Classification report (test split)", "", classification_report(test), "",
             "![training curves](curves.png)", "", "![confusion matrix](confusion_gounder_cnn.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    print(f"Gounder CNN: test accuracy {test['accuracy']:.4f} (report: {REPORTED['test_accuracy']:.4f}), "
          f"weighted precision {test['precision_weighted']:.4f}; report written to {out / 'report.md'}")


if __name__ == "__main__":
    sys.exit(run(main))
