"""Quiet, lazy access to TensorFlow.

TensorFlow takes seconds to import and prints C++ log lines. Modules that need it
call :func:`tf` (or import it after :func:`quiet` has run); the CLI imports
nothing heavy until a command really needs a model.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator

_QUIET_DONE = False
_VERBOSE = False


def quiet(verbose: bool = False) -> None:
    """Silences TensorFlow's C++ and Python log noise unless ``verbose``."""
    global _QUIET_DONE, _VERBOSE
    if verbose:
        _VERBOSE = True
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if _QUIET_DONE:
        return
    _QUIET_DONE = True
    warnings.filterwarnings("ignore", module="tensorflow")
    warnings.filterwarnings("ignore", module="tf_keras")
    warnings.filterwarnings("ignore", module="official")
    for name in ("tensorflow", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:  # absl logging is what Model Garden uses.
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover
        pass


@contextlib.contextmanager
def native_quiet() -> Iterator[None]:
    """Drops what native code writes to stderr inside the block, unless verbose.

    LiteRT prints ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``
    from C++ the first time an interpreter allocates its tensors, whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says; only redirecting file descriptor 2 silences
    it. Python's own ``sys.stderr`` is flushed before and keeps working after.
    Keep the block short: other threads' stderr output inside it is dropped too.
    """
    if _VERBOSE:
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to redirect
        yield
        return
    try:
        sys.stderr.flush()
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_XLA_QUIETED = False


@contextlib.contextmanager
def xla_quiet(compiles: bool = True) -> Iterator[None]:
    """:func:`native_quiet` around the first call in this process that compiles with XLA.

    Model Garden's base (non-stream) MoViNets compile their 3D convolutions with
    XLA, whose C++ logging prints two lines on the first compile ("All log messages
    before absl::InitializeLog() ..." and "Compiled cluster using XLA!"), whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says. Both are printed once per process, so only the
    first such call needs silencing; ``compiles=False`` (a stream model) does nothing.
    """
    global _XLA_QUIETED
    if _XLA_QUIETED or not compiles:
        yield
        return
    with native_quiet():
        yield
    _XLA_QUIETED = True


def one_thread_per_kernel() -> bool:
    """Runs each TensorFlow kernel on one thread, if TensorFlow has not started yet.

    For a process that streams a video through a stream model and does little
    else (``vizattn render``): the model's kernels are small, and a second thread
    per kernel mostly waits, spinning, for its share. With one thread per kernel
    and the chunk run in overlapping pieces (:data:`vizattn.hooks.PIECES`), the
    cores run independent kernels instead: MoViNet-A0 streaming a 640x360 video
    spends ~20% fewer CPU seconds and ~25% less wall time (``benchmarks/README.md``).
    ``TF_NUM_INTRAOP_THREADS`` set by the user wins.

    Returns:
      Whether kernels run on one thread (``False`` if TensorFlow had already
      started with more, or the user asked for more).
    """
    if "TF_NUM_INTRAOP_THREADS" not in os.environ:
        tf_module = sys.modules.get("tensorflow")
        if tf_module is not None:
            try:
                tf_module.config.threading.set_intra_op_parallelism_threads(1)
            except RuntimeError:  # TensorFlow has started: its threads are set
                return intra_op_threads() == 1
        os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
    return intra_op_threads() == 1


def intra_op_threads() -> int:
    """Threads per TensorFlow kernel: the configured number, else the environment's,
    else 0 (TensorFlow's default: one per core)."""
    tf_module = sys.modules.get("tensorflow")
    configured = 0
    if tf_module is not None:
        configured = tf_module.config.threading.get_intra_op_parallelism_threads()
    if configured:
        return int(configured)
    try:
        return int(os.environ.get("TF_NUM_INTRAOP_THREADS") or 0)
    except ValueError:
        return 0


def import_tf():
    """Returns the ``tensorflow`` module, imported quietly."""
    quiet()
    import tensorflow

    tensorflow.get_logger().setLevel(logging.ERROR)
    return tensorflow


# Short alias: ``from vizattn._tf import tf; tf = tf()``.
tf = import_tf
