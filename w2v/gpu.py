"""The cuda backend: corpus ids and both tables live on the GPU; kernels/cuda.py trains.

Same vocabulary, subsampling rule, reduced windows, negatives per window (as the numba
backend's default) and linear learning-rate decay by word position as the other backends.
The host only uploads ids (the whole corpus once when it fits in one span, else span by
span each epoch), launches, and reads back two small arrays per launch for the progress
report. Needs numba and a CUDA GPU, not TensorFlow.
"""

from __future__ import annotations

import numpy as np

from w2v.batches import SkipGramBatches
from w2v.config import TrainConfig
from w2v.errors import GpuUnavailableError

SPAN_IDS = 1 << 26  # ids per upload: 256 MiB of int32, the whole of text8 (17M ids) at once
HOGWILD_CENTERS = 1 << 20  # centers per launch: a progress report every ~50 ms at 20M words/s
BATCHED_CENTERS = 512  # centers per batched launch: ~2,000 pairs, the order of the keras batch


def fit_cuda(batches: SkipGramBatches, input_vectors: np.ndarray, output_vectors: np.ndarray,
             config: TrainConfig, reporter, launch_centers: int | None = None,
             span_ids: int = SPAN_IDS, blocks: int | None = None,
             threads_per_block: int | None = None):
    """Train on the GPU; returns the (V, d) float32 tables and the last epoch's mean loss.

    input_vectors, output_vectors: (V, d) float32 initial tables. reporter: a
    w2v.callbacks.Reporter, told after each launch and each epoch.
    launch_centers (default: HOGWILD_CENTERS, or BATCHED_CENTERS for batched updates: one
    launch is one SGD step there), span_ids, blocks and threads_per_block size the
    launches (tests shrink them; the defaults suit a data-centre GPU).
    """
    require_gpu()
    from numba import cuda

    from kernels.cuda import SgnsTrainer, epoch_keys

    if launch_centers is None:
        launch_centers = BATCHED_CENTERS if config.cuda_updates == "batched" else HOGWILD_CENTERS
    trainer = SgnsTrainer(input_vectors, output_vectors, batches.keep_prob, batches.accept,
                          batches.alias, config.window, config.negative,
                          updates=config.cuda_updates, threads_per_block=threads_per_block,
                          blocks=blocks, batched_centers=launch_centers)
    encoded = batches.encoded
    total = config.epochs * encoded.n_ids
    words_per_id = encoded.tokens / encoded.n_ids

    def lr_at(position):
        return config.alpha - (config.alpha - config.min_alpha) * position / total

    resident = None  # the corpus on the device when it is one span: uploaded once
    loss = 0.0
    for epoch in range(config.epochs):
        keep_key, draw_key = epoch_keys(config.seed, epoch)
        pairs, loss_sum = 0, 0.0
        for offset, ids, ends in (resident or encoded.spans(span_ids)):
            if resident is None:
                ids, ends = cuda.to_device(ids), cuda.to_device(ends)
                if encoded.n_ids <= span_ids:
                    resident = [(offset, ids, ends)]
            n = ids.shape[0]
            for first in range(0, n, launch_centers):
                last = min(first + launch_centers, n)
                done = epoch * encoded.n_ids + offset
                p, l = trainer.train(ids, ends, offset, first, last, keep_key, draw_key,
                                     lr_at(done + first), lr_at(done + last))
                pairs += p
                loss_sum += l
                reporter.progress((last - first) * words_per_id, lr_at(done + last),
                                  loss_sum / max(pairs, 1))
        loss = loss_sum / max(pairs, 1)
        reporter.epoch_end(epoch, loss, lr_at((epoch + 1) * encoded.n_ids),
                           lambda: trainer.input_vectors.copy_to_host())
    return (*trainer.tables(), loss)


def require_gpu() -> None:
    """Raise GpuUnavailableError (one line) unless numba.cuda can run kernels here."""
    from numba import config, cuda

    if config.ENABLE_CUDASIM:
        return
    try:
        found = cuda.is_available()
    except Exception as error:  # a broken driver install raises instead of returning False
        raise GpuUnavailableError(f"the cuda backend needs an NVIDIA GPU: numba.cuda failed "
                                  f"({error})") from None
    if not found:
        raise GpuUnavailableError("the cuda backend needs an NVIDIA GPU with a CUDA driver, "
                                  "and numba.cuda finds none here: use --backend numba")
