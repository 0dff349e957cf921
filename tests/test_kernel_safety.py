"""Every kernel checks its arguments before its compiled loops run, so none can read or write out of bounds.

The table gives each numba kernel (``minigrad.kernels.*.*_numba``) valid arguments and then, one at a time,
a wrong shape, a wrong dtype, a layout its loops cannot walk, or a geometry they would overrun; each must
raise TypeError or ValueError naming the kernel and the argument. Without the checks some of these calls
crash the interpreter, so the whole table runs in one subprocess and each test reads its case's outcome
from there. The CUDA kernels run the same checks before they import CuPy.
"""

import importlib
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minigrad import kernels

F32, F64, I64 = np.float32, np.float64, np.int64


def a(*shape, dtype=F32):
    return np.zeros(shape, dtype)


def strided(*shape):
    """A view of ``shape`` that is not C-contiguous (every other element of its last axis)."""
    return np.zeros(shape[:-1] + (2 * shape[-1],), F32)[..., ::2]


def read_only(*shape):
    x = a(*shape)
    x.flags.writeable = False
    return x


def geometry(kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1)):
    return dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)


# kernel -> (module, valid arguments by name, in the kernel's order)
VALID = {
    "adam_update": ("adam", lambda: dict(p=a(4, 5), g=a(4, 5), m=a(4, 5), v=a(4, 5), lr=0.01, beta1=0.9,
                                         beta2=0.999, eps=1e-8, step=1, weight_decay=0.0, decoupled=False)),
    "relu_backward": ("relu", lambda: dict(g=a(2, 3), y=a(2, 3))),
    "weight_grad": ("conv_weight", lambda: dict(dwt=a(18, 4), w_shape=(4, 2, 3, 3), live=(slice(0, 3), slice(0, 3)))),
    "im2col": ("im2col", lambda: dict(x=a(2, 3, 5, 5), **geometry(), out_size=(5, 5))),
    "col2im": ("im2col", lambda: dict(cols=a(50, 27), x_shape=(2, 3, 5, 5), **geometry(), out_size=(5, 5))),
    "max_pool2d_forward": ("pool", lambda: dict(x=a(2, 3, 6, 6), **geometry((2, 2), (2, 2), (0, 0)), out=(3, 3))),
    "max_pool2d_backward": ("pool", lambda: dict(grad=a(2, 3, 3, 3), argmax=a(2, 3, 3, 3, dtype=np.int32),
                                                 x_shape=(2, 3, 6, 6), **geometry((2, 2), (2, 2), (0, 0)))),
    "avg_pool2d_forward": ("pool", lambda: dict(x=a(2, 3, 6, 6), kernel=(2, 2), stride=(2, 2), padding=(0, 0),
                                                out=(3, 3), count_include_pad=True, divisor_override=None)),
    "avg_pool2d_backward": ("pool", lambda: dict(grad=a(2, 3, 3, 3), x_shape=(2, 3, 6, 6), kernel=(2, 2),
                                                 stride=(2, 2), padding=(0, 0), count_include_pad=True,
                                                 divisor_override=None)),
    "adaptive_avg_pool2d_forward": ("pool", lambda: dict(x=a(2, 3, 6, 6), out=(2, 2))),
    "adaptive_avg_pool2d_backward": ("pool", lambda: dict(grad=a(2, 3, 2, 2), x_shape=(2, 3, 6, 6))),
    "batch_stats": ("batchnorm", lambda: dict(x=a(2, 3, 4))),
    "scale_shift": ("batchnorm", lambda: dict(x=a(2, 3, 4), scale=a(3, dtype=F64), shift=a(3, dtype=F64))),
    "backward": ("batchnorm", lambda: dict(g=a(2, 3, 4), x=a(2, 3, 4), mean=a(3, dtype=F64), invstd=a(3, dtype=F64),
                                           weight=a(3, dtype=F64), training=True)),
    "lstm_step": ("rnn", lambda: dict(xg=a(2, 12), hg=a(2, 12), c_prev=a(2, 3), gates=a(2, 12), c=a(2, 3),
                                      tanh_c=a(2, 3), h=a(2, 3))),
    "lstm_step_backward": ("rnn", lambda: dict(gates=a(2, 12), c_prev=a(2, 3), tanh_c=a(2, 3), dh=a(2, 3),
                                               dc=a(2, 3), d_gates=a(2, 12), dc_prev=a(2, 3))),
    "gru_step": ("rnn", lambda: dict(xg=a(2, 9), hg=a(2, 9), h_prev=a(2, 3), gates=a(2, 9), h=a(2, 3))),
    "gru_step_backward": ("rnn", lambda: dict(gates=a(2, 9), hg=a(2, 9), h_prev=a(2, 3), dh=a(2, 3), dxg=a(2, 9),
                                              dhg=a(2, 9), dh_prev=a(2, 3))),
}

S, D = "shape", "dtype or layout"
# (kernel, case, what it changes, which kind of mistake, the error, a regex its message must match)
CASES = [
    ("adam_update", "m-shape", lambda: dict(m=a(2, 3)), S, ValueError, r"m must have shape \(4, 5\), got \(2, 3\)"),
    ("adam_update", "g-size", lambda: dict(g=a(6)), S, ValueError, r"g must have shape \(4, 5\), got \(6,\)"),
    ("adam_update", "step-0", lambda: dict(step=0), S, ValueError, r"step must be >= 1, got 0"),
    ("adam_update", "p-strided", lambda: dict(p=strided(4, 5)), D, ValueError, r"p must be C-contiguous"),
    ("adam_update", "g-float64", lambda: dict(g=a(4, 5, dtype=F64)), D, TypeError,
     r"g must have dtype float32, got float64"),
    ("adam_update", "p-int", lambda: dict(p=a(4, 5, dtype=I64)), D, TypeError,
     r"p must have dtype float32 or float64, got int64"),
    ("adam_update", "v-read-only", lambda: dict(v=read_only(4, 5)), D, ValueError,
     r"v is written to, but got a read-only"),
    ("adam_update", "p-list", lambda: dict(p=[0.0] * 20), D, TypeError, r"p must be a NumPy array, got list"),
    ("relu_backward", "y-shape", lambda: dict(y=a(3, 2)), S, ValueError, r"y must have shape \(2, 3\), got \(3, 2\)"),
    ("relu_backward", "g-int", lambda: dict(g=a(2, 3, dtype=I64)), D, TypeError, r"g must have dtype .*got int64"),
    ("relu_backward", "y-list", lambda: dict(y=[[0.0] * 3] * 2), D, TypeError, r"y must be a NumPy array"),
    ("weight_grad", "dwt-shape", lambda: dict(dwt=a(17, 4)), S, ValueError,
     r"dwt must have shape \(18, 4\), got \(17, 4\)"),
    ("weight_grad", "live-outside", lambda: dict(live=(slice(1, 4), slice(0, 3))), S, ValueError,
     r"live\[0\] must be a slice start:stop with 0 <= start < stop <= 3"),
    ("weight_grad", "w_shape-3", lambda: dict(w_shape=(4, 2, 3)), S, ValueError, r"w_shape must be 4 ints >= 1"),
    ("weight_grad", "dwt-int", lambda: dict(dwt=a(18, 4, dtype=I64)), D, TypeError, r"dwt must have dtype"),
    ("im2col", "x-3d", lambda: dict(x=a(3, 5, 5)), S, ValueError,
     r"x must have shape \(\*, \*, \*, \*\), got \(3, 5, 5\)"),
    ("im2col", "stride-0", lambda: dict(stride=(0, 1)), S, ValueError, r"stride must be 2 ints >= 1, got \(0, 1\)"),
    ("im2col", "padding-negative", lambda: dict(padding=(-1, 0)), S, ValueError, r"padding must be 2 ints >= 0"),
    ("im2col", "x-int", lambda: dict(x=a(2, 3, 5, 5, dtype=I64)), D, TypeError, r"x must have dtype"),
    ("col2im", "cols-shape", lambda: dict(cols=a(49, 27)), S, ValueError,
     r"cols must have shape \(50, 27\), got \(49, 27\)"),
    ("col2im", "x_shape-3", lambda: dict(x_shape=(2, 3, 5)), S, ValueError, r"x_shape must be 4 ints >= 0"),
    ("col2im", "cols-float16", lambda: dict(cols=a(50, 27, dtype=np.float16)), D, TypeError, r"cols must have dtype"),
    ("max_pool2d_forward", "x-3d", lambda: dict(x=a(3, 6, 6)), S, ValueError, r"x must have shape"),
    ("max_pool2d_forward", "kernel-0", lambda: dict(kernel=(0, 2)), S, ValueError, r"kernel must be 2 ints >= 1"),
    ("max_pool2d_forward", "x-int", lambda: dict(x=a(2, 3, 6, 6, dtype=I64)), D, TypeError, r"x must have dtype"),
    ("max_pool2d_backward", "argmax-shape", lambda: dict(argmax=a(2, 3, 2, 3, dtype=np.int32)), S, ValueError,
     r"argmax must have shape \(2, 3, 3, 3\), got \(2, 3, 2, 3\)"),
    ("max_pool2d_backward", "grad-batch", lambda: dict(grad=a(3, 3, 3, 3)), S, ValueError,
     r"grad must have shape \(2, 3, \*, \*\), got \(3, 3, 3, 3\)"),
    ("max_pool2d_backward", "argmax-int64", lambda: dict(argmax=a(2, 3, 3, 3, dtype=I64)), D, TypeError,
     r"argmax must have dtype int32, got int64"),
    ("avg_pool2d_forward", "x-3d", lambda: dict(x=a(3, 6, 6)), S, ValueError, r"x must have shape"),
    ("avg_pool2d_forward", "divisor-0", lambda: dict(divisor_override=0), S, ValueError,
     r"divisor_override must be None or a non-zero int"),
    ("avg_pool2d_forward", "x-int", lambda: dict(x=a(2, 3, 6, 6, dtype=I64)), D, TypeError, r"x must have dtype"),
    ("avg_pool2d_backward", "grad-channels", lambda: dict(grad=a(2, 4, 3, 3)), S, ValueError,
     r"grad must have shape \(2, 3, \*, \*\), got \(2, 4, 3, 3\)"),
    ("avg_pool2d_backward", "grad-int", lambda: dict(grad=a(2, 3, 3, 3, dtype=I64)), D, TypeError,
     r"grad must have dtype"),
    ("adaptive_avg_pool2d_forward", "out-0", lambda: dict(out=(0, 2)), S, ValueError, r"out must be 2 ints >= 1"),
    ("adaptive_avg_pool2d_forward", "x-int", lambda: dict(x=a(2, 3, 6, 6, dtype=I64)), D, TypeError,
     r"x must have dtype"),
    ("adaptive_avg_pool2d_backward", "grad-batch", lambda: dict(grad=a(1, 3, 2, 2)), S, ValueError,
     r"grad must have shape \(2, 3, \*, \*\)"),
    ("adaptive_avg_pool2d_backward", "grad-float16", lambda: dict(grad=a(2, 3, 2, 2, dtype=np.float16)), D,
     TypeError, r"grad must have dtype"),
    ("batch_stats", "x-2d", lambda: dict(x=a(2, 3)), S, ValueError, r"x must have shape \(\*, \*, \*\), got \(2, 3\)"),
    ("batch_stats", "x-int", lambda: dict(x=a(2, 3, 4, dtype=I64)), D, TypeError, r"x must have dtype"),
    ("scale_shift", "scale-short", lambda: dict(scale=a(2, dtype=F64)), S, ValueError,
     r"scale must have shape \(3,\), got \(2,\)"),
    ("scale_shift", "shift-int", lambda: dict(shift=a(3, dtype=I64)), D, TypeError, r"shift must have dtype"),
    ("backward", "g-shape", lambda: dict(g=a(2, 3, 5)), S, ValueError,
     r"g must have shape \(2, 3, 4\), got \(2, 3, 5\)"),
    ("backward", "weight-short", lambda: dict(weight=a(2, dtype=F64)), S, ValueError, r"weight must have shape \(3,\)"),
    ("backward", "mean-int", lambda: dict(mean=a(3, dtype=I64)), D, TypeError, r"mean must have dtype"),
    ("lstm_step", "hg-width", lambda: dict(hg=a(2, 9)), S, ValueError, r"hg must have shape \(2, 12\), got \(2, 9\)"),
    ("lstm_step", "gates-strided", lambda: dict(gates=strided(2, 12)), D, ValueError, r"gates must be C-contiguous"),
    ("lstm_step", "c-int", lambda: dict(c=a(2, 3, dtype=I64)), D, TypeError, r"c must have dtype"),
    ("lstm_step", "h-read-only", lambda: dict(h=read_only(2, 3)), D, ValueError, r"h is written to"),
    ("lstm_step_backward", "d_gates-batch", lambda: dict(d_gates=a(1, 12)), S, ValueError,
     r"d_gates must have shape \(2, 12\), got \(1, 12\)"),
    ("lstm_step_backward", "dc_prev-float16", lambda: dict(dc_prev=a(2, 3, dtype=np.float16)), D, TypeError,
     r"dc_prev must have dtype"),
    ("gru_step", "h-shape", lambda: dict(h=a(2, 4)), S, ValueError, r"h must have shape \(2, 3\), got \(2, 4\)"),
    ("gru_step", "h_prev-1d", lambda: dict(h_prev=a(3)), S, ValueError, r"h_prev must have shape \(\*, \*\)"),
    ("gru_step", "xg-strided", lambda: dict(xg=strided(2, 9)), D, ValueError, r"xg must be C-contiguous"),
    ("gru_step_backward", "dhg-shape", lambda: dict(dhg=a(2, 6)), S, ValueError, r"dhg must have shape \(2, 9\)"),
    ("gru_step_backward", "dh-int", lambda: dict(dh=a(2, 3, dtype=I64)), D, TypeError, r"dh must have dtype"),
]
CASE_IDS = [f"{kernel}-{case}" for kernel, case, *_ in CASES]


def kernel_function(name, kind):
    module, _ = VALID[name]
    return getattr(importlib.import_module(f"minigrad.kernels.{module}"), f"{name}_{kind}")


def run_cases():
    """Run every case (in the subprocess); print one JSON line per case as it finishes."""
    for (kernel, case, changes, *_), case_id in zip(CASES, CASE_IDS):
        arguments = {**VALID[kernel][1](), **changes()}
        try:
            kernel_function(kernel, "numba")(*arguments.values())
            outcome = {"error": None, "message": ""}
        except Exception as e:                                  # the test judges which error it was
            outcome = {"error": type(e).__name__, "message": str(e)}
        print(json.dumps({"id": case_id, **outcome}), flush=True)


@pytest.fixture(scope="module")
def outcomes():
    """Each case's outcome from one subprocess, and its return code (a crash leaves later cases out)."""
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_kernel_safety; " \
           "test_kernel_safety.run_cases()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            results[entry.pop("id")] = entry
    return results, done.returncode, done.stderr[-2000:]


@pytest.mark.parametrize("kernel,case,changes,kind,error,match", CASES, ids=CASE_IDS)
def test_a_wrong_argument_raises_naming_the_kernel_and_the_argument(outcomes, kernel, case, changes, kind, error,
                                                                   match):
    results, rc, stderr = outcomes
    case_id = f"{kernel}-{case}"
    assert case_id in results, f"the subprocess ended (return code {rc}) before this case ran:\n{stderr}"
    outcome = results[case_id]
    assert outcome["error"] == error.__name__, outcome
    assert outcome["message"].startswith(f"{kernel}_numba: "), outcome
    assert re.search(match, outcome["message"]), outcome


def numba_kernels():
    """Every public ``*_numba`` function of the kernel modules, as the name its table entry uses."""
    names = []
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"minigrad.kernels.{info.name}")
        names += [name[:-len("_numba")] for name in dir(module) if name.endswith("_numba")
                  and not name.startswith("_") and callable(getattr(module, name))]
    return sorted(names)


def test_every_numba_kernel_refuses_a_wrong_shape_and_a_wrong_dtype_or_layout(outcomes):
    results, rc, stderr = outcomes
    refused = {}
    for (kernel, case, _, kind, error, match), case_id in zip(CASES, CASE_IDS):
        outcome = results.get(case_id, {})
        if outcome.get("error") == error.__name__ and re.search(match, outcome["message"]):
            refused.setdefault(kernel, set()).add(kind)
    missing = {k: sorted({S, D} - refused.get(k, set())) for k in numba_kernels() if refused.get(k) != {S, D}}
    assert missing == {}, f"kernels that do not refuse these kinds of mistake (return code {rc}): {missing}"


@pytest.mark.parametrize("kernel", sorted(VALID))
def test_the_cuda_kernels_check_their_arguments_before_using_cupy(kernel):
    with pytest.raises(TypeError, match=rf"^{kernel}_cuda: \w+ must be a CuPy array, got ndarray"):
        kernel_function(kernel, "cuda")(*VALID[kernel][1]().values())

