"""Every random draw of a run derives from its seed here, and only here.

>>> from w2v.streams import epoch_streams, initial_tables
>>> input_vectors, output_vectors = initial_tables(vocab_size=10, dim=4, seed=1)
>>> epoch_streams(seed=1, epoch=0, rows=range(2)).shape      # 2 threads: (pair, noise) each
(2, 2)

- `initial_tables`: word2vec's start, input rows uniform in ±0.5/dim, output rows zero.
- `epoch_streams`: the random streams one epoch draws from, a (pair, noise) pair of
  xorshift64* states per row (w2v.kernels.cpu). The pair stream draws subsampling and
  reduced windows, the noise stream negatives: keeping them apart lets the batch path count
  an epoch's pairs by replaying the first alone. A row is one thread's streams (numba), or
  one worker's (a Ray worker with T threads owns rows w·T .. w·T + T − 1; a tf.distribute
  worker owns row w). Row 0 is what one thread, the keras batches and the cuda kernel's
  counter keys all use, so one thread trains exactly the examples the keras backend sees.

The driver derives each epoch's streams here and saves them in checkpoints, so a resumed
run draws what the stopped one would have drawn.
"""

from __future__ import annotations

import numpy as np

from w2v.kernels.cpu import seed_state

PAIR, NOISE = 0, 1  # the two streams of a row


def stream_key(seed: int, epoch: int, row: int, stream: int) -> int:
    """The integer that seeds stream `stream` (PAIR or NOISE) of `row` in `epoch`."""
    key = seed * 1_000_003 + epoch * 2 + stream
    return key if row == 0 else hash((key, row))  # a tuple of ints hashes the same every run


def epoch_streams(seed: int, epoch: int, rows: range) -> np.ndarray:
    """(len(rows), 2) uint64: the (pair, noise) random states of `rows` in `epoch`."""
    return np.array([[seed_state(stream_key(seed, epoch, row, stream))[0]
                      for stream in (PAIR, NOISE)] for row in rows], dtype=np.uint64)


INIT_BLOCK = 4096  # rows of float64 draws at a time (`initial_tables`)


def initial_tables(vocab_size: int, dim: int, seed: int, output_rows: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """word2vec's start, float32: input rows (V, d) uniform in ±0.5/dim, output rows zero,
    `output_rows` of them (default V; TrainConfig.output_rows adds the tree's nodes).

    The float64 draws come INIT_BLOCK rows at a time, the same numbers as one (V, d) draw:
    a whole float64 table beside the float32 one set the run's peak memory."""
    rng = np.random.default_rng(seed)
    bound = 0.5 / dim
    input_vectors = np.empty((vocab_size, dim), dtype=np.float32)
    for start in range(0, vocab_size, INIT_BLOCK):
        rows = input_vectors[start:start + INIT_BLOCK]
        rows[...] = rng.uniform(-bound, bound, rows.shape)
    return (input_vectors,
            np.zeros((vocab_size if output_rows is None else output_rows, dim),
                     dtype=np.float32))
