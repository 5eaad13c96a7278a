"""Training backends: each trains spans of an epoch on its own engine, and nothing else.

- numba_backend: the fused numba kernels on CPU threads (Hogwild), no TensorFlow;
- cuda_backend: the numba.cuda kernels, corpus and tables on an NVIDIA GPU;
- keras_backend: `Word2VecModel` (keras_model.py), a keras.Model with closed-form gradients, on
  the sparse optimizers of w2v.optimizers, optionally under a tf.distribute strategy.

w2v/driver.py runs every one of them through the `Backend` interface (base.py); the
modules are imported only when their backend is asked for, so TensorFlow loads with keras.
"""

from __future__ import annotations

import importlib

_MODULES = {"numba": "w2v.backends.numba_backend", "cuda": "w2v.backends.cuda_backend",
            "keras": "w2v.backends.keras_backend"}


def backend_class(name: str):
    """The Backend class of `name` (numba, cuda or keras), its module imported now."""
    return importlib.import_module(_MODULES[name]).BACKEND
