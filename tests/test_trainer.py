"""The Trainer and what it drives: callbacks, learning-rate schedules, gradient clipping, and resuming a run so
that it ends exactly where an uninterrupted one does."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.callbacks import BestCheckpoint, EarlyStopping
from minigrad.checkpoint import load_checkpoint
from minigrad.data import ArrayDataset, DataLoader
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_
from minigrad.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau, StepLR
from minigrad.training import NonFiniteLossError, Trainer


def blobs(n=120, classes=3, dim=6, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centres = np.eye(classes, dim) * 3.0
    return (centres[y] + noise * rng.normal(size=(n, dim))).astype(np.float32), y.astype(np.int64)


def make_trainer(tmp_path=None, seed=0, callbacks=(), scheduler=None, lr=0.05, **kwargs):
    """A small model with dropout (so minigrad's generator matters), shuffled batches, Adam."""
    mg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))
    opt = optim.Adam(model.parameters(), lr=lr)
    x, y = blobs()
    xv, yv = blobs(n=60, seed=1)
    sched = scheduler(opt) if scheduler else None
    return Trainer(model, opt, DataLoader(ArrayDataset(x, y), batch_size=16, shuffle=True, seed=seed),
                   val_data=(xv, yv), callbacks=list(callbacks), scheduler=sched,
                   checkpoint_path=None if tmp_path is None else tmp_path / "checkpoint.npz",
                   progress=False, log=lambda text: None, **kwargs)


def test_fit_records_a_history_row_per_epoch_and_learns():
    trainer = make_trainer()
    history = trainer.fit(6)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5, 6] and trainer.epoch == 6
    assert set(history[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert history[-1]["val_accuracy"] > 0.85 and history[-1]["train_loss"] < history[0]["train_loss"]
    assert trainer.train_seconds == pytest.approx(sum(h["seconds"] for h in history))


class Augment:
    """A stateful augmentation: adds noise from its own generator (which the checkpoint must carry)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def __call__(self, x):
        return x + self.rng.normal(0, 0.1, x.shape).astype(x.dtype)

    def state_dict(self):
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state["rng"]


def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path):
    def run(folder, stop_after=None):
        callbacks = [EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)]
        trainer = make_trainer(folder, callbacks=callbacks, augment=Augment(5),
                               scheduler=lambda o: ReduceLROnPlateau(o, factor=0.5, patience=0))
        return trainer.fit(stop_after or 6), trainer

    straight_history, straight = run(tmp_path / "straight")
    run(tmp_path / "resumed", stop_after=3)                       # "killed" after epoch 3 ...
    resumed = make_trainer(tmp_path / "resumed", callbacks=[EarlyStopping(monitor="val_loss", patience=10,
                                                                          restore_best_weights=True)],
                           augment=Augment(99), scheduler=lambda o: ReduceLROnPlateau(o, factor=0.5, patience=0))
    history = resumed.fit(6, resume=True)                         # ... fresh process, different seeds

    def without_timing(rows):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]
    assert without_timing(history) == without_timing(straight_history)
    assert any(row["lr"] < 0.05 for row in history)             # the plateau schedule did act
    for (name, a), (_, b) in zip(straight.model.named_parameters(), resumed.model.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def test_checkpoint_holds_everything_and_is_rewritten_each_epoch(tmp_path):
    trainer = make_trainer(tmp_path, scheduler=lambda o: StepLR(o, step_size=1, gamma=0.5))
    trainer.fit(2)
    state = load_checkpoint(tmp_path / "checkpoint.npz")
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert {"model", "optimizer", "scheduler", "callbacks", "loader", "augment", "rng"} <= set(state)
    assert state["scheduler"]["last_epoch"] == 2
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.05 * 0.25)


def test_early_stopping_stops_and_restores_the_best_epoch():
    # Loss on the validation set rises from epoch 1 if we train on the validation labels shuffled.
    trainer = make_trainer(callbacks=[EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True)],
                           lr=0.5)
    x, y = blobs(n=60, seed=1)
    trainer.val_data = (x, np.random.default_rng(0).permutation(y))
    history = trainer.fit(30)
    stopper = trainer.callbacks[0]
    assert len(history) < 30 and stopper.stopped_epoch == len(history)
    best = max(history, key=lambda h: h["val_accuracy"])
    assert stopper.best_epoch == best["epoch"] and stopper.best == best["val_accuracy"]
    from minigrad.training import evaluate
    assert evaluate(trainer.model, *trainer.val_data)["accuracy"] == pytest.approx(best["val_accuracy"])


def test_early_stopping_restores_even_without_stopping():
    trainer = make_trainer(callbacks=[EarlyStopping(monitor="val_loss", patience=100, restore_best_weights=True)])
    history = trainer.fit(5)
    best = min(history, key=lambda h: h["val_loss"])
    from minigrad.training import evaluate
    assert evaluate(trainer.model, *trainer.val_data)["loss"] == pytest.approx(best["val_loss"], rel=1e-6)


def test_best_checkpoint_writes_the_best_weights_and_loads_them_back(tmp_path):
    path = tmp_path / "best.npz"
    trainer = make_trainer(callbacks=[BestCheckpoint(path, monitor="val_loss")])
    history = trainer.fit(4)
    best = min(history, key=lambda h: h["val_loss"])
    saved = load_checkpoint(path)
    assert saved["epoch"] == best["epoch"] and saved["val_loss"] == best["val_loss"]
    for name, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, saved["model"][name])


def test_monitoring_a_missing_column_names_it():
    trainer = make_trainer(callbacks=[EarlyStopping(monitor="val_auc")])
    with pytest.raises(KeyError, match="'val_auc'.*does not have"):
        trainer.fit(1)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the inf input, on its way to the loss
def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path)
    trainer.fit(1)
    good = load_checkpoint(tmp_path / "checkpoint.npz")
    x, y = blobs()
    x[20, 0] = np.inf
    trainer.train_loader = DataLoader(ArrayDataset(x, y), batch_size=16)
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, batch 2"):
        trainer.fit(3)
    after = load_checkpoint(tmp_path / "checkpoint.npz")
    assert after["epoch"] == 1
    for name in good["model"]:
        np.testing.assert_array_equal(after["model"][name], good["model"][name])


# ----- learning-rate schedules and clipping against PyTorch ----------------------------------------------------

def paired_optimizers(torch, lr=0.1):
    p = mg.Tensor(np.zeros(3, np.float32), requires_grad=True)
    tp = torch.zeros(3, requires_grad=True)
    return optim.SGD([p], lr=lr), torch.optim.SGD([tp], lr=lr)


@pytest.mark.parametrize("make", [
    lambda o, t: (StepLR(o, step_size=3, gamma=0.5), t.optim.lr_scheduler.StepLR(o.torch, step_size=3, gamma=0.5)),
    lambda o, t: (CosineAnnealingLR(o, T_max=7, eta_min=0.01),
                  t.optim.lr_scheduler.CosineAnnealingLR(o.torch, T_max=7, eta_min=0.01)),
], ids=["step", "cosine"])
def test_epoch_schedules_match_torch(make):
    torch = pytest.importorskip("torch")
    opt, topt = paired_optimizers(torch)
    opt.torch = topt
    sched, tsched = make(opt, torch)
    for _ in range(12):
        topt.step()
        sched.step()
        tsched.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("kwargs", [dict(factor=0.5, patience=2), dict(mode="max", factor=0.1, patience=0, cooldown=2),
                                    dict(factor=0.5, patience=1, threshold=0.1, threshold_mode="abs", min_lr=0.02)])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    opt, topt = paired_optimizers(torch)
    sched, tsched = ReduceLROnPlateau(opt, **kwargs), torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.5, 0.5, 0.5, -0.2, -0.19, -0.3, -0.3, -0.3, -0.3]
    for value in metrics:
        topt.step()
        sched.step(value)
        tsched.step(value)
        assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
    assert opt.param_groups[0]["lr"] < 0.1


@pytest.mark.parametrize("max_norm,norm_type", [(0.5, 2.0), (100.0, 2.0), (0.3, 1.0), (0.2, math.inf)])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,))]
    params = [mg.Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    tparams = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, tp, g in zip(params, tparams, grads):
        p.grad, tp.grad = g.copy(), torch.from_numpy(g.copy())
    before = [p.grad for p in params]
    total = clip_grad_norm_(params, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    assert total == pytest.approx(float(ttotal), rel=1e-5)
    for p, tp, b in zip(params, tparams, before):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-5)
        assert p.grad is not b or total <= max_norm          # a new array when clipped: never in place


def test_clip_grad_value():
    p = mg.Tensor(np.zeros(4, np.float32), requires_grad=True)
    p.grad = np.array([-3.0, -0.5, 0.5, 3.0], np.float32)
    clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad, [-1.0, -0.5, 0.5, 1.0])
