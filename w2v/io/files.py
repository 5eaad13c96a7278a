"""Writing files: every output of w2v (vectors, models, checkpoints, vocabularies, logs,
plots) goes through `atomic_write`, and every output path a command is given through
`check_output` first.

>>> from w2v.io.files import atomic_write
>>> with atomic_write("vectors.txt") as out:
...     out.write(b"...")
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class atomic_write:
    """Context manager: a binary file object whose content appears at `path` only on success.

    Writes to a temporary file in the same directory, fsyncs, then renames over `path`
    (atomic on POSIX). On an exception the temporary file is removed and `path` untouched.
    """

    def __init__(self, path):
        self.path = Path(path)

    def __enter__(self):
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent or ".",
                                         prefix=f".{self.path.name}.", suffix=".tmp")
        self._file = os.fdopen(fd, "wb")
        return self._file

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self._file.flush()
                os.fsync(self._file.fileno())
            self._file.close()
            if exc_type is None:
                os.chmod(self._tmp, 0o666 & ~_umask())
                os.replace(self._tmp, self.path)
        finally:
            if os.path.exists(self._tmp):
                os.unlink(self._tmp)
        return False


def check_output(output: Path, inputs: list[Path]) -> None:
    """ValueError for an output that would overwrite an input (or another output) or
    cannot be written."""
    for path in inputs:
        same = (output.exists() and path.exists() and os.path.samefile(path, output)) or \
            output.resolve() == path.resolve()
        if same:
            raise ValueError(f"output {str(output)!r} is an input file: refusing to overwrite it")
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"output directory does not exist: {str(folder)!r}")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"output directory is not writable: {str(folder)!r}")
    if output.is_dir():
        raise ValueError(f"output {str(output)!r} is a directory")
