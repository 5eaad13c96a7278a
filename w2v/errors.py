"""The exceptions w2v raises for conditions a user can fix (besides OSError)."""


class ConfigError(ValueError):
    """A setting with a value it cannot take. `field` names the setting as the Python API
    spells it (`min_count`), `value` is what was given, `rule` what it must be; the CLI
    turns the field into its flag (`--min-count`)."""

    def __init__(self, field: str, rule: str, value):
        self.field, self.rule, self.value = field, rule, value
        super().__init__(f"{field} {rule}, got {value!r}")


class GpuUnavailableError(RuntimeError):
    """The cuda backend was asked for where numba.cuda finds no usable GPU."""


class FormatError(ValueError):
    """A vectors, model or checkpoint file that does not hold what its header says.

    The message names the file and the line or byte offset where reading stopped.
    """


class ClusterError(RuntimeError):
    """A cluster could not form or start, or a worker disagreed, died or hung."""
