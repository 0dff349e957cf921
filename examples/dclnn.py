"""Reproduce the DCLNN paper ("Blood cell classification with a double convolution layer neural network") on
BloodMNIST: the DCLNN against Naive Bayes and an SVM, on the 4-class and the 2-class white-cell tasks, and
max against average pooling.

    python examples/dclnn.py --out results/dclnn                       # ~25 epochs per network, as the paper
    python examples/dclnn.py --limit 1500 --epochs 2 --out /tmp/dclnn

Tasks (minigrad.data.TASKS): "wbc4" = eosinophil, lymphocyte, monocyte, neutrophil; "mono_poly" =
mononuclear (lymphocyte, monocyte) vs polynuclear (eosinophil, neutrophil). The baselines see the raw
pixels (2352 values per image) as the paper's do: scikit-learn's GaussianNB and SVC (RBF kernel, C = 1).
Writes into --out: report.json, report.md (the paper's Tables 1 and 2: per-class precision, recall and F1
with their average), averages.png (its Figures 4-6 in one), curves.png, confusion_<run>.png and a
checkpoint per network (--resume continues).
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

import minigrad  # noqa: E402,F401  (before NumPy: see minigrad/threads.py)
import numpy as np  # noqa: E402
from minigrad import metrics  # noqa: E402
from minigrad.report import markdown_table, plot_curves, save_json  # noqa: E402
from models.experiment import (example_parser, load_splits, parse_example_args, run_options,  # noqa: E402
                               train_and_evaluate)
from models.console import run  # noqa: E402

PAPER = "Blood cell classification with a double convolution layer neural network (DCLNN)"
TASK_TITLES = {"wbc4": "four classes", "mono_poly": "two classes"}


def parse_args(argv=None):
    p = example_parser(__doc__.split("\n")[0], out="results/dclnn")
    p.add_argument("--tasks", nargs="+", default=["wbc4", "mono_poly"], choices=sorted(TASK_TITLES))
    return parse_example_args(p, argv)


def per_class_scores(y_true, y_pred, class_names):
    """The paper's table rows: precision, recall and F1 of each class, and their (unweighted) average."""
    p, r, f = metrics.precision_recall_f1(y_true, y_pred, average=None, num_classes=len(class_names))
    rows = {name: {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k])}
            for k, name in enumerate(class_names)}
    rows["Average"] = {"precision": float(p.mean()), "recall": float(r.mean()), "f1": float(f.mean())}
    return rows


def run_baselines(splits, log=print):
    """Naive Bayes and an SVM on the raw pixels; returns {name: {"scores", "accuracy", "seconds"}}."""
    from sklearn.naive_bayes import GaussianNB
    from sklearn.svm import SVC
    (x_train, y_train), (x_test, y_test) = splits["train"][:], splits["test"][:]
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    results = {}
    for name, classifier in (("NB", GaussianNB()), ("SVM", SVC(kernel="rbf", C=1.0))):
        start = time.perf_counter()
        y_pred = classifier.fit(x_train, y_train).predict(x_test)
        seconds = time.perf_counter() - start
        results[name] = {"scores": per_class_scores(y_test, y_pred, splits["test"].classes),
                         "accuracy": metrics.accuracy(y_test, y_pred), "seconds": seconds}
        log(f"{name}: test accuracy {results[name]['accuracy']:.4f} ({seconds:.1f} s)")
    return results


def network_scores(result):
    """The same rows from a network's test metrics."""
    test = result["test"]
    rows = {c["name"]: {k: c[k] for k in ("precision", "recall", "f1")} for c in test["per_class"]}
    rows["Average"] = {k: test[f"{k}_macro"] for k in ("precision", "recall", "f1")}
    return rows


def score_table(methods, classes):
    """Rows 'method | class | precision | recall | F1', the layout of the paper's Tables 1 and 2."""
    rows = []
    for method, scores in methods.items():
        for k, name in enumerate(list(classes) + ["Average"]):
            s = scores[name]
            label = f"**{name}**" if name == "Average" else name
            rows.append([method if k == 0 else "", label, f"{s['precision']:.2f}", f"{s['recall']:.2f}",
                         f"{s['f1']:.2f}"])
    return markdown_table(["Method", "Class", "Precision", "Recall", "F1 score"], rows)


def plot_averages(results, path):
    """The paper's Figures 4-6 in one: average precision, recall and F1 per method, per task."""
    from minigrad.report import _pyplot
    plt = _pyplot()
    methods = ["NB", "SVM", "DCLNN (max pooling)", "DCLNN (average pooling)"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    width = 0.8 / max(len(results), 1)
    for ax, metric in zip(axes, ("precision", "recall", "f1")):
        for t, (task, r) in enumerate(results.items()):
            values = [r["scores"][m]["Average"][metric] for m in methods]
            ax.bar(np.arange(len(methods)) + t * width, values, width, label=TASK_TITLES[task])
        ax.set_xticks(np.arange(len(methods)) + width * (len(results) - 1) / 2,
                      ["NB", "SVM", "DCLNN\nmax", "DCLNN\navg"])
        ax.set(title=f"average {metric}", ylim=(0, 1))
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    results = {}
    for task in args.tasks:
        splits = load_splits(args.data, args.limit, args.seed, task=task)
        baselines = run_baselines(splits, log=lambda text: print(f"{task} {text}"))
        networks = {pool: train_and_evaluate(name, splits, out, **run_options(args), tag=f"{name}_{task}", task=task,
                                             epochs=args.epochs, lr=args.lr, batch_size=args.batch_size)
                    for pool, name in (("max", "dclnn"), ("average", "dclnn_avg"))}
        scores = {"NB": baselines["NB"]["scores"], "SVM": baselines["SVM"]["scores"],
                  "DCLNN (max pooling)": network_scores(networks["max"]),
                  "DCLNN (average pooling)": network_scores(networks["average"])}
        accuracy = {"NB": baselines["NB"]["accuracy"], "SVM": baselines["SVM"]["accuracy"],
                    "DCLNN (max pooling)": networks["max"]["test"]["accuracy"],
                    "DCLNN (average pooling)": networks["average"]["test"]["accuracy"]}
        results[task] = {"classes": list(splits["test"].classes), "train_images": len(splits["train"]),
                         "test_images": len(splits["test"]), "baselines": baselines, "networks": networks,
                         "scores": scores, "accuracy": accuracy}

    plot_averages(results, out / "averages.png")
    plot_curves({f"{pool} pooling, {TASK_TITLES[task]}": r["networks"][pool]["history"]
                 for task, r in results.items() for pool in ("max", "average")}, out / "curves.png",
                title="DCLNN on BloodMNIST white-cell tasks (minigrad)")
    save_json(out / "report.json", {"paper": PAPER, "started": started, "seed": args.seed, "tasks": results})

    lines = ["# The DCLNN paper on BloodMNIST, reproduced with minigrad", "",
             f"Run started {started}; seed {args.seed}. Networks: Adam lr 1e-3, batch 128, "
             f"{next(iter(results.values()))['networks']['max']['settings']['epochs']} epochs; baselines on raw "
             "pixels (GaussianNB, SVC with RBF kernel).", ""]
    for task, r in results.items():
        lines += [f"## Table 1 ({TASK_TITLES[task]}): DCLNN vs Naive Bayes vs SVM", "",
                  f"{r['train_images']} training and {r['test_images']} test images; "
                  f"classes {', '.join(r['classes'])}.",
                  "", score_table({m: r["scores"][m] for m in ("NB", "SVM", "DCLNN (max pooling)")}, r["classes"]),
                  "", "Test accuracy: " + ", ".join(f"{m} {a:.4f}" for m, a in r["accuracy"].items()) + ".", ""]
    for task, r in results.items():
        lines += [f"## Table 2 ({TASK_TITLES[task]}): max pooling vs average pooling", "",
                  score_table({m: r["scores"][m] for m in ("DCLNN (average pooling)", "DCLNN (max pooling)")},
                              r["classes"]), ""]
    lines += ["![average precision, recall and F1](averages.png)", "", "![training curves](curves.png)", ""]
    lines += [f"![confusion matrix](confusion_{name}_{task}.png)"
              for task in results for name in ("dclnn", "dclnn_avg")]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    for task, r in results.items():
        print(f"{TASK_TITLES[task]}: " + ", ".join(f"{m} {a:.4f}" for m, a in r["accuracy"].items()))
    print(f"report written to {out / 'report.md'}")


if __name__ == "__main__":
    sys.exit(run(main))
