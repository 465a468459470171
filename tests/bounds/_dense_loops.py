"""Dense matrices of small convolutions built entry by entry (test ground truth)."""

import numpy as np


def dense_conv2d(K, input_size, padding=0, mode="zeros"):
    """Matrix of the stride-1 cross-correlation ``y = conv2d(x, K)`` (PyTorch semantics).

    ``x`` is (cin, H, W) raveled, ``y`` is (cout, Ho, Wo) raveled; ``mode`` 'zeros'
    pads with zeros, 'circular' wraps indices modulo the input size.
    """
    K = np.asarray(K)
    cout, cin, kh, kw = K.shape
    H, W = input_size
    if mode == "circular":
        Ho, Wo = H, W
    else:
        Ho, Wo = H + 2 * padding - kh + 1, W + 2 * padding - kw + 1
    M = np.zeros((cout * Ho * Wo, cin * H * W), dtype=K.dtype)
    for o in range(cout):
        for r in range(Ho):
            for c in range(Wo):
                row = (o * Ho + r) * Wo + c
                for i in range(cin):
                    for a in range(kh):
                        for b in range(kw):
                            if mode == "circular":
                                y, x = (r + a) % H, (c + b) % W
                            else:
                                y, x = r + a - padding, c + b - padding
                                if not (0 <= y < H and 0 <= x < W):
                                    continue
                            M[row, (i * H + y) * W + x] += K[o, i, a, b]
    return M


def dense_conv1d(K, n, padding=0):
    """Matrix of the stride-1 1-D cross-correlation with zero padding."""
    K = np.asarray(K)
    cout, cin, k = K.shape
    no = n + 2 * padding - k + 1
    M = np.zeros((cout * no, cin * n), dtype=K.dtype)
    for o in range(cout):
        for r in range(no):
            for i in range(cin):
                for a in range(k):
                    y = r + a - padding
                    if 0 <= y < n:
                        M[o * no + r, i * n + y] += K[o, i, a]
    return M


def fine_sup(K, samples=512):
    """sqrt(sum_i max_w sum_j |F_ij|^2) on a fine grid by direct summation (no FFT)."""
    K = np.asarray(K)
    d = K.ndim - 2
    w = 2 * np.pi * np.arange(samples) / samples
    if d == 1:
        E = np.exp(1j * np.outer(np.arange(K.shape[2]), w))
        F = np.einsum("ija,ak->kij", K, E)
    else:
        E1 = np.exp(1j * np.outer(np.arange(K.shape[2]), w))
        E2 = np.exp(1j * np.outer(np.arange(K.shape[3]), w))
        F = np.einsum("ijab,ak,bl->klij", K, E1, E2)
    g = np.sum(np.abs(F) ** 2, axis=-1)
    return np.sqrt(np.sum(g.reshape(-1, K.shape[0]).max(axis=0)))
