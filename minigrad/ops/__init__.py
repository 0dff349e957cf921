"""The differentiable ops, one family per module; each op is a ``Function`` with forward and backward.

    elementwise  add, sub, mul, div, neg, pow, exp, log, sqrt, tanh, sigmoid, relu
    reduce       sum, mean, amax, amin, and the values of max(dim) and min(dim)
    shape        reshape, permute, getitem, concatenate, stack
    linear       matmul, linear (x W^T + b)
    softmax      softmax, log_softmax, cross_entropy
    dropout      dropout
    conv         conv2d (im2col + one matrix product)
    pool         max_pool2d, avg_pool2d, adaptive_avg_pool2d
    batchnorm    batch_norm
    rnn          lstm_cell, gru_cell, and whole LSTM / GRU layers with backprop through time

The ops work on arrays only. The functions that take Tensors, check their arguments and apply the ops are
in ``minigrad.functional`` (torch.nn.functional's names), which ``minigrad.nn`` calls.
"""
