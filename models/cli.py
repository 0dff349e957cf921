"""The ``minigrad`` command: train, evaluate and list the papers' models.

    minigrad models                                         the registry, with parameter counts and papers
    minigrad train cnn --epochs 15 --out results/cnn        train a registered model with its paper's recipe
    minigrad train dclnn --task wbc4 --limit 2000 --epochs 3
    minigrad train cnn --out results/cnn --resume           continue an interrupted run
    minigrad train cnn --out results/cnn --resume --lr 1e-4 --change lr     ... at another learning rate
    minigrad evaluate results/cnn/checkpoint_cnn.npz --split val

``train`` writes into --out the checkpoint after every epoch, report.json, report.md, curves.png and
confusion_<model>.png. It holds a lock on --out meanwhile, and refuses to start where a run of the model
already is unless --resume (continue it, with its recorded settings; --change SETTING applies a new one)
or --overwrite (replace it) says what to do. ``evaluate`` rebuilds the model a checkpoint names, loads its
weights and writes the same metrics for the chosen split into evaluation_<checkpoint>_<split>.{json,md}
beside the checkpoint (or in --out). A run's best_<model>.npz (kept when the recipe restores the best epoch)
evaluates the same way.
"""

import argparse
import math
import sys
import time
from pathlib import Path

import minigrad  # noqa: F401  (before NumPy: see minigrad/threads.py)
from minigrad import metrics
from minigrad.checkpoint import fitting, load_checkpoint
from minigrad.data import TASKS, normalize
from minigrad.errors import CheckpointError
from minigrad.report import markdown_table, plot_curves, save_json
from minigrad.rundir import RunLock

from . import experiment, registry
from .console import run


def integer_at_least(lowest, what):
    """An argparse type: an integer of at least ``lowest``, or a usage error saying ``what`` was expected."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value
    return parse


positive_int = integer_at_least(1, "a positive integer")
non_negative_int = integer_at_least(0, "a non-negative integer")


def positive_float(text):
    """A finite number above zero (``inf`` and ``nan`` are refused: no rate can be either)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {value}")
    return value


def device_name(text):
    if text not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"expected 'cpu' or 'cuda', got {text!r}")
    return text


def build_parser():
    parser = argparse.ArgumentParser(prog="minigrad", description="Train, evaluate and list the papers' models.")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("models", help="list the registered models with their parameter counts")

    train = commands.add_parser("train", help="train a registered model with its paper's recipe")
    train.add_argument("model", choices=registry.list_models(), metavar="MODEL",
                       help=f"one of: {', '.join(registry.list_models())}")
    train.add_argument("--epochs", type=positive_int, help="override the recipe's epochs")
    train.add_argument("--batch-size", type=positive_int, help="override the recipe's batch size")
    train.add_argument("--lr", type=positive_float, help="override the recipe's learning rate")
    train.add_argument("--seed", type=non_negative_int, default=0)
    train.add_argument("--limit", type=positive_int, help="train on a stratified subset of this many images")
    train.add_argument("--task", choices=sorted(TASKS), help="train on a subset of the classes (default: all 8)")
    train.add_argument("--data", help="path to bloodmnist.npz (default: the MedMNIST cache)")
    train.add_argument("--out", help="folder for checkpoints and the report (default: results/MODEL)")
    experiment.add_run_options(train)
    train.add_argument("--device", type=device_name, default="cpu", help="cpu or cuda")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint on a split")
    evaluate.add_argument("checkpoint", type=Path)
    evaluate.add_argument("--split", choices=["train", "val", "test"], default="test")
    evaluate.add_argument("--data", help="path to bloodmnist.npz (default: the MedMNIST cache)")
    evaluate.add_argument("--out", type=Path, help="folder for the report (default: the checkpoint's folder)")
    evaluate.add_argument("--device", type=device_name, default="cpu")
    return parser


def list_models():
    rows = []
    for name in registry.list_models():
        info = registry.model_info(name)
        rows.append([name, f"{metrics.count_parameters(registry.create_model(name)):,}", info["summary"],
                     info["paper"]])
    print(markdown_table(["model", "parameters", "what", "paper"], rows))


def single_report(out, title, result, split, stem="report", confusion="confusion.png"):
    """<stem>.json and <stem>.md for one model: the metrics of ``split``, per class, and the pictures."""
    test, eff = result["test"], result["efficiency"]
    save_json(out / f"{stem}.json", result)
    rows = [["accuracy", f"{test['accuracy']:.4f}"], ["ROC AUC (one-vs-rest, macro)", f"{test['roc_auc_ovr']:.4f}"],
            ["precision (weighted)", f"{test['precision_weighted']:.4f}"],
            ["recall (weighted)", f"{test['recall_weighted']:.4f}"], ["F1 (weighted)", f"{test['f1_weighted']:.4f}"],
            ["MCC", f"{test['mcc']:.4f}"], ["balanced accuracy (eq. 9)", f"{test['balanced_accuracy']:.4f}"],
            ["log loss", f"{test['log_loss']:.4f}"], ["parameters", f"{eff['parameters']:,}"],
            ["inference ms / image", f"{eff['inference_ms_per_sample']:.3f}"]]
    if "training_seconds" in eff:
        rows.append(["training time (s)", f"{eff['training_seconds']:.1f}"])
    per_class = [[c["name"], f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", c["support"]]
                 for c in test["per_class"]]
    lines = [f"# {title}", "", f"Metrics on the {split} split.", "", markdown_table(["metric", "value"], rows), "",
             markdown_table(["class", "precision", "recall", "F1", "support"], per_class), ""]
    if result.get("history"):
        lines += ["![training curves](curves.png)", ""]
    lines += [f"![confusion matrix]({confusion})", ""]
    (out / f"{stem}.md").write_text("\n".join(lines))


def train(args):
    """``minigrad train``: train, evaluate and write the report, holding the lock on --out throughout."""
    out = Path(args.out or f"results/{args.model}")
    with RunLock(out):
        splits = experiment.load_splits(args.data, args.limit, args.seed, task=args.task)
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        result = experiment.train_and_evaluate(args.model, splits, out, **experiment.run_options(args),
                                               task=args.task, epochs=args.epochs, lr=args.lr,
                                               batch_size=args.batch_size)
        result["started"] = started
        plot_curves({args.model: result["history"]}, out / "curves.png",
                    title=f"{args.model} on BloodMNIST (minigrad)")
        single_report(out, f"{args.model} on BloodMNIST ({registry.model_info(args.model)['paper']})", result,
                      "test", confusion=f"confusion_{args.model}.png")
    print(f"{args.model}: test accuracy {result['test']['accuracy']:.4f}, ROC AUC {result['test']['roc_auc_ovr']:.4f}; "
          f"report written to {out / 'report.md'}")


def evaluate(args):
    state = load_checkpoint(args.checkpoint)
    meta = state.get("meta") or {}
    if "model" not in meta:
        raise CheckpointError(f"{args.checkpoint} does not say which model it holds (no 'meta' entry); it was "
                              "not written by `minigrad train` or the examples")
    model = registry.create_model(meta["model"], **meta.get("model_kwargs", {}))
    with fitting(args.checkpoint, f"the model it names ({meta['model']})"):
        model.load_state_dict(state["model"])
    if args.device != "cpu":
        model.to(args.device)
    split = experiment.load_splits(args.data, task=meta.get("task"))[args.split]
    if meta.get("normalization"):
        stats = meta["normalization"]
        split = split.map_images(lambda x: normalize(x, stats["mean"], stats["std"]))
    out = args.out or args.checkpoint.parent
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{args.checkpoint.stem}_{args.split}"
    result = {"model": meta["model"], "checkpoint": str(args.checkpoint), "split": args.split,
              "epoch": state["epoch"], **experiment.evaluate_model(model, split, out, tag, args.device)}
    single_report(out, f"{meta['model']} from {args.checkpoint.name} (epoch {state['epoch']})", result, args.split,
                  stem=f"evaluation_{tag}", confusion=f"confusion_{tag}.png")
    print(f"{meta['model']} (epoch {state['epoch']}) on {args.split}: accuracy {result['test']['accuracy']:.4f}, "
          f"ROC AUC {result['test']['roc_auc_ovr']:.4f}; report written to {out / f'evaluation_{tag}.md'}")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "device", "cpu") == "cuda":
        experiment.check_cuda(parser)       # a clear message now, not after loading the data
    {"models": lambda a: list_models(), "train": train, "evaluate": evaluate}[args.command](args)


def entry(argv=None):
    """The installed ``minigrad`` command: :func:`main` with one-line errors (``models.console.run``)."""
    return run(main, argv, prog="minigrad")


if __name__ == "__main__":
    sys.exit(entry())
