"""Running one of the papers' models end to end: build it, train it with its paper's recipe on minigrad's
Trainer, evaluate it on the test split, and draw what a person would rather look at than read.

    result = train_and_evaluate("cnn", splits, out=Path("results/pinto_silva"), seed=0)

``splits`` maps "train", "val" and "test" to datasets (``BloodMNIST`` or one of its tasks). The result is
a dict of plain values (history, test metrics, efficiency) ready for ``report.save_json``. Every example
script and the command line go through here, so a model is trained the same way wherever it is run.

A run cannot be lost: the output folder is locked while a run uses it, a new run refuses to start where a
run of the same tag already is (``resume`` continues it, ``overwrite`` replaces it; see
``minigrad.rundir``), and a resumed run keeps the settings it was trained with unless ``changes`` name the
ones to apply (see ``models.resume``).
"""

import argparse
import functools
import math
from pathlib import Path

import minigrad.functional as F
from minigrad import metrics, optim
from minigrad.callbacks import BestCheckpoint, EarlyStopping
from minigrad.checkpoint import load_checkpoint
from minigrad.data import BloodMNIST, DataLoader, channel_stats, default_augmentation, normalize
from minigrad.errors import SettingsError
from minigrad.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau, StepLR
from minigrad.report import plot_confusion_matrix
from minigrad.rundir import RunLock, claim_run
from minigrad.training import Trainer, evaluate, predict_logits

from . import registry
from .resume import FIXED, apply_change, change_name, resume_settings


def example_parser(description, out):
    """The command-line arguments every example script shares; a script adds its own before parsing."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, help="override the paper's number of epochs")
    p.add_argument("--lr", type=float, help="override the paper's learning rate")
    p.add_argument("--batch-size", type=int, help="override the paper's batch size")
    p.add_argument("--limit", type=int, help="train on a stratified subset of this many images (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", help="path to bloodmnist.npz (default: the MedMNIST cache)")
    p.add_argument("--out", default=out, help="folder for the report")
    add_run_options(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to train (cuda: CuPy and a GPU)")
    return p


def add_run_options(parser):
    """--resume, --overwrite and --change SETTING, which the command line and every example share."""
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--resume", action="store_true", help="continue the runs in --out from their checkpoints")
    what.add_argument("--overwrite", action="store_true",
                      help="replace the runs in --out (their checkpoints are deleted first)")
    parser.add_argument("--change", action="append", default=[], type=change_setting, metavar="SETTING",
                        help="with --resume: train on with the new value of SETTING (lr, batch_size or epochs) "
                             "that its option gives, and record the change; repeatable")


def change_setting(text):
    """argparse type of --change: a setting that may change on resume, or a usage error saying why not."""
    try:
        return change_name(text)
    except SettingsError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def run_options(args):
    """The keyword arguments of :func:`train_and_evaluate` that the shared command-line options give."""
    return {"seed": args.seed, "limit": args.limit, "resume": args.resume, "overwrite": args.overwrite,
            "changes": args.change, "progress": not args.no_progress, "device": args.device}


def check_cuda(parser):
    """Exit with argparse's usage error, saying why, when --device cuda cannot work here."""
    from minigrad.backend import module_for_device
    try:
        module_for_device("cuda")
    except RuntimeError as e:
        parser.error(str(e))


def parse_example_args(parser, argv=None):
    """Parse, then reject with argparse's usage error (exit status 2): sizes that are not positive, a rate
    that is not finite and positive, a negative seed, and --change without --resume."""
    args = parser.parse_args(argv)
    if getattr(args, "device", "cpu") == "cuda":
        check_cuda(parser)
    for name in ("epochs", "batch_size", "limit"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
    if getattr(args, "lr", None) is not None and not (args.lr > 0 and math.isfinite(args.lr)):
        parser.error(f"--lr must be a finite positive number, got {args.lr}")
    if getattr(args, "seed", 0) < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    if getattr(args, "change", None) and not args.resume:
        parser.error("--change applies a new setting to a resumed run; pass --resume too")
    return args


def load_splits(path=None, limit=None, seed=0, task=None):
    """BloodMNIST's official train/val/test split (or one of its TASKS); ``limit`` keeps a stratified subset
    of that many training images."""
    splits = {s: BloodMNIST(s, path=path) for s in ("train", "val", "test")}
    if task is not None:
        splits = {s: ds.task(task) for s, ds in splits.items()}
    if limit:
        splits["train"] = splits["train"].subset(min(limit, len(splits["train"])), seed=seed)
    return splits


def make_optimizer(model, recipe):
    """The optimizer a recipe names, with its settings (Adam's defaults where the recipe is silent)."""
    name = recipe.get("optimizer", "adam")
    common = dict(lr=recipe["lr"], weight_decay=recipe.get("weight_decay", 0.0))
    if name in ("adam", "adamw"):
        cls = optim.Adam if name == "adam" else optim.AdamW
        return cls(model.parameters(), betas=tuple(recipe.get("betas", (0.9, 0.999))),
                   eps=recipe.get("eps", 1e-8), **common)
    if name == "sgd":
        return optim.SGD(model.parameters(), momentum=recipe.get("momentum", 0.0), **common)
    raise ValueError(f"recipe names an unknown optimizer {name!r} (known: adam, adamw, sgd)")


def make_scheduler(optimizer, recipe):
    """The learning-rate schedule a recipe names, or None."""
    if "reduce_lr_on_plateau" in recipe:
        return ReduceLROnPlateau(optimizer, **recipe["reduce_lr_on_plateau"])
    if "step_lr" in recipe:
        return StepLR(optimizer, **recipe["step_lr"])
    if "cosine" in recipe:
        return CosineAnnealingLR(optimizer, T_max=recipe["epochs"])
    return None


def make_callbacks(recipe, best_path):
    """The recipe's early stopping and best-weights checkpoint (written to ``best_path``), as callbacks."""
    callbacks = []
    if "early_stopping" in recipe:
        callbacks.append(EarlyStopping(**recipe["early_stopping"]))
    if "best_checkpoint" in recipe:
        callbacks.append(BestCheckpoint(best_path, monitor=recipe["best_checkpoint"]))
    return callbacks


def prepare_data(splits, settings):
    """Normalise every split with the training images' channel statistics, if the recipe asks for it.

    Returns the splits and the statistics (None when not normalising)."""
    if not settings.get("normalize"):
        return splits, None
    mean, std = channel_stats(splits["train"].images)
    normalized = {name: ds.map_images(lambda x: normalize(x, mean, std)) for name, ds in splits.items()}
    return normalized, {"mean": mean.tolist(), "std": std.tolist()}


def make_loss(settings):
    """Cross-entropy, with the recipe's label smoothing."""
    smoothing = settings.get("label_smoothing", 0.0)
    return functools.partial(F.cross_entropy, label_smoothing=smoothing) if smoothing else F.cross_entropy


def settings_for(name, **overrides):
    """The model's recipe with the given settings (epochs, lr, batch_size, ...) replaced where not None."""
    recipe = registry.recipe(name)
    recipe.update({k: v for k, v in overrides.items() if v is not None})
    return recipe


def evaluate_model(model, dataset, out, tag, device=None):
    """Test metrics (``metrics.classification_metrics``), loss, inference speed and a confusion-matrix PNG."""
    images, labels = dataset[:]
    result = evaluate(model, images, labels, device=device)
    quality = metrics.classification_metrics(labels, result["probabilities"], class_names=list(dataset.classes))
    speed = metrics.inference_speed(lambda x: predict_logits(model, x, batch_size=len(x), device=device), images,
                                    batch_size=256, warmup=1)
    plot_confusion_matrix(quality["confusion_matrix"], dataset.classes, Path(out) / f"confusion_{tag}.png",
                          title=f"{tag} on the {dataset.split} split ({len(labels)} images)")
    return {"test": quality, "test_loss": result["loss"],
            "efficiency": {"inference_ms_per_sample": speed["ms_per_sample"],
                           "throughput_samples_per_s": speed["samples_per_second"],
                           "parameters": metrics.count_parameters(model)}}


def train_and_evaluate(name, splits, out, seed=0, resume=False, overwrite=False, changes=(), limit=None,
                       progress=True, tag=None, model_kwargs=None, task=None, device=None, log=print, **overrides):
    """Train registered model ``name`` on ``splits["train"]`` with its recipe (``overrides`` replace
    settings), validating on ``splits["val"]``; then evaluate on ``splits["test"]``.

    Writes ``checkpoint_<tag>.npz`` after every epoch into ``out`` and ``confusion_<tag>.png``, holding the
    folder's lock (``minigrad.rundir.RunLock``) meanwhile. A folder that already holds a run of ``tag`` is
    continued only with ``resume=True`` and replaced only with ``overwrite=True``, else RunDirError. On resume
    the recorded settings are kept; an override that differs is refused with SettingsError unless
    ``changes`` (names from ``models.resume.CHANGEABLE``) asks to apply it. ``seed``, ``limit`` (the size of
    the training subset the caller drew) and ``task`` (a name from ``minigrad.data.TASKS``: which classes
    ``splits`` hold) are recorded in the checkpoint and must match on resume; ``device`` is "cpu" or "cuda".

    Returns the settings in effect at the end, the changes applied on resumes, the loss-growth warnings,
    the history, the test metrics of ``metrics.classification_metrics``, the test loss and the efficiency
    figures (training seconds, inference ms per sample, throughput, parameters).
    """
    out, tag = Path(out), tag or name
    changes = [change_name(change) for change in changes]
    if changes and not resume:
        raise SettingsError("--change applies a new setting to a resumed run; pass --resume too")

    def say(text):
        log(f"{tag}: {text}")

    with RunLock(out, log=say):
        files = claim_run(out, tag, resume=resume, overwrite=overwrite, log=say)
        state = load_checkpoint(files.checkpoint) if resume and files.checkpoint.exists() else None
        identity = {"model": name, "model_kwargs": dict(model_kwargs or {}, num_classes=splits["train"].num_classes),
                    "task": task, "seed": seed, "limit": limit}
        settings, applied = run_settings(out, state, identity, overrides, changes, say)
        splits, normalization = prepare_data(splits, settings)
        meta = {**identity, "settings": settings, "normalization": normalization,
                "classes": list(splits["train"].classes),
                "changes": (list(state["meta"].get("changes", [])) if state else []) + applied}
        trainer = make_trainer(splits, settings, meta, files, device, progress, say)
        say(f"{metrics.count_parameters(trainer.model):,} parameters; {settings}")
        if state is not None:
            trainer.restore(state)
            for change in applied:
                apply_change(trainer, change)
        history = trainer.fit(settings["epochs"])
        result = evaluate_model(trainer.model, splits["test"], out, tag, device)
    result["efficiency"]["training_seconds"] = trainer.train_seconds
    warnings = [{"epoch": row["epoch"], "message": row["warning"]} for row in history if "warning" in row]
    return {"model": name, "settings": settings, "seed": seed, "task": task, "limit": limit,
            "normalization": normalization, "changes": meta["changes"], "warnings": warnings, "history": history,
            **result}


def run_settings(out, state, identity, overrides, changes, log):
    """(settings, changes to apply): the recipe with ``overrides`` for a new run (``state`` None); for a
    resumed one the recorded settings with the allowed changes (``models.resume.resume_settings``)."""
    if state is None:
        return settings_for(identity["model"], **overrides), []
    meta = dict(state["meta"])
    for key in FIXED:
        if key not in meta:                  # a checkpoint of an older minigrad, converted: it did not record it
            log(f"the checkpoint does not record {key}; taking {key}={identity[key]} as asked")
            meta[key] = identity[key]
    return resume_settings(out, meta, identity, overrides, changes, state["epoch"])


def make_trainer(splits, settings, meta, files, device, progress, log):
    """The model, optimizer, schedule, loader, callbacks and Trainer of a run described by ``meta``."""
    import minigrad as mg
    seed = meta["seed"]
    mg.manual_seed(seed)
    model = registry.create_model(meta["model"], **meta["model_kwargs"])
    if device is not None:
        model.to(device)
    optimizer = make_optimizer(model, settings)
    loader = DataLoader(splits["train"], batch_size=settings["batch_size"], shuffle=True, seed=seed)
    return Trainer(model, optimizer, loader, val_data=splits["val"][:], loss_fn=make_loss(settings),
                   scheduler=make_scheduler(optimizer, settings), callbacks=make_callbacks(settings, files.best),
                   checkpoint_path=files.checkpoint, meta=meta, device=device,
                   augment=default_augmentation(seed) if settings.get("augment") else None,
                   progress=progress, log=log)
