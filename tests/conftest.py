"""Shared fixtures: a session-wide cache of MoViNet-A0 models and one small clip.

Building an A0 MoViNet takes 10-20 s and its first prediction traces for another
~10 s, so models are built once per session and shared. Every cached model goes
through :func:`vizattn.testing.randomize`: at init every block's rezero scale is 0,
so a block's inner modules (SimAM, TAdaConv) would not affect the output and a
causality or streaming test could not fail.

Tests must not modify the weights of a cached model.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

#: Model under test: MoViNet-A0 with a small classifier head.
MODEL_ID = "a0"
NUM_CLASSES = 10
#: Clip size used by the model tests: 8 frames of 64x64 (A0 runs these quickly).
FRAMES = 8
SIZE = 64


#: Most workers ``pytest -n auto`` starts (pytest.ini adds it): each worker builds
#: its own models and TensorFlow uses every core, so more workers only add memory.
MAX_WORKERS = 2


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto``: one worker per core, at most :data:`MAX_WORKERS`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, cores or 1))


#: Files that take longest (seconds on 2 cores), started first so that the two
#: workers finish together: ``--dist loadfile`` hands out files in collection order.
SLOW_FILES = (
    "test_models.py",  # ~400
    "test_browser.py",  # ~220
    "test_training.py",  # ~170
    "test_notebooks.py",  # ~150
    "test_capture.py",  # ~130
    "test_batch.py",  # ~120
    "test_gradients.py",  # ~100
)


def pytest_collection_modifyitems(config, items) -> None:
    """Runs the slowest files first (stable order otherwise)."""

    def rank(item) -> int:
        name = item.path.name
        return SLOW_FILES.index(name) if name in SLOW_FILES else len(SLOW_FILES)

    items.sort(key=rank)


@pytest.fixture(scope="session")
def movinet():
    """``get(model_id="a0", **build_kwargs)``: a memoized, randomized
    ``build_movinet(model_id, num_classes=10, **build_kwargs)``.

    >>> model = movinet(simam="window", tada="v2")   # built once per session
    """
    from vizattn import models, testing

    cache: dict[tuple, object] = {}

    def get(model_id: str = MODEL_ID, **kwargs):
        key = (model_id, *sorted((k, repr(v)) for k, v in kwargs.items()))
        if key not in cache:
            model = models.build_movinet(model_id, num_classes=NUM_CLASSES, **kwargs)
            testing.randomize(model, seed=0)
            cache[key] = model
        return cache[key]

    return get


@pytest.fixture(scope="session")
def clip() -> np.ndarray:
    """A uint8 clip ``[1, 8, 64, 64, 3]`` of moving blobs over noise (read-only)."""
    from vizattn import testing

    arr = testing.synthetic_clip(frames=FRAMES, size=SIZE)
    arr.setflags(write=False)
    return arr
