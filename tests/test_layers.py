"""The layering the imports show: every module of w2v imports only modules below it.

LAYERS lists the modules bottom-up; an import (at module level or inside a function) of
a w2v module later in the list fails the test, so a new upward import, or a new module
left out of the list, is caught here. The installed distribution claims only `w2v`.
"""

import ast
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LAYERS = [
    # rules and arrays, no I/O
    "w2v.errors", "w2v.stopping", "w2v.kernels", "w2v.kernels.cpu", "w2v.kernels.cuda",
    "w2v.kernels.rows", "w2v.config",
    "w2v.schedule", "w2v.heads", "w2v.sgns", "w2v.streams",
    # bytes in and out
    "w2v.io", "w2v.io.files", "w2v.io.formats", "w2v.io.corpus",
    # data: vocabulary, ids, batches; trained vectors; saved runs
    "w2v.vocab", "w2v.batches", "w2v.prepare", "w2v.model_file", "w2v.vectors",
    "w2v.evaluate", "w2v.checkpoint", "w2v.callbacks",
    # Keras optimizers
    "w2v.optimizers.base", "w2v.optimizers.sparse", "w2v.optimizers.soft_batch",
    "w2v.optimizers.runge_kutta", "w2v.optimizers.schedules", "w2v.optimizers",
    # backends, then the one driver loop
    "w2v.backends", "w2v.backends.base", "w2v.backends.numba_backend",
    "w2v.backends.cuda_backend", "w2v.backends.keras_model", "w2v.backends.keras_backend",
    "w2v.driver",
    # scale-out: tf.distribute (keras), periodic sync (numba), Ray (the sync team's actors)
    "w2v.scaleout", "w2v.scaleout.tf_distribute", "w2v.scaleout.sync",
    "w2v.scaleout.ray_cluster",
    # entry points
    "w2v.trainer", "w2v.word2vec", "w2v.tools", "w2v.cli", "w2v",
]


def module_files() -> dict[str, Path]:
    """Module name -> file, for w2v/ and the kernels/ folder installed as w2v.kernels."""
    files = {}
    for top, package in ((ROOT / "w2v", ("w2v",)), (ROOT / "kernels", ("w2v", "kernels"))):
        for path in sorted(top.rglob("*.py")):
            parts = package + path.relative_to(top).with_suffix("").parts
            if "kernels" in path.relative_to(ROOT).parts[1:]:
                continue  # w2v/kernels is the link to kernels/
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def imports(name: str, path: Path) -> set[str]:
    """The w2v modules `name` imports, anywhere in its code."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            modules = {f"{base}.{a.name}" for a in node.names} & set(LAYERS)
            found |= modules or {base}  # `from w2v import sgns` imports w2v.sgns
    known = set(LAYERS)
    return {m for m in found if m in known and m != name}


def test_every_module_is_placed_in_a_layer():
    assert sorted(module_files()) == sorted(LAYERS)


@pytest.mark.parametrize("name", LAYERS)
def test_imports_run_downward_only(name):
    path = module_files()[name]
    above = sorted(m for m in imports(name, path) if LAYERS.index(m) > LAYERS.index(name))
    assert not above, f"{name} imports from modules above it: {above}"


def test_the_distribution_claims_only_the_name_w2v(tmp_path):
    """Build the wheel as pip does and list its top-level names: w2v alone (the kernels
    ship as w2v.kernels, not as a top-level `kernels` that another package may own)."""
    import subprocess
    import sys

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("w2v-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"w2v"}, top
    assert "w2v/kernels/cpu.py" in names and "w2v/kernels/cuda.py" in names
