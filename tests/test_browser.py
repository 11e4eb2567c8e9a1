"""The notebooks in a real browser: JupyterLab + headless Chromium (``pytest -m browser``).

For every notebook: open it in JupyterLab, run all cells with ``VIZATTN_SMALL=1``,
check that no cell failed and that the widgets rendered as widgets (no
"Loading widget...", no raw ``IntSlider(...)`` text), move one control and check
that the figure changed, and save screenshots (under a temporary folder, or
``$VIZATTN_SCREENSHOTS`` when set).

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them)
and selenium; skips with one line otherwise. Nothing is downloaded. The
notebooks are copied to a temporary folder, so JupyterLab's autosave never
touches the repository.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
RUN_TIMEOUT = 900  # seconds for all cells of one notebook
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _skip_reason() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if not (CHROMIUM and CHROMEDRIVER):
        return "no system Chromium/chromedriver (apt-get install chromium chromium-driver)"
    return None


if _skip_reason():
    pytest.skip(_skip_reason(), allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving copies of the notebooks: ``(url, token, root)``."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    (root / "assets").symlink_to(REPO / "assets")
    kernels = root / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (vizattn tests)",
                "language": "python",
            }
        )
    )
    settings = root / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    # Every cell laid out, on screen or not. JupyterLab's default ("contentVisibility")
    # skips the layout of cells out of view: an output there measured 0 pixels, and
    # scrolling to it did not always lay it out (CI: 0-wide screenshot, and a 30 s wait).
    notebook = root / "settings" / "@jupyterlab" / "notebook-extension"
    notebook.mkdir(parents=True)
    (notebook / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_PATH": str(root / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
        "VIZATTN_SMALL": "1",
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    log = open(root / "lab.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--allow-root",  # CI runs as root in a throwaway machine
            "--LabApp.extension_manager=readonly",  # no package index look-ups
            "--LabApp.news_url=",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(root / 'lab.log').read_text()}")
                time.sleep(0.5)
        yield url, token, root
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = os.environ.get("VIZATTN_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return Path(folder)
    return tmp_path_factory.mktemp("screenshots")


def _wait(condition, timeout: float, what: str, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)


_STATE_JS = """
const app = window.jupyterapp;
if (!app) { return null; }
const panel = app.shell.currentWidget;
if (!panel || !panel.sessionContext || !panel.content) { return null; }
const session = panel.sessionContext.session;
const cells = panel.content.widgets.filter(c => c.model.type === 'code');
return {
  kernel: session && session.kernel ? session.kernel.status : null,
  counts: cells.map(c => c.model.executionCount),
  running: document.querySelectorAll('.jp-InputPrompt').length ?
    Array.from(document.querySelectorAll('.jp-InputPrompt'))
      .filter(p => p.textContent.includes('*')).length : 0,
};
"""


def _run_all(driver) -> None:
    _wait(
        lambda: (driver.execute_script(_STATE_JS) or {}).get("kernel") == "idle",
        180,
        "the kernel to start",
    )
    run_all = "window.jupyterapp.commands.execute('notebook:run-all-cells');"
    driver.execute_script(run_all)

    # "Idle with nothing queued" is also true before the run starts: first wait for a
    # cell to get an execution count (the notebooks are saved without any). A
    # "run all" sent while the page is still settling can be lost: send it again once.
    def started():
        counts = (driver.execute_script(_STATE_JS) or {}).get("counts") or []
        return any(c is not None for c in counts)

    try:
        _wait(started, 30, "the first cell to run")
    except pytest.fail.Exception:
        driver.execute_script(run_all)
        _wait(started, 60, "the first cell to run (after sending 'run all' twice)")

    quiet = []  # consecutive polls with an idle kernel and no cell queued ([*])

    def finished():
        state = driver.execute_script(_STATE_JS) or {}
        idle = state.get("kernel") == "idle" and state.get("running") == 0
        quiet.append(idle)
        # A failing cell stops "run all": later cells then stay unnumbered, and the
        # saved outputs report the error.
        return len(quiet) >= 3 and all(quiet[-3:])

    _wait(finished, RUN_TIMEOUT, "all cells to run", poll=2)


def _saved_outputs(driver, path: Path) -> list[dict]:
    """Saves the notebook from the browser and returns its code cells' outputs."""
    before = path.stat().st_mtime_ns
    driver.execute_script("window.jupyterapp.commands.execute('docmanager:save');")
    _wait(lambda: path.stat().st_mtime_ns != before, 30, "the notebook to be saved")
    time.sleep(0.5)
    cells = json.loads(path.read_text())["cells"]
    return [c.get("outputs", []) for c in cells if c["cell_type"] == "code"]


_RENDERED_JS = """
return Array.from(document.querySelectorAll('.jp-OutputArea-output'))
  .filter(o => o.querySelector(':scope > .jupyter-widgets')).length;
"""

_PICK_JS = """
// The first widget output holding a figure (img) and a control, or null.
const outs = Array.from(document.querySelectorAll('.jp-OutputArea-output'));
const i = outs.findIndex(o => o.querySelector('.jupyter-widgets img') &&
  (o.querySelector('.noUi-handle') || o.querySelector('.widget-dropdown select') ||
   o.querySelector('.widget-checkbox input')));
return i >= 0 ? outs[i] : null;
"""


def _image_src(area) -> str:
    return area.find_element(By.CSS_SELECTOR, ".jupyter-widgets img").get_attribute("src") or ""


def _move_one_control(driver, area) -> str:
    """Moves the first control of an explorer; returns what was moved."""
    before = _image_src(area)
    handles = area.find_elements(By.CSS_SELECTOR, ".noUi-handle")
    selects = area.find_elements(By.CSS_SELECTOR, ".widget-dropdown select")
    boxes = area.find_elements(By.CSS_SELECTOR, ".widget-checkbox input")
    if handles:
        handle = handles[0]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
        driver.execute_script("arguments[0].focus();", handle)
        for key in (Keys.ARROW_RIGHT, Keys.ARROW_LEFT, Keys.ARROW_LEFT):
            ActionChains(driver).send_keys(key).perform()
            try:
                _wait(lambda: _image_src(area) != before, 20, "the figure to change")
                return "slider"
            except pytest.fail.Exception:
                continue
    elif selects:
        select = Select(selects[0])
        current = select.first_selected_option.text
        other = next(o.text for o in select.options if o.text != current)
        select.select_by_visible_text(other)
        _wait(lambda: _image_src(area) != before, 30, "the figure to change")
        return "dropdown"
    elif boxes:
        boxes[0].click()
        _wait(lambda: _image_src(area) != before, 30, "the figure to change")
        return "checkbox"
    pytest.fail("moving the control did not change the figure", pytrace=False)


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS], ids=[p.stem for p in NOTEBOOKS])
def test_notebook_in_browser(name, lab, browser, screenshots):
    url, token, root = lab
    path = root / "notebooks" / name
    browser.get(f"{url}/lab/tree/notebooks/{name}?token={token}")
    try:
        _check_notebook(browser, name, path, screenshots)
    finally:
        _shut_down_kernels(url, token)


def _shut_down_kernels(url: str, token: str) -> None:
    """Ends every session, so the next notebook has the CPU to itself."""
    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(
        urllib.request.Request(f"{url}/api/sessions", headers=headers)
    ) as r:
        sessions = json.load(r)
    for session in sessions:
        request = urllib.request.Request(
            f"{url}/api/sessions/{session['id']}", headers=headers, method="DELETE"
        )
        urllib.request.urlopen(request).close()


def _check_notebook(browser, name: str, path: Path, screenshots: Path) -> None:
    _run_all(browser)
    stem = Path(name).stem

    outputs = _saved_outputs(browser, path)
    errors = [
        (i, out.get("ename"), out.get("evalue"))
        for i, cell in enumerate(outputs)
        for out in cell
        if out.get("output_type") == "error"
    ]
    assert not errors, f"{name}: error outputs {errors}"
    views = sum(WIDGET_VIEW in out.get("data", {}) for cell in outputs for out in cell)
    assert views, f"{name} displayed no widget"

    # Widgets rendered as widgets: one figure per view, no placeholders, no raw reprs.
    _wait(
        lambda: browser.execute_script(_RENDERED_JS) >= views,
        120,
        f"{views} widget views to render",
    )
    assert browser.find_elements(By.CSS_SELECTOR, ".jupyter-widgets img"), "no figure shown"
    text = "\n".join(
        e.text for e in browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")
    )
    for bad in ("Loading widget", "IntSlider(", "Explorer(", "VBox(", "Error displaying widget"):
        assert bad not in text, f"{name}: {bad!r} shown in the page"
    browser.save_screenshot(str(screenshots / f"{stem}_page.png"))

    area = browser.execute_script(_PICK_JS)  # the element itself: no index to go stale
    assert area is not None, f"{name}: no explorer with a control found"

    def laid_out() -> bool:
        # Scrolled to again at every poll: a scroll made before the page settled
        # can miss. Chromium refuses the screenshot of a 0-wide element.
        browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", area)
        return area.size["width"] > 0 and area.size["height"] > 0

    _wait(laid_out, 30, "the widget's output to be laid out after scrolling to it")
    area.screenshot(str(screenshots / f"{stem}_widget_before.png"))
    moved = _move_one_control(browser, area)
    time.sleep(0.5)
    area.screenshot(str(screenshots / f"{stem}_widget_after.png"))
    print(f"{name}: {views} widgets rendered, moved a {moved}; screenshots in {screenshots}")
