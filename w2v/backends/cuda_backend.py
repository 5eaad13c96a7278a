"""The cuda backend: corpus ids and both tables live on the GPU; kernels/cuda.py trains.

Same vocabulary, subsampling rule, reduced windows, negatives per window (as the numba
backend's default) and linear learning-rate decay by word position as the other backends.
The host only uploads ids (the whole corpus once when it fits in one upload, else upload
by upload each epoch), launches, and reads back two small arrays per launch for the
progress report. A span is one launch. The kernel's draws are counter-based: they derive
from the epoch's stream row 0 (w2v/streams.py) used as two keys, and from each word's
corpus position, so a launch draws the same whatever ran before it. Needs numba and a
CUDA GPU, not TensorFlow.
"""

from __future__ import annotations

import numpy as np

from w2v.backends.base import Backend, Span, Trained
from w2v.batches import ExampleBatches
from w2v.config import TrainConfig
from w2v.errors import GpuUnavailableError

UPLOAD_IDS = 1 << 26  # ids per upload: 256 MiB of int32, the whole of text8 (17M ids) at once
HOGWILD_CENTERS = 1 << 20  # centers per launch: a progress report every ~50 ms at 20M words/s
BATCHED_CENTERS = 512  # centers per batched launch: ~2,000 pairs, the order of the keras batch


class CudaBackend(Backend):
    """Trains copies of the (V, d) float32 tables on the device.

    launch_centers (default: HOGWILD_CENTERS, or BATCHED_CENTERS for batched updates: one
    launch is one SGD step there), upload_ids, blocks and threads_per_block size the
    launches (tests shrink them; the defaults suit a data-centre GPU)."""

    name = "cuda"

    def __init__(self, batches: ExampleBatches, input_vectors: np.ndarray,
                 output_vectors: np.ndarray, config: TrainConfig, options=None,
                 launch_centers: int | None = None, upload_ids: int = UPLOAD_IDS,
                 blocks: int | None = None, threads_per_block: int | None = None):
        require_gpu()
        from w2v.kernels.cuda import SgnsTrainer

        if launch_centers is None:
            launch_centers = BATCHED_CENTERS if config.cuda_updates == "batched" else HOGWILD_CENTERS
        self.trainer = SgnsTrainer(input_vectors, output_vectors, batches.keep_prob,
                                   batches.accept, batches.alias, config.window, config.negative,
                                   updates=config.cuda_updates, threads_per_block=threads_per_block,
                                   blocks=blocks, batched_centers=launch_centers,
                                   tree=batches.tree if config.hs else None, cbow=config.cbow,
                                   cbow_mean=config.cbow_mean)
        self.encoded = encoded = batches.encoded
        self.host_tables = input_vectors, output_vectors
        self.corpus_words = encoded.tokens
        self.uploads = encoded.span_chunks(upload_ids)
        # launch l covers ids [bounds[l], bounds[l + 1]) of an upload: launch_of[l]
        bounds, self.launch_upload = [0], []
        for u, (first, last) in enumerate(self.uploads):
            start, end = encoded.chunk_id_start(first), encoded.chunk_id_start(last)
            for begin in range(start, end, launch_centers):
                bounds.append(min(begin + launch_centers, end))
                self.launch_upload.append(u)
        self.span_bounds = np.array(bounds, dtype=np.int64)
        self.resident = len(self.uploads) == 1  # the corpus stays on the device all run
        self.device_upload = None  # (upload index, offset, ids, ends) on the device now
        self.keys = None

    def begin_epoch(self, epoch: int, streams: np.ndarray, first_span: int) -> None:
        self.keys = np.uint64(streams[0, 0]), np.uint64(streams[0, 1])
        if not self.resident:
            self.device_upload = None  # each epoch uploads again, from its first launch

    def _upload(self, u: int):
        from numba import cuda

        if self.device_upload is None or self.device_upload[0] != u:
            offset, ids, ends = self.encoded.read_chunks(*self.uploads[u])
            self.device_upload = (u, offset, cuda.to_device(ids), cuda.to_device(ends))
        return self.device_upload[1:]

    def train(self, span: Span) -> Trained:
        offset, ids, ends = self._upload(self.launch_upload[span.index])
        pairs, loss = self.trainer.train(ids, ends, offset, span.begin - offset,
                                         span.end - offset, *self.keys, span.lr_begin,
                                         span.lr_end)
        return Trained(pairs, loss)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        input_vectors, output_vectors = self.host_tables
        self.trainer.input_vectors.copy_to_host(input_vectors)
        self.trainer.output_vectors.copy_to_host(output_vectors)
        return input_vectors, output_vectors

    def close(self) -> None:
        self.device_upload = None


def require_gpu() -> None:
    """Raise GpuUnavailableError (one line) unless numba.cuda can run kernels here."""
    from numba import cuda

    from w2v.kernels.cuda import simulated

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


BACKEND = CudaBackend
