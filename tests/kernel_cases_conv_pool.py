"""Kernel cases (see kernel_cases.py) of minigrad.kernels: im2col, conv_weight and pool."""

CASES = {}
