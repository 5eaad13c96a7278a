"""Benchmarks: each script writes OUT.json and OUT.md under benchmarks/results/, headed by
the command that made them (`command_line`)."""

import shlex
import sys


def command_line(module: str, argv: list[str] | None = None) -> str:
    """The shell command that reruns this benchmark: `python -m MODULE ARGS`."""
    args = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", "-m", module, *args])
