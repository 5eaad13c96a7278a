"""Benchmarks: each script writes OUT.json and OUT.md under benchmarks/results/, headed by
the command that made them (`write_results`)."""

import json
import shlex
import sys
from pathlib import Path


def command_line(module: str, argv: list[str] | None = None) -> str:
    """The shell command that reruns this benchmark: `python -m MODULE ARGS`."""
    args = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", "-m", module, *args])


def write_results(out: str, module: str, argv: list[str] | None, text: str, data: dict,
                  preface: str = "") -> None:
    """OUT.md (the command, `preface`, then `text`) and OUT.json (`data` with the command)."""
    command = command_line(module, argv)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out + ".json").write_text(json.dumps({"command": command, **data}, indent=1,
                                              default=str) + "\n")
    Path(out + ".md").write_text(f"command: {command}\n\n{preface}{text}")


def publish(lines: list[str], out: str | None, module: str, argv: list[str] | None,
            data: dict) -> str:
    """Print the report `lines` make and, with `out`, write it (`write_results`)."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        write_results(out, module, argv, text, data)
    return text
