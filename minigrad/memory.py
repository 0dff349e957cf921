"""Why minigrad asks the C allocator to keep freed memory.

A training step makes and drops many large arrays: im2col columns of tens of megabytes, activations,
gradients. NumPy gets their memory from the C library's ``malloc``. glibc serves a request of more than
128 KiB with fresh pages mapped from the kernel (``mmap``) and hands them back (``munmap``) when the array
is freed, so the next step's arrays land on new pages again, and the kernel zeroes every 4 KiB page the
first time it is written: a page fault per page, about a quarter of a millisecond per megabyte. For
Pinto & Silva's CNN that was a fifth of each training step (173 ms -> 137 ms per batch of 128 on two
cores without it). PyTorch avoids the same cost with a caching allocator of its own.

So at import minigrad tells glibc, through ``mallopt``, to serve large blocks from its heap and to keep
freed heap memory for reuse instead of returning it to the kernel. The process then holds on to its peak
memory until it exits. Other C libraries, and settings you made through ``MALLOC_*`` environment
variables, are left alone.
"""

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4   # mallopt parameters, from glibc's malloc.h


def keep_freed_memory():
    """Ask glibc to serve every block from its heap and never shrink it; False where that is not possible."""
    if any(name.startswith("MALLOC_") for name in os.environ):
        return False                     # the user tuned malloc already
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):   # not glibc (macOS, Windows, musl): nothing to do
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))


KEEPS_FREED_MEMORY = keep_freed_memory()
