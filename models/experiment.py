"""Running one of the papers' models end to end: build it, train it with its paper's recipe on minigrad's
Trainer, evaluate it on the test split, and draw what a person would rather look at than read.

    result = train_and_evaluate("cnn", splits, out=Path("results/pinto_silva"), seed=0)

``splits`` maps "train", "val" and "test" to datasets (``BloodMNIST`` or one of its tasks). The result is
a dict of plain values (history, test metrics, efficiency) ready for ``report.save_json``. Every example
script and the command line go through here, so a model is trained the same way wherever it is run.
"""

import argparse
import functools
from pathlib import Path

import minigrad.functional as F
from minigrad import metrics, optim
from minigrad.callbacks import BestCheckpoint, EarlyStopping
from minigrad.data import BloodMNIST, DataLoader, channel_stats, default_augmentation, normalize
from minigrad.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau, StepLR
from minigrad.report import plot_confusion_matrix
from minigrad.training import Trainer, evaluate, predict_logits

from . import registry


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
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to train (cuda: CuPy and a GPU)")
    return p


def check_cuda(parser):
    """Exit with argparse's usage error, saying why, when --device cuda cannot work here."""
    from minigrad.backend import module_for_device
    try:
        module_for_device("cuda")
    except RuntimeError as e:
        parser.error(str(e))


def parse_example_args(parser, argv=None):
    """Parse, then reject non-positive sizes and rates with argparse's usage error (exit status 2)."""
    args = parser.parse_args(argv)
    if getattr(args, "device", "cpu") == "cuda":
        check_cuda(parser)
    for name in ("epochs", "batch_size", "limit"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
    if getattr(args, "lr", None) is not None and args.lr <= 0:
        parser.error(f"--lr must be positive, got {args.lr}")
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


def make_callbacks(recipe, out, tag):
    callbacks = []
    if "early_stopping" in recipe:
        callbacks.append(EarlyStopping(**recipe["early_stopping"]))
    if "best_checkpoint" in recipe:
        callbacks.append(BestCheckpoint(out / f"best_{tag}.pkl", monitor=recipe["best_checkpoint"]))
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


def train_and_evaluate(name, splits, out, seed=0, resume=False, progress=True, tag=None, model_kwargs=None,
                       task=None, device=None, log=print, **overrides):
    """Train registered model ``name`` on ``splits["train"]`` with its recipe (``overrides`` replace
    settings), validating on ``splits["val"]``; then evaluate on ``splits["test"]``.

    Writes ``checkpoint_<tag>.pkl`` after every epoch into ``out`` (``resume=True`` continues from it) and
    ``confusion_<tag>.png``. Returns settings, history, the test metrics of ``metrics.classification_metrics``,
    the test loss and the efficiency figures (training seconds, inference ms per sample, throughput,
    parameters). ``task`` (a name from ``minigrad.data.TASKS``, recorded in the checkpoint) says which
    classes ``splits`` hold; ``device`` is "cpu" (default) or "cuda".
    """
    import minigrad as mg
    out, tag = Path(out), tag or name
    out.mkdir(parents=True, exist_ok=True)
    settings = settings_for(name, **overrides)
    splits, normalization = prepare_data(splits, settings)
    train = splits["train"]
    mg.manual_seed(seed)
    model_kwargs = dict(model_kwargs or {}, num_classes=train.num_classes)
    model = registry.create_model(name, **model_kwargs)
    if device is not None:
        model.to(device)
    optimizer = make_optimizer(model, settings)
    meta = {"model": name, "model_kwargs": model_kwargs, "settings": settings, "normalization": normalization,
            "classes": list(train.classes), "task": task, "seed": seed}
    trainer = Trainer(model, optimizer, DataLoader(train, batch_size=settings["batch_size"], shuffle=True, seed=seed),
                      val_data=splits["val"][:], loss_fn=make_loss(settings),
                      scheduler=make_scheduler(optimizer, settings), callbacks=make_callbacks(settings, out, tag),
                      checkpoint_path=out / f"checkpoint_{tag}.pkl", meta=meta, device=device,
                      augment=default_augmentation(seed) if settings.get("augment") else None,
                      progress=progress, log=lambda text: log(f"{tag}: {text}"))
    log(f"{tag}: {metrics.count_parameters(model):,} parameters; {settings}")
    history = trainer.fit(settings["epochs"], resume=resume)
    result = evaluate_model(model, splits["test"], out, tag, device)
    result["efficiency"]["training_seconds"] = trainer.train_seconds
    return {"model": name, "settings": settings, "seed": seed, "task": task, "normalization": normalization,
            "history": history, **result}
