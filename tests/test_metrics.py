"""Tests for minigrad.metrics: every metric against scikit-learn on random inputs, the paper's
two-class formulas by hand, input validation and the efficiency helpers."""

import json
import time
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from minigrad import metrics as M

SETTINGS = settings(max_examples=50, deadline=None)
# sklearn's matthews_corrcoef warns when only one class occurs; the comparison is still valid.
pytestmark = pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")


@st.composite
def label_pairs(draw):
    """(y_true, y_pred, C): N in 1..200, C in 2..8, often imbalanced, sometimes missing classes.

    Each array draws from its own random class distribution (a Dirichlet with small
    concentration makes some classes rare or absent).
    """
    n = draw(st.integers(1, 200))
    c = draw(st.integers(2, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    alpha = draw(st.sampled_from([0.2, 1.0, 10.0]))
    y_true = rng.choice(c, size=n, p=rng.dirichlet(np.full(c, alpha)))
    # y_pred: mostly right, sometimes random, so scores are neither 0 nor 1.
    noise = rng.random(n) < draw(st.floats(0, 1))
    y_pred = np.where(noise, rng.choice(c, size=n, p=rng.dirichlet(np.full(c, alpha))), y_true)
    return y_true, y_pred, c


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@st.composite
def prob_problems(draw, every_class=True, quantise=False):
    """(y_true, y_prob, C) with y_prob = softmax of random logits correlated with y_true.

    With ``every_class`` the first C labels are 0..C-1 (and N > C) so each class has a positive
    and a negative example; ``quantise`` rounds probabilities to one decimal to force ties
    (rows are then renormalised so they still sum to 1).
    """
    c = draw(st.integers(2, 8))
    n = draw(st.integers(c + 1, 200))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y_true = rng.choice(c, size=n, p=rng.dirichlet(np.full(c, 1.0)))
    if every_class:
        y_true[:c] = np.arange(c)
    logits = rng.normal(size=(n, c)) * draw(st.floats(0.1, 3.0))
    logits[np.arange(n), y_true] += draw(st.floats(0.0, 3.0))
    prob = softmax(logits)
    if quantise:
        prob = np.round(prob, 1) + 1e-3  # + 1e-3: no exact zeros
        prob /= prob.sum(axis=1, keepdims=True)
    return y_true, prob, c


# ----------------------------------------------------------------------------- against sklearn

@SETTINGS
@given(label_pairs())
def test_confusion_matrix_and_accuracy_match_sklearn(data):
    y_true, y_pred, c = data
    cm = M.confusion_matrix(y_true, y_pred, num_classes=c)
    assert cm.dtype == np.int64 and cm.shape == (c, c)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y_true, y_pred, labels=range(c)))
    assert M.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))


@SETTINGS
@given(label_pairs())
def test_confusion_matrix_default_size_is_largest_label_plus_one(data):
    y_true, y_pred, _ = data
    size = max(y_true.max(), y_pred.max()) + 1
    assert M.confusion_matrix(y_true, y_pred).shape == (size, size)
    assert M.confusion_matrix(y_true, y_pred).sum() == len(y_true)


@SETTINGS
@given(label_pairs(), st.sampled_from(["weighted", "macro", None]))
def test_precision_recall_f1_match_sklearn(data, average):
    y_true, y_pred, c = data
    ours = M.precision_recall_f1(y_true, y_pred, average=average, num_classes=c)
    ref = skm.precision_recall_fscore_support(y_true, y_pred, labels=range(c), average=average,
                                              zero_division=0)[:3]
    for got, want in zip(ours, ref):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    if average is None:
        assert all(len(a) == c for a in ours)
    else:
        assert all(isinstance(v, float) for v in ours)


@SETTINGS
@given(label_pairs())
def test_matthews_corrcoef_matches_sklearn(data):
    y_true, y_pred, c = data
    assert M.matthews_corrcoef(y_true, y_pred, num_classes=c) == pytest.approx(
        skm.matthews_corrcoef(y_true, y_pred), abs=1e-12)


@SETTINGS
@given(label_pairs())
def test_sensitivity_specificity_match_sklearn_one_vs_rest(data):
    y_true, y_pred, c = data
    sens, spec = M.sensitivity_specificity(y_true, y_pred, num_classes=c)
    mcm = skm.multilabel_confusion_matrix(y_true, y_pred, labels=range(c))  # [[TN, FP], [FN, TP]]
    tn, fp, fn, tp = (mcm[:, i, j] for i, j in [(0, 0), (0, 1), (1, 0), (1, 1)])
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_allclose(sens, np.nan_to_num(tp / (tp + fn)))
        np.testing.assert_allclose(spec, np.nan_to_num(tn / (tn + fp)))
    # Sensitivity is recall (eq. 5): the per-class recall of sklearn.
    np.testing.assert_allclose(sens, skm.recall_score(y_true, y_pred, labels=range(c),
                                                      average=None, zero_division=0))


@SETTINGS
@given(label_pairs())
def test_balanced_accuracy_matches_sklearn(data):
    y_true, y_pred, c = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns when y_pred has classes absent from y_true
        want = skm.balanced_accuracy_score(y_true, y_pred)
    assert M.balanced_accuracy(y_true, y_pred, num_classes=c) == pytest.approx(want, abs=1e-12)


@SETTINGS
@given(label_pairs())
def test_balanced_accuracy_eq9_is_mean_of_sens_and_spec(data):
    y_true, y_pred, c = data
    mcm = skm.multilabel_confusion_matrix(y_true, y_pred, labels=range(c))
    tn, fp, fn, tp = mcm[:, 0, 0], mcm[:, 0, 1], mcm[:, 1, 0], mcm[:, 1, 1]
    present = tp + fn > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = (tp / (tp + fn) + np.nan_to_num(tn / (tn + fp))) / 2
    assert M.balanced_accuracy_eq9(y_true, y_pred, num_classes=c) == pytest.approx(
        per_class[present].mean(), abs=1e-12)


@SETTINGS
@given(label_pairs())
def test_two_class_balanced_accuracies_agree(data):
    y_true, y_pred, _ = data
    y_true, y_pred = y_true % 2, y_pred % 2
    if len(np.unique(y_true)) == 2:  # both classes present: then the two definitions agree
        assert M.balanced_accuracy_eq9(y_true, y_pred) == pytest.approx(
            M.balanced_accuracy(y_true, y_pred), abs=1e-12)


@SETTINGS
@given(prob_problems(every_class=False))
def test_log_loss_matches_sklearn(data):
    y_true, y_prob, c = data
    assert M.log_loss(y_true, y_prob) == pytest.approx(
        skm.log_loss(y_true, y_prob, labels=range(c)), abs=1e-10)


@SETTINGS
@given(prob_problems(), st.sampled_from(["macro", "weighted"]))
def test_roc_auc_matches_sklearn(data, average):
    y_true, y_prob, c = data
    ours = M.roc_auc_ovr(y_true, y_prob, average=average)
    if c == 2:  # sklearn takes the positive-class column for binary problems
        want = skm.roc_auc_score(y_true, y_prob[:, 1])
    else:
        want = skm.roc_auc_score(y_true, y_prob, multi_class="ovr", average=average)
    assert ours == pytest.approx(want, abs=1e-10)


@SETTINGS
@given(prob_problems(quantise=True), st.sampled_from(["macro", "weighted"]))
def test_roc_auc_with_ties_matches_sklearn(data, average):
    y_true, y_prob, c = data
    # Ties are present: a column rounded to 0.1 steps has at most ~11 distinct values.
    assert len(np.unique(y_prob[:, 0])) < len(y_prob) or len(y_prob) <= 11
    want = (skm.roc_auc_score(y_true, y_prob[:, 1]) if c == 2 else
            skm.roc_auc_score(y_true, y_prob, multi_class="ovr", average=average))
    assert M.roc_auc_ovr(y_true, y_prob, average=average) == pytest.approx(want, abs=1e-10)


def test_roc_auc_all_tied_scores_give_one_half():
    y_true = np.array([0, 1, 0, 1, 2, 2])
    y_prob = np.full((6, 3), 1 / 3)
    assert M.roc_auc_ovr(y_true, y_prob) == pytest.approx(0.5)


# ----------------------------------------------------------------------------- by hand

# Two classes: 3 TP, 4 TN, 2 FP, 1 FN (class 1 is "positive").
TP, TN, FP, FN = 3, 4, 2, 1
Y_TRUE_2 = np.array([1] * TP + [0] * TN + [0] * FP + [1] * FN)
Y_PRED_2 = np.array([1] * TP + [0] * TN + [1] * FP + [0] * FN)


def test_two_class_mcc_equals_eq7():
    eq7 = (TP * TN - FP * FN) / np.sqrt((TP + FP) * (TP + FN) * (TN + FP) * (TN + FN))
    assert M.matthews_corrcoef(Y_TRUE_2, Y_PRED_2) == pytest.approx(eq7, abs=1e-12)
    assert eq7 == pytest.approx((12 - 2) / np.sqrt(5 * 4 * 6 * 5))


def test_two_class_metrics_by_hand():
    assert M.accuracy(Y_TRUE_2, Y_PRED_2) == pytest.approx((TP + TN) / (TP + TN + FP + FN))
    p, r, f = M.precision_recall_f1(Y_TRUE_2, Y_PRED_2, average=None)
    assert p[1] == pytest.approx(TP / (TP + FP)) and r[1] == pytest.approx(TP / (TP + FN))
    assert f[1] == pytest.approx(2 * p[1] * r[1] / (p[1] + r[1]))
    sens, spec = M.sensitivity_specificity(Y_TRUE_2, Y_PRED_2)
    assert sens[1] == pytest.approx(TP / (TP + FN)) and spec[1] == pytest.approx(TN / (TN + FP))


def test_mcc_degenerate_cases():
    assert M.matthews_corrcoef([0, 1, 2, 1], [0, 1, 2, 1]) == pytest.approx(1.0)
    assert M.matthews_corrcoef([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)
    assert M.matthews_corrcoef([0, 1, 2, 1], [1, 1, 1, 1]) == 0.0  # one predicted class: 0/0


def test_sensitivity_specificity_three_classes_by_hand():
    # 10 examples, 3 classes. Pairs (true, predicted):
    y_true = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 0])
    # class 0: TP=3 (first three), FN=1 (0->1), FP=1 (2->0), TN=10-3-1-1=5
    # class 1: TP=2, FN=1 (1->2), FP=1 (0->1), TN=10-2-1-1=6
    # class 2: TP=2, FN=1 (2->0), FP=1 (1->2), TN=10-2-1-1=6
    want_sens = [3 / 4, 2 / 3, 2 / 3]
    want_spec = [5 / 6, 6 / 7, 6 / 7]
    sens, spec = M.sensitivity_specificity(y_true, y_pred)
    np.testing.assert_allclose(sens, want_sens)
    np.testing.assert_allclose(spec, want_spec)
    want_eq9 = np.mean([(s + p) / 2 for s, p in zip(want_sens, want_spec)])
    assert M.balanced_accuracy_eq9(y_true, y_pred) == pytest.approx(want_eq9)
    assert M.balanced_accuracy(y_true, y_pred) == pytest.approx(np.mean(want_sens))
    np.testing.assert_array_equal(M.confusion_matrix(y_true, y_pred),
                                  [[3, 1, 0], [0, 2, 1], [1, 0, 2]])


def test_eq9_constant_prediction_example_from_docstring():
    y_true = np.repeat(np.arange(8), 5)
    y_pred = np.zeros(40, dtype=int)
    assert M.balanced_accuracy(y_true, y_pred) == pytest.approx(1 / 8)
    assert M.balanced_accuracy_eq9(y_true, y_pred) == pytest.approx(0.5)


def test_log_loss_clips_zero_probability():
    y_prob = np.array([[1.0, 0.0], [0.5, 0.5]])
    want = -(np.log(1e-15) + np.log(0.5)) / 2
    assert M.log_loss([1, 0], y_prob) == pytest.approx(want)


def test_whole_valued_float_labels_are_accepted():
    assert M.accuracy(np.array([0.0, 1.0, 2.0]), [0, 1, 1]) == pytest.approx(2 / 3)


# ----------------------------------------------------------------------------- report

@SETTINGS
@given(prob_problems(every_class=False))
def test_classification_metrics_is_json_and_consistent(data):
    y_true, y_prob, c = data
    names = [f"class{i}" for i in range(c)]
    report = M.classification_metrics(y_true, y_prob, class_names=names)
    back = json.loads(json.dumps(report))
    assert back == report  # plain Python types only: survives a JSON round trip unchanged
    y_pred = y_prob.argmax(axis=1)
    assert report["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    for average in ("weighted", "macro"):
        for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
            assert report[f"{name}_{average}"] == pytest.approx(fn(
                y_true, y_pred, labels=range(c), average=average, zero_division=0)), (name, average)
    assert report["mcc"] == pytest.approx(skm.matthews_corrcoef(y_true, y_pred), abs=1e-12)
    assert report["log_loss"] == pytest.approx(skm.log_loss(y_true, y_prob, labels=range(c)))
    assert report["balanced_accuracy"] == pytest.approx(
        (report["sensitivity_mean"] + report["specificity_mean"]) / 2)
    assert report["balanced_accuracy_recall"] == pytest.approx(report["sensitivity_mean"])
    assert report["confusion_matrix"] == skm.confusion_matrix(y_true, y_pred,
                                                              labels=range(c)).tolist()
    assert [row["name"] for row in report["per_class"]] == names == report["class_names"]
    support = np.bincount(y_true, minlength=c).tolist()
    assert [row["support"] for row in report["per_class"]] == support
    counts = np.bincount(y_true, minlength=c)
    if np.all(counts > 0):
        assert report["roc_auc_ovr"] == pytest.approx(M.roc_auc_ovr(y_true, y_prob))
    else:
        assert report["roc_auc_ovr"] is None


def test_classification_metrics_default_names():
    report = M.classification_metrics([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert report["class_names"] == ["0", "1"]
    assert report["accuracy"] == pytest.approx(2 / 3)
    assert report["roc_auc_ovr"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, match", [
    (lambda: M.accuracy(np.zeros(10, int), np.zeros(9, int)),
     "y_true has 10 labels but y_pred has 9"),
    (lambda: M.confusion_matrix([0, 1.5], [0, 1]), "integer class ids"),
    (lambda: M.confusion_matrix(["a", "b"], [0, 1]), "integer class ids"),
    (lambda: M.precision_recall_f1([0, -1], [0, 1]), "y_true must hold class ids >= 0"),
    (lambda: M.matthews_corrcoef([0, 1], [0, 3], num_classes=3), r"labels must be in 0\.\.2"),
    (lambda: M.balanced_accuracy([], []), "y_true is empty"),
    (lambda: M.sensitivity_specificity([[0, 1]], [[0, 1]]), "1-D array"),
    (lambda: M.confusion_matrix([0, 1], [0, 1], num_classes=0), "positive integer"),
    (lambda: M.precision_recall_f1([0, 1], [0, 1], average="micro"), "average must be"),
    (lambda: M.log_loss([0, 1], [0.5, 0.5]), r"2-D \(N, C\) array"),
    (lambda: M.log_loss([0, 2], [[0.5, 0.5], [0.5, 0.5]]),
     "y_prob has 2 columns but y_true contains label 2; expected at least 3"),
    (lambda: M.log_loss([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]]),
     "y_true has 3 labels but y_prob has 2 rows"),
    (lambda: M.log_loss([0, 1], [[2.0, -1.0], [0.5, 0.5]]), r"probabilities in \[0, 1\]"),
    (lambda: M.log_loss([0, 1], [[0.5, 0.5], [0.5, 0.5]], eps=0), "eps must be"),
    (lambda: M.roc_auc_ovr([0, 0, 1], [[0.5, 0.3, 0.2]] * 3), "class 2 has 0 of 3"),
    (lambda: M.roc_auc_ovr([0, 1], [[0.5, 0.5]] * 2, average=None), "average must be"),
    (lambda: M.classification_metrics([0, 1], [[0.5, 0.5]] * 2, class_names=["a"]),
     "class_names has 1 names but y_prob has 2 columns"),
    (lambda: M.count_parameters(object()), "parameters\\(\\) method"),
    (lambda: M.inference_speed(lambda b: b, np.zeros(0)), "x is empty"),
    (lambda: M.inference_speed(lambda b: b, np.zeros(3), batch_size=0), "batch_size must be"),
])
def test_bad_input_raises_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_roc_auc_undefined_when_class_has_no_negatives():
    with pytest.raises(ValueError, match="positive and negative examples"):
        M.roc_auc_ovr([0, 0, 0], [[0.6, 0.4]] * 3)


# ----------------------------------------------------------------------------- efficiency

class _Param:
    def __init__(self, *shape):
        self.data = np.zeros(shape)


class _Model:
    def parameters(self):
        yield _Param(3, 4)   # weight: 12
        yield _Param(4)      # bias: 4
        yield np.ones((2, 5))  # a bare ndarray: 10


def test_count_parameters():
    assert M.count_parameters(_Model()) == 12 + 4 + 10


def test_stopwatch_measures_elapsed_time():
    with M.Stopwatch() as sw:
        time.sleep(0.02)
        assert 0 < sw.seconds < 1  # readable while running
    assert 0.015 < sw.seconds < 1.0
    frozen = sw.seconds
    time.sleep(0.005)
    assert sw.seconds == frozen  # stopped on exit


def test_inference_speed_on_trivial_function():
    seen = []

    def predict(batch):
        seen.append(len(batch))
        return batch * 2

    x = np.arange(1000.0)
    out = M.inference_speed(predict, x, batch_size=300, warmup=2, repeats=3)
    assert seen == [300, 300] + [300, 300, 300, 100] * 3  # 2 warm-up calls, then 3 full passes
    assert out["seconds"] > 0 and out["ms_per_sample"] > 0 and out["samples_per_second"] > 0
    assert out["samples_per_second"] == pytest.approx(1000 / out["ms_per_sample"])
    assert out["ms_per_sample"] == pytest.approx(1000 * out["seconds"] / len(x))
