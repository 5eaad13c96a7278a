"""Keras 3 optimizers that keep embedding updates sparse, and the factory that names them.

>>> from w2v.optimizers import LinearDecay, make_optimizer
>>> optimizer = make_optimizer("heun", LinearDecay(0.025, 0.0001, total_steps=10_000),
...                            steps_per_update=4)      # Heun steps under soft batch

- base.py: `SparseOptimizer` (assign_sub of tf.IndexedSlices is a bare scatter), `merge_rows`;
- sparse.py: `SparseSGD` (word2vec's), `SparseMomentum` (lazy, classical or Nesterov),
  `SparseAdagrad`;
- soft_batch.py: `SoftBatch`, k steps accumulated sparsely, one update;
- runge_kutta.py: `RungeKutta`, several gradient evaluations per step from a Butcher
  tableau (Heun, RK4, adaptive RK23/RK45);
- schedules.py: `LinearDecay`, word2vec's schedule (w2v/schedule.py) for Keras.
"""

from __future__ import annotations

from w2v.optimizers.base import SparseOptimizer, merge_rows, scale
from w2v.optimizers.runge_kutta import TABLEAUS, RungeKutta, Tableau, rk_step
from w2v.optimizers.schedules import LinearDecay
from w2v.optimizers.soft_batch import SoftBatch
from w2v.optimizers.sparse import SparseAdagrad, SparseMomentum, SparseSGD

__all__ = ["SparseOptimizer", "SparseSGD", "SparseMomentum", "SparseAdagrad", "SoftBatch",
           "RungeKutta", "Tableau", "TABLEAUS", "rk_step", "LinearDecay", "merge_rows",
           "scale", "make_optimizer"]


def make_optimizer(name: str, learning_rate, steps_per_update: int = 1, momentum: float = 0.9):
    """The optimizer the CLI's --optimizer names, wrapped in SoftBatch when k > 1.

    sgd | momentum | nesterov | adagrad | euler | midpoint | heun | ralston | rk3 | rk4 |
    rk23 | rk45 (the last eight: runge_kutta.py).
    """
    if name == "sgd":
        optimizer = SparseSGD(learning_rate)
    elif name in ("momentum", "nesterov"):
        optimizer = SparseMomentum(learning_rate, momentum=momentum, nesterov=name == "nesterov")
    elif name == "adagrad":
        optimizer = SparseAdagrad(learning_rate)
    elif name in TABLEAUS:
        optimizer = RungeKutta(learning_rate, method=name)
    else:
        raise ValueError(f"unknown optimizer {name!r}")
    return SoftBatch(optimizer, steps_per_update) if steps_per_update > 1 else optimizer
