"""numba CPU kernels for periodic sparse synchronisation (w2v/scaleout/sync.py): find the
rows of a table that moved since a snapshot, encode their changes for the int8 wire, and
add decoded rows into a sum or onto a snapshot.

Each does in one pass over the rows what numpy does in several whole-array passes (a
(V, d) comparison, a gather, a subtraction, abs, max, a division, rint, clip, a cast), with
the same float32 operations in the same order, so the results are numpy's bit for bit
(tests/test_sync.py checks it). Rows are (V, d) float32 tables; `rows` are int32 row
indices, ascending; `steps` (n, d) int8 and `scales` (n,) float32 are the int8 wire's
encoding: a row's value is steps · scale, scale = max |Δ| / 127.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_STEPS = np.float32(127.0)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _row_moved(table, snapshot, r):
    """Whether row r of `table` differs from the snapshot's (compared up to the first
    difference)."""
    for j in range(table.shape[1]):
        if table[r, j] != snapshot[r, j]:
            return True
    return False


@njit(cache=True, nogil=True, error_model="numpy")
def moved_rows_cpu(table, snapshot, out):
    """Write the indices of the rows where `table` differs from `snapshot` to out[:n]
    ((V,) int32), ascending; return n."""
    n = 0
    for r in range(table.shape[0]):
        if _row_moved(table, snapshot, r):
            out[n] = r
            n += 1
    return n


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _encode_row(delta, steps, scales, i):
    """scales[i] = max |delta| / 127; steps[i] = delta / scales[i] rounded to nearest (ties
    to even) as int8, zeros where delta is."""
    largest = np.float32(0.0)
    for j in range(delta.shape[0]):
        size = abs(delta[j])
        if size > largest:
            largest = size
    scale = largest / _STEPS
    scales[i] = scale
    divisor = scale if scale > 0 else np.float32(1.0)
    for j in range(delta.shape[0]):
        step = np.rint(delta[j] / divisor)
        steps[i, j] = np.int8(min(max(step, np.float32(-127.0)), _STEPS))


@njit(cache=True, nogil=True, error_model="numpy")
def encode_int8_cpu(values, steps, scales):
    """Encode each row of (n, d) float32 `values` into steps[i] and scales[i]."""
    for i in range(values.shape[0]):
        _encode_row(values[i], steps, scales, i)


@njit(cache=True, nogil=True, error_model="numpy")
def encode_moved_int8_cpu(table, snapshot, rows, steps, scales):
    """Find the rows where `table` differs from `snapshot` and encode each one's
    Δ = table − snapshot, the n-th into rows[n], steps[n] and scales[n] (buffers of (V,)
    int32, (V, d) int8 and (V,) float32), ascending; return n. One pass over both tables,
    where finding the rows (moved_rows_cpu) and encoding them took two: 7 against 10 ms a
    round for a worker's 25,000 words of gut8 (measured in process)."""
    delta = np.empty(table.shape[1], np.float32)
    n = 0
    for r in range(table.shape[0]):
        if _row_moved(table, snapshot, r):
            for j in range(table.shape[1]):
                delta[j] = table[r, j] - snapshot[r, j]
            _encode_row(delta, steps, scales, n)
            rows[n] = r
            n += 1
    return n


@njit(cache=True, nogil=True, error_model="numpy")
def add_decoded_cpu(total, where, steps, scales):
    """total[where[i]] += steps[i] · scales[i], row by row ((n, d) float32 `total`)."""
    for i in range(where.shape[0]):
        scale = scales[i]
        t = where[i]
        for j in range(total.shape[1]):
            total[t, j] += np.float32(steps[i, j]) * scale


@njit(cache=True, nogil=True, error_model="numpy")
def set_synchronised_cpu(table, snapshot, moved, rows, steps, scales):
    """A worker's side of a sync: every row it moved (`moved`) back to the snapshot, then
    each combined row to snapshot + steps · scale, in table and snapshot alike (a moved row
    that is also combined is only set: both ascending, walked together)."""
    k = 0
    for i in range(moved.shape[0]):
        r = moved[i]
        while k < rows.shape[0] and rows[k] < r:
            k += 1
        if k < rows.shape[0] and rows[k] == r:
            continue  # set below
        for j in range(table.shape[1]):
            table[r, j] = snapshot[r, j]
    for i in range(rows.shape[0]):
        r = rows[i]
        scale = scales[i]
        for j in range(table.shape[1]):
            value = snapshot[r, j] + np.float32(steps[i, j]) * scale
            table[r, j] = value
            snapshot[r, j] = value
