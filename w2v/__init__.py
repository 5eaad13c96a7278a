"""w2v: skip-gram negative-sampling Word2Vec on Keras 3 with hand-derived sparse gradients.

>>> import w2v
>>> vectors, summary = w2v.train("data/novels.txt.gz", w2v.TrainConfig(epochs=1))
>>> vectors.most_similar("emma", topn=3)

Importing w2v does not import TensorFlow: the keras backend imports it when it runs.
"""

from w2v.config import TrainConfig
from w2v.corpus import Corpus
from w2v.vocab import Vocabulary

__version__ = "0.1.0"
__all__ = ["TrainConfig", "Corpus", "Vocabulary", "Embeddings", "train", "__version__"]


def __getattr__(name):
    # Lazy: these pull in numba kernels (and, when training on keras, TensorFlow).
    if name == "train":
        from w2v.trainer import train
        return train
    if name == "Embeddings":
        from w2v.vectors import Embeddings
        return Embeddings
    raise AttributeError(f"module 'w2v' has no attribute {name!r}")
