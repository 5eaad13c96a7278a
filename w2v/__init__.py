"""w2v: skip-gram negative-sampling Word2Vec on Keras 3 with hand-derived sparse gradients.

>>> import w2v
>>> vectors, summary = w2v.train("data/novels.txt.gz", w2v.TrainConfig(epochs=1))
>>> vectors.most_similar("emma", topn=3)

Importing w2v does not import TensorFlow: the keras backend imports it when it runs.
"""

from w2v.callbacks import Callback
from w2v.config import TrainConfig
from w2v.io.corpus import Corpus
from w2v.errors import FormatError, GpuUnavailableError
from w2v.vectors import Embeddings
from w2v.vocab import Vocabulary
from w2v.word2vec import Word2Vec

__version__ = "0.1.0"
__all__ = ["Word2Vec", "Embeddings", "TrainConfig", "Callback", "Corpus", "Vocabulary",
           "FormatError", "GpuUnavailableError", "train", "__version__"]


def __getattr__(name):
    # Lazy: the trainer pulls in the numba kernels (and, on the keras backend, TensorFlow).
    if name == "train":
        from w2v.trainer import train
        return train
    raise AttributeError(f"module 'w2v' has no attribute {name!r}")
