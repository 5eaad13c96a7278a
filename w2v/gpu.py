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
from w2v.checkpoint import NO_STATES, Position
from w2v.config import TrainConfig
from w2v.errors import GpuUnavailableError

SPAN_IDS = 1 << 26  # ids per upload: 256 MiB of int32, the whole of text8 (17M ids) at once
HOGWILD_CENTERS = 1 << 20  # centers per launch: a progress report every ~50 ms at 20M words/s
BATCHED_CENTERS = 512  # centers per batched launch: ~2,000 pairs, the order of the keras batch


def fit_cuda(batches: SkipGramBatches, input_vectors: np.ndarray, output_vectors: np.ndarray,
             config: TrainConfig, reporter, launch_centers: int | None = None,
             span_ids: int = SPAN_IDS, blocks: int | None = None,
             threads_per_block: int | None = None, start=None, checkpointer=None):
    """Train on the GPU; returns the (V, d) float32 tables and the last epoch's mean loss.

    input_vectors, output_vectors: (V, d) float32 initial tables. reporter: a
    w2v.callbacks.Reporter, told after each launch and each epoch.
    launch_centers (default: HOGWILD_CENTERS, or BATCHED_CENTERS for batched updates: one
    launch is one SGD step there), span_ids, blocks and threads_per_block size the
    launches (tests shrink them; the defaults suit a data-centre GPU). start: a resumed
    checkpoint's w2v.checkpoint.Position (its `chunk` counts the epoch's launches done);
    checkpointer: called after every launch (w2v.checkpoint.Checkpointer), the host tables
    refreshed from the device first when it saves.
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

    def refresh_host_tables():  # what a checkpoint saves
        trainer.input_vectors.copy_to_host(input_vectors)
        trainer.output_vectors.copy_to_host(output_vectors)

    start = start or Position()
    resident = None  # the corpus on the device when it is one span: uploaded once
    loss = start.loss_sum / max(start.pairs, 1)
    for epoch in range(start.epoch, config.epochs):
        keep_key, draw_key = epoch_keys(config.seed, epoch)
        resuming = epoch == start.epoch and start.states is not None
        skip = start.chunk if resuming else 0  # launches of this epoch already trained
        pairs, loss_sum = (start.pairs, start.loss_sum) if resuming else (0, 0.0)
        launch = 0
        for offset, ids, ends in (resident or encoded.spans(span_ids)):
            if resident is None:
                ids, ends = cuda.to_device(ids), cuda.to_device(ends)
                if encoded.n_ids <= span_ids:
                    resident = [(offset, ids, ends)]
            n = ids.shape[0]
            for first in range(0, n, launch_centers):
                launch += 1
                if launch <= skip:
                    continue
                last = min(first + launch_centers, n)
                done = epoch * encoded.n_ids + offset
                p, l = trainer.train(ids, ends, offset, first, last, keep_key, draw_key,
                                     lr_at(done + first), lr_at(done + last))
                pairs += p
                loss_sum += l
                reporter.progress((last - first) * words_per_id, lr_at(done + last),
                                  loss_sum / max(pairs, 1))
                if checkpointer and offset + last < encoded.n_ids:
                    checkpointer(Position(epoch, launch, pairs, loss_sum, NO_STATES,
                                          reporter.done, list(reporter.history)),
                                 before_save=refresh_host_tables)
        loss = loss_sum / max(pairs, 1)
        reporter.epoch_end(epoch, loss, lr_at((epoch + 1) * encoded.n_ids),
                           lambda: trainer.input_vectors.copy_to_host())
        if checkpointer:
            checkpointer(Position(epoch + 1, 0, 0, 0.0, None, reporter.done,
                                  list(reporter.history)), epoch_end=True,
                         before_save=refresh_host_tables)
    return (*trainer.tables(), loss)


def require_gpu() -> None:
    """Raise GpuUnavailableError (one line) unless numba.cuda can run kernels here."""
    from numba import cuda

    from kernels.cuda import simulated

    if simulated():
        return
    try:
        found = cuda.is_available()
    except Exception as error:  # a broken driver install raises instead of returning False
        raise GpuUnavailableError(f"the cuda backend needs an NVIDIA GPU: numba.cuda failed "
                                  f"({error})") from None
    if not found:
        raise GpuUnavailableError("the cuda backend needs an NVIDIA GPU with a CUDA driver, "
                                  "and numba.cuda finds none here: use --backend numba")
