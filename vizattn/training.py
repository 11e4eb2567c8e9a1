"""Train, ship and load the demo model: MoViNet-A0 stream with SimAM, on moving shapes.

A heatmap is a claim about where a model looks, and a model that has learned
nothing makes no claim worth checking. vizattn therefore ships one small trained
model, the **demo model**: MoViNet-A0 *stream* with causal SimAM (mode
``"frame"``, after each block's projection), trained on the moving-shapes task
of :mod:`vizattn.demo` to tell in which direction the one sliding shape goes
(``right``, ``left``, ``down``, ``up``). It knows moving shapes, not human
actions.

Load it (this is what :func:`vizattn.load_model` does without a checkpoint):

>>> model = load_demo_model()                                       # doctest: +SKIP
>>> info = vizattn.models.model_info(model)                         # doctest: +SKIP
>>> info.class_names, info.input_size                               # doctest: +SKIP
(['right', 'left', 'down', 'up'], (96, 96))

Train it again (about 0.6 s per step on two quiet CPU cores). The defaults are
the bundle's recipe, :data:`DEMO_CYCLES`: 2100 steps in two learning-rate cycles,
about 22 minutes on a quiet machine. The bundle's ``COMMAND.txt`` holds the exact
command, and ``train_record.json`` what it reached: 0.964 held-out accuracy at the
last frame, on 1024 clips:

>>> record = train_demo("my_demo_model")                            # doctest: +SKIP
>>> record["heldout"]["accuracy_last_frame"]                        # doctest: +SKIP
0.9638671875

How it trains:

- **Data**: every step draws a fresh batch of task clips from the training
  seeds (:data:`vizattn.demo.TRAIN_SEEDS`, run ``seed`` uses
  ``seed * 100_000 + i``), so nothing is seen twice; measurement uses held-out
  seeds (:data:`vizattn.demo.HELDOUT_SEEDS`) only. The next batch is drawn in a
  background thread while the current step runs.
- **Whole clips**: the stream model is called on the whole clip with zero
  initial states, which for a causal model equals streaming it frame by frame;
  the loss is the cross-entropy of the final logits.
- **BatchNorm**: with about a thousand steps the default momentum (0.99)
  leaves the moving statistics far behind the weights, and an eval-mode model
  guesses. Every BatchNorm layer trains with momentum 0.9 instead, and the
  record proves it with **eval-mode** accuracy, frame by frame, streamed with
  :func:`vizattn.predict_stream` on held-out clips.
- **ReZero**: Model Garden starts every block's ReZero scale at 0, which
  switches every block's residual branch (and its temporal convolution) off;
  from there the model sat at chance for 600+ steps (944 in a 1500-step run,
  2026-11-22). Training starts them at 1 (:func:`set_rezero`), and accuracy
  leaves chance within a few hundred steps.
- **Optimizer**: Adam, gradients clipped to norm 1, in learning-rate cycles of
  linear warm-up then cosine decay. The bundle uses two (1400 + 700 steps), the
  second a warm restart at half the peak with a fresh Adam state. In the same 2100
  steps this learns more than one long cycle: 0.964 against 0.918 for one cycle of
  2000 or 2500 steps.

The output folder holds ``weights.index`` + ``weights.data-*`` (a TensorFlow
checkpoint that :func:`vizattn.build_movinet` ``(checkpoint=...)`` restores by
path), ``model.json`` (build options, class names, input size, frames),
``train_record.json`` (seeds, steps, time, loss curve, held-out accuracy) and
``COMMAND.txt``. Every file is written atomically.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import platform
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vizattn._threads import threaded
from vizattn.demo import CLASS_NAMES, heldout_seeds, task_batch, train_seeds
from vizattn.demo_bundle import DEMO_MODEL_DIR, demo_build_options
from vizattn.errors import VizAttnError
from vizattn.files import atomic_write

__all__ = [
    "BN_MOMENTUM",
    "DEMO_CYCLES",
    "DEMO_MODEL_DIR",
    "DataSeeds",
    "demo_build_options",
    "evaluate_task",
    "fit",
    "load_demo_model",
    "read_model_json",
    "set_rezero",
    "train_demo",
]

#: BatchNorm momentum while training (Keras default 0.99 lags too far behind).
BN_MOMENTUM = 0.9

#: The bundled model's recipe: 1400 steps at peak lr, then a warm restart of 700
#: steps at half of it (2100 steps: 21 minutes of training on two quiet cores).
DEMO_CYCLES = (1400, 700)

#: Architecture of the demo model: :func:`vizattn.build_movinet` keyword arguments.
_BUILD = {
    "model_id": "a0",
    "stream": True,
    "simam": "frame",
    "simam_position": "projection",
    "tada": None,
    "num_classes": len(CLASS_NAMES),
}
_WEIGHTS = "weights"  # checkpoint prefix inside the model folder
_SEEDS_PER_RUN = 100_000  # training seeds of run `seed` start at seed * _SEEDS_PER_RUN


# -- data ----------------------------------------------------------------------


class DataSeeds:
    """The training seeds of one run: batch ``i`` is ``first + i * batch ...``.

    Args:
      seed: the run's seed (0 to 9).
      steps: number of batches.
      batch: clips per batch.
    """

    def __init__(self, seed: int, steps: int, batch: int):
        self.first = int(seed) * _SEEDS_PER_RUN
        self.steps, self.batch = int(steps), int(batch)
        if self.steps * self.batch > _SEEDS_PER_RUN or not 0 <= int(seed) < 10:
            raise VizAttnError(
                f"seed={seed} with {steps} steps x {batch} clips leaves the run's "
                f"{_SEEDS_PER_RUN} training seeds; use seed 0-9 and steps * batch <= "
                f"{_SEEDS_PER_RUN}."
            )
        train_seeds(self.steps * self.batch, start=self.first)  # inside TRAIN_SEEDS

    def batch_seeds(self, step: int) -> range:
        """The seeds of batch ``step``."""
        return train_seeds(self.batch, start=self.first + step * self.batch)

    def as_dict(self) -> dict:
        last = self.first + self.steps * self.batch - 1
        return {"first": self.first, "last": last, "count": self.steps * self.batch}


def _batches(
    seeds: DataSeeds, *, size: tuple[int, int], frames: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for step in range(seeds.steps):
        clips, _, labels, _, _ = task_batch(seeds.batch_seeds(step), size=size, frames=frames)
        yield clips, labels


# -- model ---------------------------------------------------------------------


def read_model_json(folder: str | os.PathLike) -> dict:
    """The ``model.json`` of a model folder written by :func:`train_demo`."""
    path = Path(folder) / "model.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise VizAttnError(
            f"cannot read {path} ({e}); pass a folder written by vizattn.training.train_demo."
        ) from None


def load_demo_model(folder: str | os.PathLike | None = None):
    """The trained demo model (or another folder written by :func:`train_demo`).

    Args:
      folder: a model folder; ``None`` for the bundled one,
        :data:`~vizattn.demo_bundle.DEMO_MODEL_DIR`.

    Returns:
      A ``MovinetClassifier`` built with the folder's ``model.json`` and its
      weights restored; ``vizattn.models.model_info(model)`` has ``class_names``
      and ``input_size`` (``(height, width)`` the model was trained at) set.

    Raises:
      VizAttnError: the folder or its weights are missing or do not fit.
    """
    from vizattn.models import build_movinet, model_info

    bundled = folder is None
    folder = Path(DEMO_MODEL_DIR if bundled else folder)
    meta = read_model_json(folder)
    prefix = folder / _WEIGHTS
    if not Path(f"{prefix}.index").is_file():
        raise VizAttnError(
            f"no weights in {folder} ({_WEIGHTS}.index is missing); train them with "
            "vizattn.training.train_demo or reinstall vizattn."
        )
    model = build_movinet(**meta["build"], checkpoint=str(prefix))
    info = model_info(model)
    # class_names / input_size are ModelInfo fields; setattr keeps this working
    # with a ModelInfo that predates them.
    info.class_names = list(meta["class_names"])
    info.input_size = tuple(int(s) for s in meta["input_size"])
    info.demo = bundled  # labelled "demo weights" wherever it is shown
    return model


def _set_bn_momentum(model, momentum: float) -> int:
    import tf_keras

    count = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
            count += 1
    return count


def set_rezero(model, value: float = 1.0) -> int:
    """Sets every block's ReZero scale (Model Garden starts them at 0) to ``value``.

    Returns:
      The number of scales set.
    """
    from official.vision.modeling.layers import nn_layers

    count = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, nn_layers.Scale):
            for weight in layer.weights:
                weight.assign(np.full(weight.shape, value, weight.dtype.as_numpy_dtype))
                count += 1
    return count


class _WarmupCosine:
    """Learning rate: linear warm-up for ``warmup`` steps, then cosine decay to 0."""

    def __init__(self, lr: float, steps: int, warmup: int):
        self.lr, self.steps, self.warmup = float(lr), int(steps), max(1, int(warmup))

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        done = (step - self.warmup) / max(1, self.steps - self.warmup)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))


class _Cycles:
    """Warm restarts: one :class:`_WarmupCosine` per cycle, each peak half the one before."""

    def __init__(self, lr: float, cycles: Sequence[int], warmup: int | None):
        self.parts = [
            (int(n), _WarmupCosine(lr * 0.5**k, n, round(0.05 * n) if warmup is None else warmup))
            for k, n in enumerate(cycles)
        ]

    @property
    def restarts(self) -> set[int]:
        """The first step of every cycle after the first."""
        starts = itertools.accumulate(n for n, _ in self.parts[:-1])
        return set(starts)

    def __call__(self, step: int) -> float:
        for n, schedule in self.parts:
            if step < n:
                return schedule(step)
            step -= n
        return 0.0


def _check_cycles(steps: int | None, cycles: Sequence[int] | None) -> tuple[int, tuple[int, ...]]:
    """``(steps, cycles)`` made consistent: one cycle of ``steps`` unless cycles are given."""
    if cycles is None:
        if steps is None:
            raise VizAttnError("pass steps or cycles; say how long to train.")
        cycles = (steps,)
    cycles = tuple(int(n) for n in cycles)
    if not cycles or min(cycles) < 1:
        raise VizAttnError(f"cycles must be positive step counts, got {list(cycles)}.")
    if steps is not None and int(steps) != sum(cycles):
        raise VizAttnError(
            f"steps={steps} but cycles {list(cycles)} add up to {sum(cycles)}; "
            "pass one of them, or make them agree."
        )
    return sum(cycles), cycles


def fit(
    model,
    batches: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    steps: int,
    lr: float = 2e-3,
    warmup: int | None = None,
    cycles: Sequence[int] | None = None,
    bn_momentum: float = BN_MOMENTUM,
    size: tuple[int, int] | None = None,
    progress: bool = True,
    on_step: Callable[[int, float, float], None] | None = None,
) -> list[float]:
    """Trains a stream model on whole clips; returns the loss of every step.

    The model is called in clip mode with zero initial states (for a causal
    model the same as streaming the clip) and the loss is the cross-entropy of
    its final logits.

    Args:
      model: a model from :func:`vizattn.build_movinet`.
      batches: ``(clips, labels)`` pairs: uint8 ``[batch, time, height, width,
        3]`` (or float in [0, 1]) and int ``[batch]``; at least ``steps`` of them.
      steps: number of optimizer steps.
      lr: peak learning rate of Adam.
      warmup: warm-up steps of every cycle (default: 5% of the cycle).
      cycles: steps of each learning-rate cycle (warm-up then cosine decay to
        0), summing to ``steps``; cycle ``k`` peaks at ``lr * 0.5**k`` (warm
        restarts; Adam's moments and step count start again at 0, as a new
        optimizer's would). Default: one cycle.
      bn_momentum: momentum set on every BatchNorm layer before training.
      size: ``(height, width)`` to resize clips to (see :func:`vizattn.models.as_clip`).
      progress: show a tqdm progress bar.
      on_step: called with ``(step, loss, accuracy)`` after every step.

    Returns:
      The training loss of every step, ``[steps]``.
    """
    if hasattr(batches, "__len__") and len(batches) < steps:
        raise VizAttnError(
            f"fit got {len(batches)} batches for {steps} steps; pass at least `steps` batches."
        )
    import tf_keras
    from tqdm.auto import tqdm

    from vizattn._tf import import_tf
    from vizattn.models import as_clip, init_states

    tf = import_tf()
    _set_bn_momentum(model, bn_momentum)
    steps, cycles = _check_cycles(steps, cycles)
    schedule = _Cycles(lr, cycles, warmup)
    restarts = schedule.restarts
    rate = tf.Variable(schedule(0), trainable=False, dtype=tf.float32)
    optimizer = tf_keras.optimizers.Adam(learning_rate=lambda: rate, global_clipnorm=1.0)
    entropy = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step_fn(clip, labels):
        states = init_states(model, tuple(clip.shape))
        with tf.GradientTape() as tape:
            logits, _ = model({**states, "image": clip}, training=True)
            loss = entropy(labels, logits)
        variables = model.trainable_variables
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        hits = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1), labels), tf.float32))
        return loss, hits

    losses: list[float] = []
    bar = tqdm(total=steps, desc="train-demo", disable=not progress, mininterval=2.0)
    smooth_loss = smooth_acc = None
    try:
        # Drawing the next batch (NumPy) overlaps the current step (TensorFlow).
        for step, (clips, labels) in enumerate(threaded(itertools.islice(batches, steps), 2)):
            if step in restarts:  # a warm restart: a fresh optimizer state
                for v in optimizer.variables():
                    v.assign(tf.zeros_like(v))
            rate.assign(schedule(step))
            clip = tf.constant(as_clip(clips, size=size))
            loss, hits = step_fn(clip, tf.constant(np.asarray(labels, np.int64)))
            loss, hits = float(loss), float(hits)
            losses.append(loss)
            smooth_loss = loss if smooth_loss is None else 0.95 * smooth_loss + 0.05 * loss
            smooth_acc = hits if smooth_acc is None else 0.95 * smooth_acc + 0.05 * hits
            bar.set_postfix(loss=f"{smooth_loss:.3f}", acc=f"{smooth_acc:.2f}", refresh=False)
            bar.update(1)
            if on_step is not None:
                on_step(step, loss, hits)
    finally:
        bar.close()
    if len(losses) < steps:
        raise VizAttnError(
            f"fit got {len(losses)} batches for {steps} steps; pass at least `steps` batches."
        )
    return losses


# -- measurement ---------------------------------------------------------------


def evaluate_task(
    model,
    seeds: Sequence[int],
    *,
    size: int | Sequence[int] = 96,
    frames: int = 16,
    batch: int = 16,
) -> dict:
    """Eval-mode accuracy of a 4-direction model on task clips, frame by frame as it streams.

    Args:
      model: a stream model with 4 classes in :data:`vizattn.demo.CLASS_NAMES` order.
      seeds: the clips' seeds (use held-out seeds, :func:`vizattn.demo.heldout_seeds`).
      size, frames: the clips, as for :func:`vizattn.demo.task_clip`.
      batch: clips per model call.

    Returns:
      ``{"clips", "accuracy_last_frame", "accuracy_per_frame" ([frames]),
      "accuracy_after_onset"}``: the share of clips whose streamed prediction
      (:func:`vizattn.predict_stream`, eval mode) is right at the last frame,
      at every frame, and over every frame from the clip's onset on.
    """
    from vizattn.models import predict_stream

    seeds = list(seeds)
    hits, after = [], []
    for i in range(0, len(seeds), batch):
        clips, _, labels, _, onsets = task_batch(seeds[i : i + batch], size=size, frames=frames)
        logits = predict_stream(model, clips)  # [batch, time, classes]
        right = logits.argmax(-1) == labels[:, None]  # [batch, time]
        hits.append(right)
        after += [right[b, onsets[b] :].mean() for b in range(len(labels))]
    right = np.concatenate(hits)
    per_frame = right.mean(axis=0)
    return {
        "clips": len(seeds),
        "accuracy_last_frame": float(per_frame[-1]),
        "accuracy_per_frame": [round(float(a), 6) for a in per_frame],
        "accuracy_after_onset": float(np.mean(after)),
    }


# -- the whole run -------------------------------------------------------------


def _command(out_dir: str, kwargs: Mapping[str, Any]) -> str:
    def flag(v: Any) -> str:
        return ",".join(map(str, v)) if isinstance(v, list) else str(v)

    flags = " ".join(f"--{k.replace('_', '-')} {flag(v)}" for k, v in kwargs.items())
    call = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return (
        "# Train the demo model again (same data seeds; weights match up to floating-point\n"
        "# nondeterminism of multi-threaded CPU kernels):\n"
        f"vizattn train-demo --out {out_dir} {flags}\n"
        "# or, without the command-line interface:\n"
        f'python -c "from vizattn.training import train_demo; '
        f"train_demo('{out_dir}', {call})\"\n"
    )


def _loss_summary(losses: Sequence[float], points: int = 20) -> dict:
    arr = np.asarray(losses, np.float64)
    edges = np.linspace(0, len(arr), min(points, len(arr)) + 1).astype(int)
    return {
        "first": float(arr[0]),
        "last": float(arr[-1]),
        "mean_last_10pct": float(arr[-max(1, len(arr) // 10) :].mean()),
        "curve": [
            {"steps": [int(a), int(b) - 1], "mean": round(float(arr[a:b].mean()), 4)}
            for a, b in zip(edges[:-1], edges[1:], strict=True)
            if b > a
        ],
    }


def train_demo(
    out_dir: str | os.PathLike,
    *,
    steps: int | None = None,
    cycles: Sequence[int] | None = None,
    batch: int = 8,
    size: int = 96,
    frames: int = 16,
    seed: int = 0,
    lr: float = 2e-3,
    rezero: float = 1.0,
    init: str | os.PathLike | None = None,
    eval_clips: int = 1024,
    progress: bool = True,
) -> dict:
    """Trains the demo model on the moving-shapes task and writes it to ``out_dir``.

    Args:
      out_dir: output folder (created if missing); existing files of the same
        names are replaced, each atomically, weights first.
      steps: optimizer steps (one learning-rate cycle unless ``cycles`` says
        otherwise). Without ``steps`` and ``cycles``: the bundled model's
        recipe, :data:`DEMO_CYCLES`.
      cycles: steps of each learning-rate cycle (warm-up then cosine decay);
        cycle ``k`` peaks at ``lr * 0.5**k``. A warm restart at half the peak
        learns more in the same steps than one longer cycle (see
        ``benchmarks/README.md``).
      batch: clips per step.
      size: square input size in pixels (the model's ``input_size``).
      frames: frames per training clip.
      seed: run seed (0-9): weight initialization and the training seeds
        ``seed * 100_000 ...`` (see :class:`DataSeeds`).
      lr: peak learning rate.
      rezero: initial value of every block's ReZero scale. Model Garden starts
        them at 0, which switches every residual branch off, and the model sits
        at chance for hundreds of steps; 1 starts from ordinary residual blocks.
      init: a folder written by :func:`train_demo` to continue from (its
        weights; a new warm-up and cosine cycle). Its training seeds must not
        overlap this run's: give this run another ``seed``.
      eval_clips: held-out clips measured at the end (seeds from
        :data:`vizattn.demo.HELDOUT_SEEDS`).
      progress: show a tqdm progress bar.

    Returns:
      The training record, also written to ``out_dir/train_record.json``.
    """
    if steps is None and cycles is None:
        cycles = DEMO_CYCLES
    steps, cycles = _check_cycles(steps, cycles)  # before TensorFlow's import
    data = DataSeeds(seed, steps, batch)
    if size < 32 or frames < 2 or eval_clips < 1:
        raise VizAttnError(
            f"size={size}, frames={frames}, eval_clips={eval_clips} are too small; "
            "use size >= 32, frames >= 2 and at least one evaluation clip."
        )

    import tf_keras

    from vizattn._tf import import_tf
    from vizattn.models import build_movinet

    tf = import_tf()
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VizAttnError(
            f"cannot create {os.fspath(out_dir)!r} ({e.strerror}); pass a writable --out."
        ) from None

    tf_keras.utils.set_random_seed(int(seed))
    previous = None
    if init is None:
        model = build_movinet(**_BUILD)
        set_rezero(model, rezero)
    else:
        previous = _previous_run(init, data)
        model = load_demo_model(init)
    started = time.perf_counter()
    losses = fit(
        model,
        _batches(data, size=(size, size), frames=frames),
        steps=steps,
        cycles=cycles,
        lr=lr,
        progress=progress,
    )
    train_seconds = time.perf_counter() - started
    held = heldout_seeds(eval_clips)
    eval_started = time.perf_counter()
    heldout = evaluate_task(model, held, size=size, frames=frames)
    heldout["seeds"] = {"first": held.start, "last": held.stop - 1, "count": len(held)}
    heldout["mode"] = "eval (training=False), streamed frame by frame with vizattn.predict_stream"

    # Weights first: a TF checkpoint, restored by path (robust to layer renumbering).
    prefix = folder / _WEIGHTS
    _write_checkpoint(tf, model, prefix)
    weights_bytes = sum(p.stat().st_size for p in folder.glob(f"{_WEIGHTS}.*"))

    kwargs: dict[str, Any] = {"steps": steps} if len(cycles) == 1 else {"cycles": list(cycles)}
    kwargs.update(seed=seed, batch=batch, size=size, frames=frames)
    kwargs.update(lr=lr, rezero=rezero)
    if init is not None:
        kwargs["init"] = _shown_dir(Path(init))
        del kwargs["rezero"]
    meta = {
        "build": dict(_BUILD),
        "checkpoint": _WEIGHTS,
        "class_names": list(CLASS_NAMES),
        "input_size": [size, size],
        "frames": frames,
        "task": "vizattn.demo.task_clip: direction of the one sliding shape",
    }
    record = {
        "task": meta["task"],
        "build": dict(_BUILD),
        "class_names": list(CLASS_NAMES),
        "arguments": {**kwargs, "eval_clips": eval_clips},
        "train_seeds": data.as_dict(),
        "steps": steps,
        "optimizer": {
            "name": "Adam",
            "peak_lr": lr,
            "schedule": "linear warm-up (5% of the cycle) then cosine decay to 0, per cycle",
            "cycles": [{"steps": n, "peak_lr": lr * 0.5**k} for k, n in enumerate(cycles)],
            "global_clipnorm": 1.0,
        },
        "batchnorm_momentum": BN_MOMENTUM,
        "rezero_init": rezero if init is None else "kept from init",
        "init": previous,
        "loss": "cross-entropy of the final logits (whole clip, zero initial states)",
        "wall_time_seconds": {
            "train": round(train_seconds, 1),
            "eval": round(time.perf_counter() - eval_started, 1),
        },
        "loss_curve": _loss_summary(losses),
        "heldout_accuracy_last_frame": heldout["accuracy_last_frame"],
        "heldout": heldout,
        "weights_bytes": weights_bytes,
        "environment": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    _write_text(folder / "model.json", json.dumps(meta, indent=2) + "\n")
    _write_text(folder / "train_record.json", json.dumps(record, indent=2) + "\n")
    _write_text(folder / "COMMAND.txt", _command(_shown_dir(folder), kwargs))
    return record


def _previous_run(init: str | os.PathLike, data: DataSeeds) -> dict:
    """What the run in ``init`` was, refusing overlapping training seeds."""
    folder = Path(init)
    meta = read_model_json(folder)
    if meta.get("build") != _BUILD:
        raise VizAttnError(
            f"{folder} holds another architecture ({meta.get('build')}); continue only from "
            "a folder written by vizattn.training.train_demo."
        )
    try:
        record = json.loads((folder / "train_record.json").read_text())
    except (OSError, ValueError):
        record = {}
    runs = [record.get("train_seeds", {})] + [
        r.get("train_seeds", {}) for r in _chain(record.get("init"))
    ]
    mine = data.as_dict()
    for seeds in runs:
        if seeds and not (seeds["last"] < mine["first"] or mine["last"] < seeds["first"]):
            raise VizAttnError(
                f"this run's training seeds {mine['first']}-{mine['last']} overlap those of "
                f"{folder} ({seeds['first']}-{seeds['last']}); pass another seed."
            )
    keep = ("arguments", "train_seeds", "steps", "wall_time_seconds", "heldout_accuracy_last_frame")
    out = {k: record[k] for k in keep if k in record}
    out["folder"] = _shown_dir(folder)
    out["init"] = record.get("init")
    return out


def _chain(previous: dict | None) -> Iterator[dict]:
    while previous:
        yield previous
        previous = previous.get("init")


def _shown_dir(folder: Path) -> str:
    try:
        return os.path.relpath(folder)
    except ValueError:  # another drive on Windows
        return os.fspath(folder)


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text), mode="w")


def _write_checkpoint(tf, model, prefix: Path) -> None:
    """Writes ``prefix.index`` + ``prefix.data-*`` via a temporary prefix, index last."""
    temporary = prefix.parent / f".{prefix.name}-{secrets.token_hex(4)}.tmp"
    try:
        tf.train.Checkpoint(model=model).write(str(temporary))
        parts = sorted(prefix.parent.glob(f"{temporary.name}.*"))
        for old in prefix.parent.glob(f"{prefix.name}.data-*"):
            old.unlink()
        for part in sorted(parts, key=lambda p: p.name.endswith(".index")):
            os.replace(part, f"{prefix}{part.name[len(temporary.name) :]}")
    finally:
        for part in prefix.parent.glob(f"{temporary.name}*"):
            part.unlink(missing_ok=True)


if __name__ == "__main__":  # pragma: no cover - python -m vizattn.training OUT [STEPS]
    target = sys.argv[1] if len(sys.argv) > 1 else "demo_model"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else None  # None: DEMO_CYCLES
    print(json.dumps(train_demo(target, steps=count), indent=2))
