"""The exceptions w2v raises for conditions a user can fix (besides ValueError and OSError)."""


class GpuUnavailableError(RuntimeError):
    """The cuda backend was asked for where numba.cuda finds no usable GPU."""


class FormatError(ValueError):
    """A vectors, model or checkpoint file that does not hold what its header says.

    The message names the file and the line or byte offset where reading stopped.
    """


class ClusterError(RuntimeError):
    """A cluster could not form or start, or a worker disagreed, died or hung."""
