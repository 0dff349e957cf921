"""Reproduce Jane, Sudha & Soundarraaj's CNN-LSTM and CNN-GRU on BloodMNIST's four white-cell classes, with
stratified 10-fold cross-validation (their Tables II and III), then a test-split evaluation of each model.

    python examples/jane.py --out results/jane                          # 10 folds, lr 0.01 and 0.001
    python examples/jane.py --folds 3 --epochs 2 --limit 1500 --out /tmp/jane

Task: eosinophil, lymphocyte, monocyte, neutrophil (minigrad.data.TASKS["wbc4"]). Cross-validation runs on
the official train and validation splits together: each fold trains on nine tenths with the recipe (Adam,
sparse categorical cross-entropy, batch 32, dropout 0.3, L2 as weight decay 1e-4) and is scored on the
remaining tenth after the last epoch, and after every epoch for Table III. The paper's learning rate is
0.01; --lrs adds lower ones to report beside it, and --cv-epochs shortens the folds' training. Then each
model is trained on the train split at the rate whose folds scored best, the epoch with the lowest
validation loss kept (as the paper does), and evaluated on the test split. The paper's CNN
branch starts from ImageNet weights; here both branches start from scratch (models/jane.py).
Writes into --out: report.json, report.md, cv_curves.png, confusion_<run>.png and checkpoints (--resume).
"""

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

import minigrad  # noqa: E402,F401  (before NumPy: see minigrad/threads.py)
import numpy as np  # noqa: E402
from minigrad.data import BloodMNIST, stratified_kfold  # noqa: E402
from minigrad.report import _pyplot, markdown_table, save_json  # noqa: E402
from models.experiment import (example_parser, load_splits, parse_example_args, run_options,  # noqa: E402
                               train_and_evaluate)
from models.console import run  # noqa: E402

PAPER = "Jane, Sudha & Soundarraaj, Deep learning approach to identify abnormalities in blood cell images (2022)"
MODELS = {"cnn_lstm": "CNN-LSTM", "cnn_gru": "CNN-GRU"}
PAPER_TABLE2 = {"cnn_lstm": {"precision": 0.92, "recall": 0.90, "f1": 0.91, "accuracy": 0.921},
                "cnn_gru": {"precision": 0.89, "recall": 0.90, "f1": 0.90, "accuracy": 0.904}}
FOLD_METRICS = (("accuracy", "accuracy"), ("precision", "precision_weighted"), ("recall", "recall_weighted"),
                ("f1", "f1_weighted"), ("log_loss", "log_loss"))


def parse_args(argv=None):
    p = example_parser(__doc__.split("\n")[0], out="results/jane")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--lrs", type=float, nargs="+", default=[0.01, 0.001], help="learning rates to cross-validate")
    p.add_argument("--cv-epochs", type=int, help="epochs per fold (default: as --epochs, or the paper's)")
    args = parse_example_args(p, argv)
    if args.folds < 2 or not all(0 < lr < math.inf for lr in args.lrs):
        p.error(f"--folds must be at least 2 and --lrs finite and positive, got {args.folds} and {args.lrs}")
    if args.cv_epochs is not None and args.cv_epochs < 1:
        p.error(f"--cv-epochs must be at least 1, got {args.cv_epochs}")
    return args


def cross_validate(name, lr, data, args, out):
    """Train and score ``name`` on every fold; returns the per-fold scores and the per-epoch curves."""
    folds, curves = [], []
    for k, (train_idx, val_idx) in enumerate(stratified_kfold(data.labels, args.folds, seed=args.seed)):
        held_out = data.select(val_idx, split=f"fold {k + 1}")
        splits = {"train": data.select(train_idx, split="train"), "val": held_out, "test": held_out}
        r = train_and_evaluate(name, splits, out / "cv", **{**run_options(args), "seed": args.seed + k},
                               tag=f"{name}_lr{lr:g}_fold{k + 1}", task="wbc4",
                               epochs=args.cv_epochs or args.epochs, lr=lr, batch_size=args.batch_size)
        folds.append({key: r["test"][source] for key, source in FOLD_METRICS})
        curves.append([(h["val_accuracy"], h["val_loss"]) for h in r["history"]])
        print(f"{name} lr {lr:g} fold {k + 1}/{args.folds}: accuracy {folds[-1]['accuracy']:.4f}", flush=True)
    summary = {key: {"mean": float(np.mean([f[key] for f in folds])), "std": float(np.std([f[key] for f in folds]))}
               for key, _ in FOLD_METRICS}
    per_epoch = np.mean(np.array(curves), axis=0)                    # (epochs, 2): accuracy, log loss
    return {"folds": folds, "summary": summary, "per_epoch_accuracy": per_epoch[:, 0].tolist(),
            "per_epoch_log_loss": per_epoch[:, 1].tolist()}


def table2(cv, lrs):
    rows = []
    for key, label in (("precision", "Precision (weighted)"), ("recall", "Recall (weighted)"),
                       ("f1", "F-Measure (weighted)"), ("accuracy", "Accuracy"), ("log_loss", "Log loss")):
        row = [label]
        for name in cv:
            for lr in lrs:
                s = cv[name][str(lr)]["summary"][key]
                row.append(f"{s['mean']:.4f} ± {s['std']:.4f}")
            row.append(f"{PAPER_TABLE2[name][key]:.3f}" if key in PAPER_TABLE2[name] else "—")
        rows.append(row)
    header = ["Metric"] + [f"{MODELS[n]} {label}" for n in cv for label in [f"lr {lr:g}" for lr in lrs] + ["(paper)"]]
    return markdown_table(header, rows)


def table3(cv, lrs):
    """Held-out accuracy and log loss after each epoch, mean over folds, for every model and rate."""
    runs = [(n, lr) for n in cv for lr in lrs]
    epochs = len(cv[runs[0][0]][str(lrs[0])]["per_epoch_accuracy"])
    rows = [[e + 1] + [f"{cv[n][str(lr)]['per_epoch_accuracy'][e]:.4f}" for n, lr in runs]
            + [f"{cv[n][str(lr)]['per_epoch_log_loss'][e]:.4f}" for n, lr in runs] for e in range(epochs)]
    return markdown_table(["Epoch"] + [f"Accuracy {MODELS[n]} lr {lr:g}" for n, lr in runs]
                          + [f"Log loss {MODELS[n]} lr {lr:g}" for n, lr in runs], rows)


def plot_cv(cv, lrs, path):
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    for name in cv:
        for lr in lrs:
            r = cv[name][str(lr)]
            epochs = np.arange(1, len(r["per_epoch_accuracy"]) + 1)
            ax_acc.plot(epochs, r["per_epoch_accuracy"], label=f"{MODELS[name]}, lr {lr:g}")
            ax_loss.plot(epochs, r["per_epoch_log_loss"], label=f"{MODELS[name]}, lr {lr:g}")
    ax_acc.set(xlabel="epoch", ylabel="held-out accuracy (mean of folds)", title="Figure 1: accuracy")
    ax_loss.set(xlabel="epoch", ylabel="held-out log loss (mean of folds)", title="Figure 2: log loss")
    for ax in (ax_acc, ax_loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    splits = load_splits(args.data, args.limit, args.seed, task="wbc4")
    pooled = BloodMNIST.concatenate([splits["train"], splits["val"]], split="train+val")
    cv = {name: {str(lr): cross_validate(name, lr, pooled, args, out) for lr in args.lrs} for name in args.models}
    # The test-split model of each architecture trains at the rate with the best cross-validated accuracy:
    # chosen on the folds, never on the test split.
    chosen = {name: max(args.lrs, key=lambda lr: cv[name][str(lr)]["summary"]["accuracy"]["mean"]) for name in cv}
    test = {name: train_and_evaluate(name, splits, out, **run_options(args), task="wbc4", epochs=args.epochs,
                                     lr=chosen[name], batch_size=args.batch_size, best_checkpoint="val_loss")
            for name in args.models}
    plot_cv(cv, args.lrs, out / "cv_curves.png")
    save_json(out / "report.json", {"paper": PAPER, "started": started, "seed": args.seed, "folds": args.folds,
                                    "pooled_images": len(pooled), "cv_epochs": args.cv_epochs, "cross_validation": cv,
                                    "test_split_lr": chosen, "test_split": test})
    test_rows = [[MODELS[n], f"{r['test']['accuracy']:.4f}", f"{r['test']['precision_weighted']:.4f}",
                  f"{r['test']['recall_weighted']:.4f}", f"{r['test']['f1_weighted']:.4f}",
                  f"{r['test']['log_loss']:.4f}",
                  f"{r['test']['roc_auc_ovr']:.4f}", f"{chosen[n]:g}", f"{r['settings']['epochs']}",
                  f"{cv[n][str(chosen[n])]['summary']['accuracy']['mean']:.4f}",
                  f"{PAPER_TABLE2[n]['accuracy']:.3f}"] for n, r in test.items()]
    cv_epochs = len(next(iter(cv.values()))[str(args.lrs[0])]["per_epoch_accuracy"])
    lines = ["# Jane et al.'s CNN-LSTM and CNN-GRU on BloodMNIST, reproduced with minigrad", "",
             f"Run started {started}; seed {args.seed}. Four white-cell classes; {args.folds}-fold stratified "
             f"cross-validation on the {len(pooled)} images of the official train and validation splits, "
             f"{cv_epochs} epochs per fold; test split: {len(splits['test'])} images. Both branches train from "
             f"scratch (no ImageNet weights); the paper trains 500 epochs (its Table III).", "",
             "## Table II. Performance of the models (cross-validation, mean ± std over folds)", "",
             table2(cv, args.lrs), "",
             "## Table III. Accuracy and log loss per epoch (held-out folds, mean)", "",
             table3(cv, args.lrs), "", "![cross-validation curves](cv_curves.png)", "",
             "## The test split", "",
             "Each model trained on the train split at the learning rate with the best cross-validated accuracy, "
             "the epoch with the lowest validation loss kept.", "",
             markdown_table(["model", "accuracy", "precision", "recall", "F-measure", "log loss", "ROC AUC", "lr",
                             "epochs", f"{args.folds}-fold mean accuracy (same lr)", "paper accuracy"], test_rows), ""]
    lines += [f"![confusion matrix of {MODELS[n]}](confusion_{n}.png)" for n in test]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    for name, r in test.items():
        cv_accuracy = cv[name][str(chosen[name])]["summary"]["accuracy"]["mean"]
        print(f"{MODELS[name]}: test accuracy {r['test']['accuracy']:.4f} (paper "
              f"{PAPER_TABLE2[name]['accuracy']:.3f}); {args.folds}-fold accuracy {cv_accuracy:.4f} "
              f"(lr {chosen[name]:g})")
    print(f"report written to {out / 'report.md'}")


if __name__ == "__main__":
    sys.exit(run(main))
