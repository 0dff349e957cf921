"""Kernels: each op's slow inner loops, written three ways side by side.

A kernel exists only where plain array code is slow: several passes over memory that one fused loop can
do in one, or loops NumPy cannot vectorise. Every kernel module holds

    name_reference(...)   the formula in array code (NumPy, or CuPy: it uses ``xp``), the version to read first
    name_numba(...)       the same formula as explicit loops compiled by numba for the CPU (``cache=True``)
    name_cuda(...)        the same loops compiled by numba.cuda for an NVIDIA GPU: one thread per output
                          element, on CuPy arrays (through ``__cuda_array_interface__``)

and one :class:`Kernel` entry that names the three and says which arguments the compiled ones take. An op
calls the entry, ``relu_backward(g, y)``, and it runs numba's loops for NumPy arrays, the CUDA kernel for
CuPy arrays, and the reference where the arguments are not what the compiled loops take (another dtype or
layout) or where they are switched off (``MINIGRAD_NUMBA=0``, ``MINIGRAD_CUDA_KERNELS=0``). ``REGISTRY``
lists every entry, and the tests walk it: each compiled version against its reference, the CUDA ones in
numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, on NumPy arrays) where there is no GPU.

Compiled loops do not check their indices: an array smaller than the loop bounds assume is read or
written out of bounds (a crash, or silently changed memory). So every ``name_numba`` and ``name_cuda`` is
a Python function that first checks, with :func:`expect` and :func:`expect_ints`, the shapes, dtypes and
layouts its loops rely on, and raises a TypeError or ValueError naming the kernel and the argument. The
checks look at shapes and flags only: their cost does not grow with the arrays.
"""

import functools
import numbers
import os

import numba
import numpy as np

from ..backend import device_of, get_array_module


def enabled(xp=np):
    """Whether to use the numba kernels for arrays of module ``xp``."""
    return xp is np and os.environ.get("MINIGRAD_NUMBA", "1") != "0"


def cuda_enabled(xp):
    """Whether to use the CUDA kernels for arrays of module ``xp`` (CuPy)."""
    return xp is not np and os.environ.get("MINIGRAD_CUDA_KERNELS", "1") != "0"


FLOATS = frozenset([np.dtype(np.float32), np.dtype(np.float64)])     # the dtypes the kernels are compiled for
ARRAY_KIND = {"cpu": "NumPy", "cuda": "CuPy"}
REGISTRY = {}                                                          # name -> Kernel, every kernel there is
GPU_KERNELS = []                                                       # every gpu_kernel function


def is_array(value):
    return hasattr(value, "shape") and hasattr(value, "dtype")


def float_arrays(*args, **kwargs):
    """The default test of what compiled loops take: every array argument float32 or float64, all of one
    dtype (a kernel is compiled per dtype; others, such as float16 or a mix, run the reference)."""
    dtypes = {a.dtype for a in args if is_array(a)}
    return len(dtypes) == 1 and dtypes <= FLOATS


class Kernel:
    """One kernel: its reference, its numba version for the CPU and numba.cuda version for a GPU, and
    ``fast(*args)``, which says whether the compiled versions take these arguments (the reference runs
    where they do not). Calling it runs the version for the array module of its first argument."""

    def __init__(self, name, reference, cpu=None, gpu=None, fast=float_arrays):
        self.name, self.reference, self.cpu, self.gpu, self.fast = name, reference, cpu, gpu, fast
        REGISTRY[name] = self

    def implementation(self, *args, **kwargs):
        """The function that a call with these arguments runs."""
        compiled = self.cpu if enabled(get_array_module(args[0])) else \
            self.gpu if cuda_enabled(get_array_module(args[0])) else None
        return compiled if compiled is not None and self.fast(*args, **kwargs) else self.reference

    def __call__(self, *args, **kwargs):
        return self.implementation(*args, **kwargs)(*args, **kwargs)

    def __repr__(self):
        return f"Kernel({self.name!r})"


class gpu_kernel:
    """A function compiled by numba.cuda at its first launch, ``kernel[blocks, threads](arrays...)``.

    numba.cuda is imported only then, not with minigrad (it takes as long to import as the rest of
    minigrad). The kernel's module names it ``cuda`` (``cuda.grid(1)``), and that name is bound here,
    before compiling. Under ``NUMBA_ENABLE_CUDASIM=1`` numba runs the same Python function in its CUDA
    simulator instead, thread by thread on NumPy arrays: that is how CI, without a GPU, runs every kernel.
    """

    def __init__(self, function):
        self.function, self.compiled = function, None
        functools.update_wrapper(self, function)
        GPU_KERNELS.append(self)

    def bind(self):
        """Bind the names the kernel's module leaves for numba.cuda (``cuda``, and its helpers compiled as
        device functions); return numba.cuda."""
        from numba import cuda
        names = self.function.__globals__
        names["cuda"] = cuda
        for name, value in list(names.items()):
            if isinstance(value, gpu_device_function):
                names[name] = cuda.jit(device=True)(value.function)
        return cuda

    def __getitem__(self, launch):
        if self.compiled is None:
            numba.config.CUDA_LOW_OCCUPANCY_WARNINGS = False    # small batches make small grids, by design
            self.compiled = self.bind().jit(self.function)
        return self.compiled[launch]

    def ptx(self, argument_types, compute_capability=(9, 0)):
        """The kernel compiled to PTX for these numba types of its arguments: what the GPU's driver would be
        given, made without a GPU (numba's NVVM compiler is enough), so CI can check that it compiles."""
        ptx, _ = self.bind().compile_ptx(self.function, tuple(argument_types), cc=compute_capability)
        return ptx


class gpu_device_function:
    """A helper that the :class:`gpu_kernel` functions of its module call on the GPU: compiled with the
    first of them to launch (numba.cuda's ``device=True``), under the name it has in the module."""

    def __init__(self, function):
        self.function = function
        functools.update_wrapper(self, function)


@gpu_device_function
def unravel(i, d1, d2, d3):
    """The index (i0, i1, i2, i3) of element ``i`` of a C-order array of shape (*, d1, d2, d3): how a GPU
    thread with one element to write finds it (an (N, H, W, C) image, or the trailing axes of a larger one)."""
    i3 = i % d3
    i //= d3
    i2 = i % d2
    i //= d2
    return i // d1, i % d1, i2, i3


@gpu_device_function
def window_reaching(position, padding, tap, dilation, stride, windows):
    """Along one axis, the window p whose tap ``tap`` reads input ``position``, p stride - padding +
    tap dilation = position, or -1 where no window 0 <= p < windows does: how a backward thread gathers
    the windows that read its input element instead of having each window scatter into it."""
    offset = position + padding - tap * dilation
    if offset < 0 or offset % stride != 0 or offset // stride >= windows:
        return -1
    return offset // stride


THREADS_PER_BLOCK = 128


def launch(size):
    """The launch configuration (blocks, threads per block) of a kernel with one thread per element of
    ``size`` elements: ``kernel[launch(n)](...)``."""
    return max(1, -(-size // THREADS_PER_BLOCK)), THREADS_PER_BLOCK


def simulating():
    """Whether numba.cuda is numba's CUDA simulator, in which NumPy arrays stand for device arrays."""
    return bool(numba.config.ENABLE_CUDASIM)


def expect(who, name, array, shape=None, dtype=FLOATS, contiguous=False, writable=False, device="cpu"):
    """Check that argument ``name`` of kernel ``who`` is an array that kernel's loops can index; return it.

    shape: the sizes it must have, a tuple with None where any size will do (its length fixes ndim);
    dtype: a dtype, or a frozenset of the dtypes allowed (None: any); contiguous: C order required;
    writable: the kernel writes into it; device: "cpu" for a NumPy array, "cuda" for a CuPy array.
    Raises TypeError for another kind of object or dtype, ValueError for another shape or layout.
    """
    if not (isinstance(array, np.ndarray) if device == "cpu" else _on_device(array, device)):
        raise TypeError(f"{who}: {name} must be a {ARRAY_KIND[device]} array, got {type(array).__name__}")
    if dtype is not None and not (array.dtype in dtype if type(dtype) is frozenset else array.dtype == dtype):
        allowed = sorted(str(d) for d in dtype) if type(dtype) is frozenset else [str(np.dtype(dtype))]
        raise TypeError(f"{who}: {name} must have dtype {' or '.join(allowed)}, got {array.dtype}")
    if shape is not None and array.shape != shape and not _fits(array.shape, shape):
        raise ValueError(f"{who}: {name} must have shape {_show(shape)}, got {tuple(array.shape)}")
    if contiguous or writable:
        _expect_flags(who, name, array, contiguous, writable and device == "cpu")
    return array


def _on_device(array, device):
    if device == "cuda" and simulating() and isinstance(array, np.ndarray):
        return True
    return is_array(array) and device_of(array) == device


def _fits(actual, spec):
    if len(actual) != len(spec):
        return False
    for a, s in zip(actual, spec):
        if s is not None and a != s:
            return False
    return True


def _show(spec):
    """A shape spec as text, ``*`` where any size will do: (3, *)."""
    sizes = ["*" if s is None else str(int(s)) for s in spec]
    return "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"


def _expect_flags(who, name, array, contiguous, writable):
    flags = array.flags
    if contiguous and not flags.c_contiguous:
        raise ValueError(f"{who}: {name} must be C-contiguous, got strides {array.strides} for shape "
                         f"{tuple(array.shape)}")
    if writable and not flags.writeable:
        raise ValueError(f"{who}: {name} is written to, but got a read-only array")


def expect_ints(who, name, values, count, minimum):
    """Check that ``values`` (sizes, strides, paddings of kernel ``who``) is a sequence of ``count`` ints,
    each at least ``minimum``; return it, or raise a ValueError naming the kernel and the argument."""
    try:
        ok = len(values) == count and all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                          and v >= minimum for v in values)
    except TypeError:                                   # not a sequence
        ok = False
    if not ok:
        raise ValueError(f"{who}: {name} must be {count} ints >= {minimum}, got {values!r}")
    return values


def expect_geometry(who, kernel, stride, padding, dilation, out, out_name="out"):
    """A window geometry of convolution or pooling: kernel, stride, dilation and out pairs of ints >= 1,
    padding a pair of ints >= 0 (dilation None where the kernel has none)."""
    expect_ints(who, "kernel", kernel, 2, 1)
    expect_ints(who, "stride", stride, 2, 1)
    expect_ints(who, "padding", padding, 2, 0)
    if dilation is not None:
        expect_ints(who, "dilation", dilation, 2, 1)
    expect_ints(who, out_name, out, 2, 1)


def channels_last(x):
    """x (N, C, H, W) as a C-contiguous (N, H, W, C) array: a view when its memory is already laid out so.

    Convolution and pooling kernels read images channels-last (see ``minigrad.kernels.im2col``)."""
    return get_array_module(x).ascontiguousarray(x.transpose(0, 2, 3, 1))
