"""The notebooks run top to bottom headless, and are committed without outputs.

Each notebook is executed in a fresh ``python3`` kernel of *this* interpreter, with
``VIZATTN_SMALL=1`` (tiny inputs, one A0 model at most per notebook) and
``MPLBACKEND=Agg``, from the ``notebooks/`` folder. Widget callbacks are called
once directly in the notebooks, so their plotting code runs here too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {
    "01_simam_math.ipynb",
    "02_causal_masking.ipynb",
    "03_tadaconv.ipynb",
    "04_overlay_video.ipynb",
}
CELL_TIMEOUT = 600  # seconds per cell


def _ids(paths):
    return [p.stem for p in paths]


def test_all_notebooks_present():
    assert {p.name for p in NOTEBOOKS} >= EXPECTED


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
        f"{path.name}: cells {stale} carry outputs or execution counts; "
        "clear them (python notebooks/_build_notebooks.py regenerates clean notebooks)."
    )
    assert "widgets" not in nb.metadata, f"{path.name} stores widget state; clear it."
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_reads_small_switch(path):
    """Every notebook honours VIZATTN_SMALL near its top."""
    nb = nbformat.read(path, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert any("VIZATTN_SMALL" in source for source in code[:2]), path.name


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory):
    """A ``python3`` kernelspec that runs this interpreter, found before any other.

    A user-level ``python3`` kernelspec may point at another Python without
    vizattn; ``JUPYTER_PATH`` is searched first, so this one wins.
    """
    pytest.importorskip("ipykernel")
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
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
    errors = [
        (i, out.get("ename"), out.get("evalue"))
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, f"{path.name}: error outputs {errors}"
    # Every code cell ran (nothing skipped) and the notebook file itself was not touched.
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    on_disk = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in on_disk.cells if c.cell_type == "code")
