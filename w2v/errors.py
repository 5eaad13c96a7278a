"""The exceptions w2v raises for conditions a user can fix (besides ValueError and OSError)."""


class GpuUnavailableError(RuntimeError):
    """The cuda backend was asked for where numba.cuda finds no usable GPU."""
