"""Kernel cases (see kernel_cases.py) of minigrad.kernels: batchnorm, adam and rnn."""

CASES = {}
