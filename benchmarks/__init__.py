"""Benchmarks: each script writes OUT.json and OUT.md under benchmarks/results/, headed by
the command that made them (`write_results`)."""

import json
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def command_line(module: str, argv: list[str] | None = None) -> str:
    """The shell command that reruns this benchmark: `python -m MODULE ARGS`."""
    args = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", "-m", module, *args])


def provenance() -> str:
    """When and from what code a result came: the date and the commit of the checkout these
    benchmarks ran from, marked when its tracked files outside benchmarks/results/ had
    changes of their own (a run rewrites the results files it quotes; those do not count)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                  "--untracked-files=no", "--", ".", ":!benchmarks/results"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit, changed = "", ""
    at = f"at {commit}" + (" with uncommitted changes" if changed else "") if commit else \
        "outside a git checkout"
    return f"{time.strftime('%Y-%m-%d')}, {at}"


def write_results(out: str, module: str, argv: list[str] | None, text: str, data: dict,
                  preface: str = "") -> None:
    """OUT.md (the command, the date and commit, `preface`, then `text`) and OUT.json (`data`
    with the command and the date and commit)."""
    command = command_line(module, argv)
    made = provenance()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out + ".json").write_text(json.dumps({"command": command, "made": made, **data},
                                              indent=1, default=str) + "\n")
    Path(out + ".md").write_text(f"command: {command}\n\n({made})\n\n{preface}{text}")


def publish(lines: list[str], out: str | None, module: str, argv: list[str] | None,
            data: dict) -> str:
    """Print the report `lines` make and, with `out`, write it (`write_results`)."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        write_results(out, module, argv, text, data)
    return text


def interleaved(runs: dict[str, Callable[[], float]], rounds: int, unit: str = "pairs/s"
                ) -> dict[str, list[float]]:
    """Each run's rate (in `unit`, what the callable returns) in each of `rounds` rounds, the
    runs interleaved within a round so that this machine's swings fall on all of them alike;
    prints each rate as it comes."""
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(rounds):
        for name, run in runs.items():
            rates[name].append(run())
            print(f"round {r + 1} {name}: {rates[name][-1]:,.0f} {unit}", flush=True)
    return rates


def rates_table(rates: dict[str, list[float]], reference: str, label: str,
                unit: str = "pairs/s") -> list[str]:
    """Markdown lines: each run's median rate (in `unit`), its rounds in millions, and its
    median over the median of run `reference` (the column headed "× `label`")."""
    median = {name: statistics.median(values) for name, values in rates.items()}
    lines = [f"| run | {unit} | per round | × {label} |", "|---|---|---|---|"]
    for name, values in rates.items():
        lines.append(f"| {name} | {median[name]:,.0f} | "
                     + " / ".join(f"{v / 1e6:.2f}M" for v in values)
                     + f" | {median[name] / median[reference]:.2f} |")
    return lines
