"""The README's snippets run as written: every ```python and ```bash block, in order, in
one scratch directory holding data/ (so files one block writes, the next can read)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {"w2v-train": "w2v.cli:main", "w2v-eval": "w2v.tools:eval_main",
            "w2v-similar": "w2v.tools:similar_main", "w2v-plot": "w2v.tools:plot_main",
            "w2v-vocab": "w2v.tools:vocab_main", "w2v-export": "w2v.tools:export_main"}
README_WORKERS = "127.0.0.1:29500,127.0.0.1:29501"  # the README's two-worker example


def free_workers() -> str:
    """Two ports free on 127.0.0.1 now: the README's fixed ones may be taken here."""
    import socket

    sockets = [socket.socket() for _ in range(2)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ",".join(f"127.0.0.1:{port}" for port in ports)


def snippets() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(python|bash)\n(.*?)```", text, flags=re.S)


def test_readme_has_snippets_for_every_use():
    blocks = snippets()
    code = "\n".join(body for _, body in blocks)
    for use in ["w2v-train", "w2v-eval", "w2v-similar", "w2v-plot", "Word2Vec(", ".save(",
                "Word2Vec.load", "evaluate_word_analogies", "most_similar", "to_keras_embedding",
                "w2v.Callback", "--distribute multiworker", "w2v-vocab", "--cluster ray",
                "w2v-export", "--cbow"]:
        assert use in code, f"no README snippet shows {use}"


@pytest.mark.slow
def test_readme_snippets_run_as_written(tmp_path):
    (tmp_path / "data").symlink_to(ROOT / "data")
    bin_dir = tmp_path / "bin"  # the console scripts, whether or not w2v is installed
    bin_dir.mkdir()
    for name, target in COMMANDS.items():
        module, function = target.split(":")
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; from {module} "
                          f"import {function}; sys.exit({function}())' \"$@\"\n")
        script.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    for number, (language, body) in enumerate(snippets(), 1):
        body = body.replace(README_WORKERS, free_workers())  # tests bind free ports only
        command = [sys.executable, "-c", body] if language == "python" else ["bash", "-ec", body]
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, (f"README block {number} ({language}) failed:\n{body}\n"
                                        f"{result.stderr[-3000:]}")
    assert (tmp_path / "words.png").exists() and (tmp_path / "novels.w2v").exists()
    assert (tmp_path / "vectors-2workers.txt").exists() and (tmp_path / "vectors-ray.txt").exists()
