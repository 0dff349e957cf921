"""Classification metrics and efficiency helpers, in plain NumPy.

The metrics are the ones used by Pinto & Silva, "Blood Cell Classification Using Deep
Learning: MLNN and CNN Architectures": accuracy (eq. 3), precision (4), recall/sensitivity
(5), F1 (6), MCC (7), specificity (8) and balanced accuracy (9). For more than two classes
the paper "computes weighted averages based on class support"; this module does the same.

Conventions:

* labels are integer class ids ``0 .. C-1`` in 1-D arrays;
* probabilities are ``(N, C)`` arrays whose rows sum to 1 (``y_prob[i, c]`` = P(class c | x_i));
* for one class ``c`` (one-vs-rest) TP, FN, FP, TN count the examples with
  (true, predicted) = (c, c), (c, not c), (not c, c), (not c, not c);
* a ratio whose denominator is 0 is taken as 0 (scikit-learn's ``zero_division=0``).

Every result matches ``sklearn.metrics`` (see ``tests/test_metrics.py``), but sklearn is not
needed here.
"""

import time

import numpy as np

__all__ = [
    "confusion_matrix", "accuracy", "precision_recall_f1", "matthews_corrcoef",
    "sensitivity_specificity", "balanced_accuracy", "balanced_accuracy_eq9", "log_loss",
    "roc_auc_ovr", "classification_metrics", "count_parameters", "inference_speed", "Stopwatch",
]


# ----------------------------------------------------------------------------- input checks

def _as_labels(y, name):
    """``y`` as a non-empty 1-D int64 array of labels >= 0, or a ValueError saying what is wrong."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of integer labels, got shape {y.shape}")
    if y.size == 0:
        raise ValueError(f"{name} is empty; expected at least one label")
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)  # whole-valued floats such as 3.0 are accepted as labels
    if y.dtype.kind not in "iub":
        bad = y[~np.isfinite(y) | (y != np.round(y))][0] if y.dtype.kind == "f" else y[0]
        raise ValueError(f"{name} must hold integer class ids 0..C-1, got dtype {y.dtype} "
                         f"(e.g. value {bad!r})")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise ValueError(f"{name} must hold class ids >= 0, got label {y.min()}")
    return y


def _check_labels(y_true, y_pred, num_classes=None):
    """Validate a pair of label arrays; return ``(y_true, y_pred, C)``.

    ``C`` is ``num_classes`` if given, else the largest label in either array plus one.
    """
    y_true, y_pred = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}; "
                         "expected the same number")
    largest = max(y_true.max(), y_pred.max())
    if num_classes is None:
        return y_true, y_pred, int(largest) + 1
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if largest >= num_classes:
        raise ValueError(f"labels must be in 0..{num_classes - 1} for num_classes={num_classes}, "
                         f"got label {largest}")
    return y_true, y_pred, int(num_classes)


def _check_probs(y_true, y_prob):
    """Validate labels and an (N, C) probability matrix; return ``(y_true, y_prob)``."""
    y_true = _as_labels(y_true, "y_true")
    y_prob = np.asarray(y_prob)
    if y_prob.ndim != 2:
        raise ValueError(f"y_prob must be a 2-D (N, C) array of probabilities, "
                         f"got shape {y_prob.shape}")
    if y_prob.dtype.kind not in "fiub":
        raise ValueError(f"y_prob must hold real numbers, got dtype {y_prob.dtype}")
    y_prob = y_prob.astype(np.float64)
    if y_prob.shape[0] != len(y_true):
        raise ValueError(f"y_true has {len(y_true)} labels but y_prob has {y_prob.shape[0]} rows; "
                         "expected the same number")
    if y_prob.shape[1] < y_true.max() + 1:
        raise ValueError(f"y_prob has {y_prob.shape[1]} columns but y_true contains label "
                         f"{y_true.max()}; expected at least {y_true.max() + 1} columns")
    if not np.all((y_prob >= 0) & (y_prob <= 1)):  # also catches NaN
        raise ValueError("y_prob must hold probabilities in [0, 1] (e.g. softmax outputs), "
                         f"got values in [{np.nanmin(y_prob)}, {np.nanmax(y_prob)}] or NaN")
    return y_true, y_prob


def _safe_divide(num, den):
    """``num / den`` elementwise, with 0 where ``den == 0``."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def _one_vs_rest_counts(cm):
    """Per-class ``(TP, FN, FP, TN)`` from a confusion matrix (rows true, columns predicted)."""
    tp = np.diag(cm)
    fn = cm.sum(axis=1) - tp  # true c, predicted something else
    fp = cm.sum(axis=0) - tp  # predicted c, truly something else
    tn = cm.sum() - tp - fn - fp
    return tp, fn, fp, tn


# ----------------------------------------------------------------------------- label metrics

def confusion_matrix(y_true, y_pred, num_classes=None):
    """Counts ``M[i, j]`` = number of examples of true class ``i`` predicted as class ``j``.

    Rows are true classes, columns predicted classes (scikit-learn's convention), so the
    diagonal holds the correct predictions, ``M.sum(1)`` the class supports and ``M.sum(0)``
    how often each class was predicted. ``num_classes`` defaults to the largest label + 1.
    Returns an ``(C, C)`` int64 array.
    """
    y_true, y_pred, c = _check_labels(y_true, y_pred, num_classes)
    # Pair (i, j) gets the single index i*C + j; counting those indices fills the matrix.
    return np.bincount(y_true * c + y_pred, minlength=c * c).reshape(c, c).astype(np.int64)


def accuracy(y_true, y_pred):
    """Fraction of correct predictions, eq. (3): ``(TP + TN) / (TP + TN + FP + FN)``.

    With more than two classes this is ``trace(M) / N``: correct predictions over all examples.
    """
    y_true, y_pred, _ = _check_labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def _average(per_class, support, average):
    if average is None:
        return per_class
    if average == "macro":
        return float(per_class.mean())
    return float(np.sum(per_class * support) / np.sum(support))  # "weighted"


def precision_recall_f1(y_true, y_pred, average="weighted", num_classes=None):
    """Precision (eq. 4), recall (eq. 5) and F1 (eq. 6), one-vs-rest for each class ``c``::

        precision_c = TP / (TP + FP)         of the examples predicted c, the share truly c
        recall_c    = TP / (TP + FN)         of the examples truly c, the share found
        F1_c        = 2 P R / (P + R) = 2 TP / (2 TP + FP + FN)

    A 0/0 gives 0. ``average``:

    * ``"weighted"`` (the paper's choice): ``sum_c n_c * score_c / N``, with ``n_c`` the number
      of true examples of class c (its support);
    * ``"macro"``: the plain mean over all C classes;
    * ``None``: the per-class arrays.

    Returns ``(precision, recall, f1)``, floats or arrays of length C.
    """
    if average not in ("weighted", "macro", None):
        raise ValueError(f'average must be "weighted", "macro" or None, got {average!r}')
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp, fn, fp, _ = _one_vs_rest_counts(cm)
    precision = _safe_divide(tp, tp + fp)
    recall = _safe_divide(tp, tp + fn)
    f1 = _safe_divide(2 * tp, 2 * tp + fp + fn)
    support = tp + fn
    return tuple(_average(s, support, average) for s in (precision, recall, f1))


def matthews_corrcoef(y_true, y_pred, num_classes=None):
    """Matthews correlation coefficient; the multi-class R_K of Gorodkin (2004).

    From the confusion matrix M with ``t_k = sum_j M[k, j]`` (times class k truly occurs),
    ``p_k = sum_i M[i, k]`` (times it is predicted), ``c = trace(M)`` and ``s = N``::

        MCC = (c s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2) (s^2 - sum_k t_k^2))

    It is the Pearson correlation between the one-hot true and predicted labels: +1 perfect,
    0 no better than chance, -1 always wrong. If a factor under the root is 0 (only one class
    is ever predicted, or only one class occurs) the result is 0, as in scikit-learn.

    Two classes give eq. (7). With t = (TN + FP, FN + TP), p = (TN + FN, FP + TP) and
    c = TP + TN, expanding gives ``c s - sum p_k t_k = 2 (TP TN - FP FN)``,
    ``s^2 - sum t_k^2 = 2 (TP + FN)(TN + FP)`` and ``s^2 - sum p_k^2 = 2 (TP + FP)(TN + FN)``,
    so the 2s cancel::

        MCC = (TP TN - FP FN) / sqrt((TP + FP)(TP + FN)(TN + FP)(TN + FN))
    """
    cm = confusion_matrix(y_true, y_pred, num_classes).astype(np.float64)  # floats: no overflow
    t, p = cm.sum(axis=1), cm.sum(axis=0)
    c, s = np.trace(cm), cm.sum()
    den = (s * s - p @ p) * (s * s - t @ t)
    return 0.0 if den == 0 else float((c * s - p @ t) / np.sqrt(den))


def sensitivity_specificity(y_true, y_pred, num_classes=None):
    """Per-class sensitivity (eq. 5) and specificity (eq. 8), one-vs-rest::

        sensitivity_c = TP / (TP + FN)     true class c, predicted c (= recall_c)
        specificity_c = TN / (TN + FP)     not class c, predicted something other than c

    A 0/0 gives 0. Returns two float arrays of length C.
    """
    tp, fn, fp, tn = _one_vs_rest_counts(confusion_matrix(y_true, y_pred, num_classes))
    return _safe_divide(tp, tp + fn), _safe_divide(tn, tn + fp)


def balanced_accuracy(y_true, y_pred, num_classes=None):
    """scikit-learn's balanced accuracy: the mean per-class recall ``mean_c TP_c / (TP_c + FN_c)``.

    The mean is over the classes that occur in ``y_true`` (a class with no true examples has
    no recall). Unlike accuracy, every class counts equally however rare it is, so always
    predicting the majority class scores only 1/C. Compare ``balanced_accuracy_eq9``.
    """
    tp, fn, _, _ = _one_vs_rest_counts(confusion_matrix(y_true, y_pred, num_classes))
    present = tp + fn > 0
    return float(np.mean(tp[present] / (tp + fn)[present]))


def balanced_accuracy_eq9(y_true, y_pred, num_classes=None):
    """The paper's balanced accuracy, eq. (9), ``(sensitivity + specificity) / 2``, averaged
    over the classes that occur in ``y_true``::

        BA = mean_c (TP_c / (TP_c + FN_c) + TN_c / (TN_c + FP_c)) / 2

    How it differs from ``balanced_accuracy`` (mean sensitivity only): for two classes the two
    agree, because the specificity of one class is the sensitivity of the other. For C > 2,
    eq. (9) mixes in one-vs-rest specificity, which is high for every class when C is large
    (most examples are correctly "not c"), so it is larger and less harsh. Example: always
    predicting class 0 on 8 balanced classes gives 1/8 = 0.125 with ``balanced_accuracy`` but
    ((1 + 0) / 2 + 7 * (0 + 1) / 2) / 8 = 0.5 with eq. (9).
    """
    tp, fn, fp, tn = _one_vs_rest_counts(confusion_matrix(y_true, y_pred, num_classes))
    present = tp + fn > 0
    sensitivity = tp[present] / (tp + fn)[present]
    specificity = _safe_divide(tn, tn + fp)[present]
    return float(np.mean((sensitivity + specificity) / 2))


# ----------------------------------------------------------------------------- probability metrics

def log_loss(y_true, y_prob, eps=1e-15):
    """Cross-entropy of the predicted probabilities::

        log_loss = -(1/N) sum_i log p_i[y_i]

    with each ``p_i[y_i]`` (the probability given to the true class) clipped to
    ``[eps, 1 - eps]`` so a confident mistake costs ``-log(eps)`` instead of infinity.
    This is the mean of the loss a classifier is trained with (``cross_entropy``).
    """
    y_true, y_prob = _check_probs(y_true, y_prob)
    if not 0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps!r}")
    p = np.clip(y_prob[np.arange(len(y_true)), y_true], eps, 1 - eps)
    return float(-np.mean(np.log(p)))


def _average_ranks(x):
    """Ranks 1..N of ``x`` (smallest first); tied values all get the mean of their ranks."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts_group = np.r_[True, xs[1:] != xs[:-1]]   # where a run of equal values begins
    group = np.cumsum(starts_group) - 1               # run id of each sorted value
    first = np.flatnonzero(starts_group) + 1          # first rank of each run
    last = np.r_[first[1:] - 1, len(x)]               # last rank of each run
    ranks = np.empty(len(x))
    ranks[order] = ((first + last) / 2)[group]
    return ranks


def roc_auc_ovr(y_true, y_prob, average="macro"):
    """One-vs-rest ROC AUC, averaged over classes.

    For class c, with ``n_pos`` examples of class c and ``n_neg`` others, AUC_c is the
    probability that a random positive gets a higher score ``y_prob[:, c]`` than a random
    negative (a tie counting 1/2). It equals the area under the ROC curve and is computed with
    the Mann-Whitney statistic: rank all N scores (ties get their average rank), sum the ranks
    ``R_pos`` of the positives, and::

        AUC_c = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)

    ``average="macro"`` is the plain mean over classes, ``"weighted"`` weights class c by its
    support n_pos. Matches ``sklearn.metrics.roc_auc_score(..., multi_class="ovr")``.
    Raises ValueError if some class has no positive or no negative example (AUC undefined).
    """
    if average not in ("macro", "weighted"):
        raise ValueError(f'average must be "macro" or "weighted", got {average!r}')
    y_true, y_prob = _check_probs(y_true, y_prob)
    n, num_classes = y_prob.shape
    support = np.bincount(y_true, minlength=num_classes)
    for c in range(num_classes):
        if support[c] in (0, n):
            raise ValueError(f"ROC AUC needs every class to have positive and negative examples, "
                             f"but class {c} has {support[c]} of {n} examples in y_true")
    aucs = np.empty(num_classes)
    for c in range(num_classes):
        positive = y_true == c
        n_pos, n_neg = support[c], n - support[c]
        rank_sum = _average_ranks(y_prob[:, c])[positive].sum()
        aucs[c] = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return _average(aucs, support, "macro" if average == "macro" else "weighted")


# ----------------------------------------------------------------------------- report

def classification_metrics(y_true, y_prob, class_names=None):
    """All the metrics above for predictions ``y_pred = argmax(y_prob, axis=1)``, as a
    JSON-serialisable dict of plain Python floats, ints, lists and strings.

    Keys: accuracy, precision_weighted, recall_weighted, f1_weighted, the same three with the
    unweighted (macro) average over classes (precision_macro, ...), mcc,
    sensitivity_per_class, specificity_per_class, sensitivity_mean, specificity_mean,
    balanced_accuracy (eq. 9), balanced_accuracy_recall (scikit-learn's), log_loss,
    roc_auc_ovr (macro; None when a class lacks positives or negatives), confusion_matrix,
    per_class (name, precision, recall, f1, support per class) and class_names.
    The two means are over the classes present in y_true, so
    ``balanced_accuracy == (sensitivity_mean + specificity_mean) / 2``.
    """
    y_true, y_prob = _check_probs(y_true, y_prob)
    n, num_classes = y_prob.shape
    if class_names is None:
        class_names = [str(c) for c in range(num_classes)]
    class_names = [str(name) for name in class_names]
    if len(class_names) != num_classes:
        raise ValueError(f"class_names has {len(class_names)} names but y_prob has "
                         f"{num_classes} columns; expected one name per class")
    y_pred = np.argmax(y_prob, axis=1)
    args = (y_true, y_pred, num_classes)
    cm = confusion_matrix(*args)
    support = cm.sum(axis=1)
    present = support > 0
    precision, recall, f1 = precision_recall_f1(y_true, y_pred, None, num_classes)
    sens, spec = sensitivity_specificity(*args)
    auc = roc_auc_ovr(y_true, y_prob) if np.all((support > 0) & (support < n)) else None
    return {
        "accuracy": accuracy(y_true, y_pred),
        "precision_weighted": _average(precision, support, "weighted"),
        "recall_weighted": _average(recall, support, "weighted"),
        "f1_weighted": _average(f1, support, "weighted"),
        "precision_macro": _average(precision, support, "macro"),
        "recall_macro": _average(recall, support, "macro"),
        "f1_macro": _average(f1, support, "macro"),
        "mcc": matthews_corrcoef(*args),
        "sensitivity_per_class": sens.tolist(),
        "specificity_per_class": spec.tolist(),
        "sensitivity_mean": float(sens[present].mean()),
        "specificity_mean": float(spec[present].mean()),
        "balanced_accuracy": balanced_accuracy_eq9(*args),
        "balanced_accuracy_recall": balanced_accuracy(*args),
        "log_loss": log_loss(y_true, y_prob),
        "roc_auc_ovr": auc,
        "confusion_matrix": cm.tolist(),
        "per_class": [{"name": name, "precision": float(p), "recall": float(r), "f1": float(f),
                       "support": int(s)}
                      for name, p, r, f, s in zip(class_names, precision, recall, f1, support)],
        "class_names": class_names,
    }


# ----------------------------------------------------------------------------- efficiency

def count_parameters(model):
    """Total number of scalars in ``model.parameters()``: ``sum_p p.data.size``.

    Duck-typed: each parameter may be an object with a ``.data`` array (a Tensor, on any device) or an
    array itself.
    """
    if not callable(getattr(model, "parameters", None)):
        raise ValueError(f"model must have a parameters() method, got {type(model).__name__}")
    from .backend import get_array_module

    def is_array(a):                               # a NumPy array, or a CuPy one
        return isinstance(a, np.ndarray) or get_array_module(a) is not np
    total = 0
    for p in model.parameters():
        data = p if is_array(p) else getattr(p, "data", None)
        if not is_array(data):
            raise ValueError("each parameter must be an array (NumPy or CuPy) or have a .data array, "
                             f"got {type(p).__name__}")
        total += int(data.size)
    return int(total)


def inference_speed(predict, x, batch_size=256, warmup=1, repeats=1):
    """Time ``predict(batch)`` over ``x`` cut into batches of ``batch_size``.

    First ``warmup`` untimed calls on the first batch (to fill caches), then ``repeats`` timed
    passes over all N examples with ``time.perf_counter``. With ``seconds`` the mean time of
    one pass::

        ms_per_sample = 1000 * seconds / N,    samples_per_second = N / seconds

    Returns ``dict(ms_per_sample=..., samples_per_second=..., seconds=...)``.
    """
    if not callable(predict):
        raise ValueError(f"predict must be callable, got {type(predict).__name__}")
    n = len(x)
    if n == 0:
        raise ValueError("x is empty; expected at least one example to time")
    for name, value, low in (("batch_size", batch_size, 1), ("warmup", warmup, 0),
                             ("repeats", repeats, 1)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    for _ in range(warmup):
        predict(x[:batch_size])
    start = time.perf_counter()
    for _ in range(repeats):
        for i in range(0, n, batch_size):
            predict(x[i:i + batch_size])
    seconds = (time.perf_counter() - start) / repeats
    return {"ms_per_sample": 1000 * seconds / n, "samples_per_second": n / seconds,
            "seconds": seconds}


class Stopwatch:
    """Wall-clock timer for a block, e.g. training time::

        with Stopwatch() as sw:
            train(model)
        print(f"trained in {sw.seconds:.1f} s")

    ``seconds`` is the elapsed ``time.perf_counter()`` time; read inside the block it gives
    the time so far.
    """

    def __init__(self):
        self._start = None
        self._seconds = 0.0

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        self._seconds = time.perf_counter() - self._start
        self._start = None
        return False

    @property
    def seconds(self):
        if self._start is not None:  # still running
            return time.perf_counter() - self._start
        return self._seconds
