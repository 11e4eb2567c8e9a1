"""Quiet, lazy access to TensorFlow.

TensorFlow takes seconds to import and prints C++ log lines. Modules that need it
call :func:`tf` (or import it after :func:`quiet` has run); the CLI imports
nothing heavy until a command really needs a model.
"""

from __future__ import annotations

import logging
import os
import warnings

_QUIET_DONE = False


def quiet(verbose: bool = False) -> None:
    """Silences TensorFlow's C++ and Python log noise unless ``verbose``."""
    global _QUIET_DONE
    if verbose:
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


def import_tf():
    """Returns the ``tensorflow`` module, imported quietly."""
    quiet()
    import tensorflow

    tensorflow.get_logger().setLevel(logging.ERROR)
    return tensorflow


# Short alias: ``from vizattn._tf import tf; tf = tf()``.
tf = import_tf
