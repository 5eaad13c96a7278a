"""Writing files: every output of w2v (vectors, models, checkpoints, vocabularies, logs,
plots) goes through this module, and every output path a command is given is checked here
against its inputs and its other outputs before any work starts.

>>> from w2v.io.files import atomic_write, check_outputs
>>> check_outputs({"-o": "vectors.txt"}, inputs=["corpus/"])   # ValueError if they collide
>>> with atomic_write("vectors.txt") as out:
...     out.write(b"...")

What a path may be, and how it is written (`output_target`):
- a regular file, or a path that does not exist yet: written to a temporary file beside
  it, fsynced and renamed over it (atomic: a reader sees the old file or the new one, and
  an existing file keeps its permissions);
- a symbolic link: followed, and its target written as above (the link stays a link);
- a character device or a FIFO (`-o /dev/null`, a pipe): written straight through, as any
  Unix tool does; nothing is renamed over it;
- anything else (a directory, a socket, a block device): refused.
A temporary file is removed on every way out: an error, an exception, or a signal (the
handlers of w2v.stopping raise where the program is).
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from w2v.stopping import stop_point


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@dataclass(frozen=True)
class Target:
    """Where an output goes: `path` as given, `real` with every link followed; `stream`:
    a character device or FIFO, written straight through; `mode`: an existing regular
    file's permissions, which the new file keeps (None: a new file, the umask's)."""
    path: Path
    real: Path
    stream: bool
    mode: int | None


def resolved(path) -> Path:
    """`path` with every symbolic link followed; ValueError for a loop of links."""
    try:
        return Path(path).resolve(strict=False)
    except RuntimeError:  # Python 3.11 reports a loop this way
        raise ValueError(f"{str(path)!r} is a loop of symbolic links") from None
    except OSError as error:
        if error.errno == 40:  # ELOOP (Python 3.13+)
            raise ValueError(f"{str(path)!r} is a loop of symbolic links") from None
        raise


def output_target(path) -> Target:
    """How `path` would be written; ValueError (naming the path) when it cannot be."""
    real = resolved(path)
    try:
        info = os.stat(real)
    except FileNotFoundError:
        info = None
    if info is not None:
        if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
            return Target(Path(path), real, True, None)
        if stat.S_ISDIR(info.st_mode):
            raise ValueError(f"output {str(path)!r} is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"output {str(path)!r} is neither a file nor a device or pipe "
                             f"to write to: refusing to replace it")
    folder = real.parent
    if not folder.is_dir():
        raise ValueError(f"output directory does not exist: {str(Path(path).parent)!r}")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"output directory is not writable: {str(Path(path).parent)!r}")
    return Target(Path(path), real, False, stat.S_IMODE(info.st_mode) if info else None)


def input_files(paths) -> list[Path]:
    """The files `paths` name (directories expanded, not recursively), links followed."""
    files = []
    for path in map(Path, paths):
        try:
            real = resolved(path)
        except ValueError:
            continue  # a loop of links reads nothing; the corpus reader says so
        if real.is_dir():
            files += [resolved(p) for p in sorted(real.iterdir()) if p.is_file()]
        elif real.exists():
            files.append(real)
    return files


def check_outputs(outputs: dict, inputs=()) -> None:
    """ValueError unless every output (name -> path, e.g. {"-o": ..., "--checkpoint": ...})
    can be written, is none of the input files (`inputs`: files or directories, links
    followed) and is no other output. Devices and pipes may repeat (-o /dev/null twice)."""
    read = {p: None for p in input_files(inputs)}
    seen: dict[Path, str] = {}
    for name, path in outputs.items():
        if path is None:
            continue
        target = output_target(path)
        if target.real in read:
            raise ValueError(f"output {str(path)!r} is an input file: refusing to overwrite it")
        if target.real in seen and not target.stream:
            raise ValueError(f"{name} {str(path)!r} is also {seen[target.real]}: each output "
                             f"needs its own file")
        seen[target.real] = name


class atomic_write:
    """Context manager: a binary file object whose content appears at `path` only on success
    (a device or FIFO: written straight through). See the module docstring."""

    def __init__(self, path):
        self.target = output_target(path)
        self._tmp = None

    def __enter__(self):
        target = self.target
        if target.stream:
            self._file = open(target.real, "wb")
            return self._file
        try:
            fd, self._tmp = tempfile.mkstemp(dir=target.real.parent,
                                             prefix=f".{target.real.name}.", suffix=".tmp")
        except OSError as error:
            raise _naming(error, target.path) from None
        self._file = os.fdopen(fd, "wb")
        return self._file

    def __exit__(self, exc_type, exc, tb):
        target = self.target
        try:
            if exc_type is None:
                stop_point("writing")
                self._file.flush()
                if not target.stream:
                    os.fsync(self._file.fileno())
            self._file.close()
            if exc_type is None and not target.stream:
                os.chmod(self._tmp, target.mode if target.mode is not None
                         else 0o666 & ~_umask())
                os.replace(self._tmp, target.real)
        except OSError as error:
            raise _naming(error, target.path) from None
        finally:
            if not self._file.closed:
                self._file.close()
            if self._tmp is not None and os.path.exists(self._tmp):
                os.unlink(self._tmp)
        if isinstance(exc, OSError) and not getattr(exc, "w2v_named", False):
            raise _naming(exc, target.path) from None  # e.g. ENOSPC while writing
        return False


class WriteError(OSError):
    """An output that could not be written; its message names the output (never a
    temporary file) and the reason, on one line."""
    w2v_named = True

    def __str__(self) -> str:
        return self.strerror


def _naming(error: OSError, path) -> WriteError:
    return WriteError(error.errno, f"cannot write {str(path)!r}: {error.strerror or error}")


def open_log(path):
    """A text file to append lines to (the JSON log), line-buffered: a regular file (new or
    existing), or a device or FIFO."""
    target = output_target(path)
    return open(target.real, "a" if not target.stream else "w", buffering=1, encoding="utf-8")
