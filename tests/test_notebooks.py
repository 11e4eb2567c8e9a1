"""The notebooks: readable source in sync with the .ipynb, linted, and running headless.

Each notebook is a jupytext pair: ``notebooks/NN_name.py`` (percent format, the
source to read, edit, lint and review) and ``notebooks/NN_name.ipynb`` (to open in
JupyterLab, committed without outputs). After editing either one, run
``jupytext --sync notebooks/*.py``.

Each notebook is executed in a fresh ``python3`` kernel of *this* interpreter,
with ``VIZATTN_SMALL=1`` (tiny inputs) and ``MPLBACKEND=Agg``, from the
``notebooks/`` folder. Widgets draw when they are built, so their plotting code
runs here too; ``tests/test_browser.py`` drives them in a real browser.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
jupytext = pytest.importorskip("jupytext")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SOURCES = sorted(NOTEBOOK_DIR.glob("*.py"))
EXPECTED = {
    "01_simam_math",
    "02_causal_masking",
    "03_tadaconv",
    "04_overlay_video",
    "05_stream_states",
}
CELL_TIMEOUT = 600  # seconds per cell
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _ids(paths):
    return [p.stem for p in paths]


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_all_notebooks_present_as_pairs():
    assert {p.stem for p in NOTEBOOKS} >= EXPECTED
    assert {p.stem for p in NOTEBOOKS} == {p.stem for p in SOURCES}, (
        "every notebook needs its .py source and every source its .ipynb; "
        "run `jupytext --sync notebooks/*.py`."
    )
    assert not (NOTEBOOK_DIR / "_build_notebooks.py").exists()


@pytest.mark.parametrize("path", SOURCES, ids=_ids(SOURCES))
def test_pair_in_sync(path):
    """The .py source and the .ipynb hold the same cells (jupytext pairing)."""
    source = jupytext.read(path)
    notebook = jupytext.read(path.with_suffix(".ipynb"))
    assert source.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent", path.name
    a, b = _cells(source), _cells(notebook)
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y]
    assert len(a) == len(b) and not differ, (
        f"{path.name} and {path.with_suffix('.ipynb').name} differ "
        f"({len(a)} vs {len(b)} cells; first differing cell {differ[:1]}); "
        "run `jupytext --sync notebooks/*.py`."
    )


def test_sources_are_linted():
    ruff = shutil.which("ruff") or (
        str(Path(sys.executable).with_name("ruff"))
        if Path(sys.executable).with_name("ruff").exists()
        else None
    )
    if ruff is None:
        pytest.skip("ruff is not installed")
    for args in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [ruff, *args, "--no-cache", *map(str, SOURCES)],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"ruff {' '.join(args)}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    stale = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not stale, (
        f"{path.name}: cells {stale} carry outputs or execution counts; clear them "
        "(`jupytext --sync notebooks/*.py` after editing the .py writes a clean notebook)."
    )
    assert "widgets" not in nb.metadata, f"{path.name} stores widget state; clear it."
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_reads_small_switch(path):
    """Every notebook honours VIZATTN_SMALL near its top."""
    nb = nbformat.read(path, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert any("VIZATTN_SMALL" in source for source in code[:2]), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_widgets_come_from_the_library(path):
    """Cells call vizattn.widgets; no notebook builds its own interact/Output plumbing."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "vizattn.widgets." in code, path.name
    for banned in ("interactive_output", "widgets.interact(", "@interact"):
        assert banned not in code, f"{path.name} uses {banned}; use vizattn.widgets."


def write_kernelspec(root: Path) -> Path:
    """A ``python3`` kernelspec under ``root`` that runs this interpreter.

    A user-level ``python3`` kernelspec may point at another Python without
    vizattn; ``JUPYTER_PATH`` is searched first, so this one wins.
    """
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (vizattn tests)",
                "language": "python",
            }
        )
    )
    return root


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory):
    pytest.importorskip("ipykernel")
    return write_kernelspec(tmp_path_factory.mktemp("jupyter"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_executes(path, kernel_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("JUPYTER_PATH", str(kernel_path))
    monkeypatch.setenv("VIZATTN_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    try:
        client.execute()
    except CellExecutionError as e:
        pytest.fail(f"{path.name} failed:\n{str(e)[-4000:]}", pytrace=False)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    errors = [
        (i, out.get("ename"), out.get("evalue"))
        for i, cell in enumerate(code_cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, f"{path.name}: error outputs {errors}"
    # Every code cell ran (nothing skipped) and the notebook file itself was not touched.
    assert all(c.get("execution_count") for c in code_cells)
    on_disk = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in on_disk.cells if c.cell_type == "code")
    # Widgets are displayed as widget views, each drawn once (no second, static copy).
    views = [
        out
        for c in code_cells
        for out in c.get("outputs", [])
        if WIDGET_VIEW in out.get("data", {})
    ]
    assert views, f"{path.name} shows no widget"
    pngs = [
        i
        for i, c in enumerate(code_cells)
        if sum("image/png" in out.get("data", {}) for out in c.get("outputs", [])) > 1
    ]
    assert not pngs, f"{path.name}: cells {pngs} draw more than one static image"
