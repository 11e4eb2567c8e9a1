# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. Attention maps on video, against the ground truth
#
# The demo clip has known answers: three flat shapes move over a static textured background,
# and its masks file holds the exact object masks. `vizattn.demo.make_demo` draws both from
# their seed (the same clip as `assets/demo.mp4` and `assets/demo_masks.npz`, which
# `vizattn demo` writes), so this notebook runs wherever it is copied. This notebook
# loads the **trained demo model** (`vizattn.load_model()`: MoViNet-A0 stream with SimAM,
# trained on this moving-shapes task), captures SimAM and Grad-CAM maps, plays them over the
# video, scores both against the masks with `vizattn.metrics`, follows the predictions as the
# stream advances, and makes a paper figure.
#
# Everything below works the same on your own model: replace `load_model()` with
# `vizattn.load_model("path/to/checkpoint")` or your own `vizattn.build_movinet(...)`.

# %%
# %matplotlib inline
import os
import tempfile
from pathlib import Path

import numpy as np
from IPython.display import display

import vizattn
import vizattn.widgets
from vizattn import figures
from vizattn._tf import import_tf
from vizattn.video import read_all

# VIZATTN_SMALL=1 (the test suite) shrinks every input so the notebook runs in seconds.
SMALL = os.environ.get("VIZATTN_SMALL") == "1"
tf = import_tf()
if SMALL:  # at tiny sizes tracing costs more than running: run eagerly (same numbers)
    tf.config.run_functions_eagerly(True)

with tempfile.TemporaryDirectory() as folder:  # demo.mp4 and demo_masks.npz, from their seed
    video_path, masks_path = vizattn.demo.make_demo(folder)
    video, info = read_all(video_path)
    with np.load(masks_path) as data:
        truth = dict(data)
STEP = 2  # every other frame of the 25 fps clip
index = np.arange(0, len(video), STEP)[: 8 if SMALL else None]
frames, masks = video[index], truth["masks"][index]
fps = float(info.fps) / STEP
print(
    f"{len(frames)} frames of {frames.shape[2]}x{frames.shape[1]} at {fps:g} fps; objects:",
    ", ".join(map(str, truth["names"])),
)

# %% [markdown]
# ## The model and the capture
#
# `model_info` says what the model is; `as_clip` is vizattn's one preprocessing (uint8 to
# [0, 1], resized to the size the model was trained at). One `capture` records SimAM's
# attention, energy and input in every block, Grad-CAM at block 3 and the logits.

# %%
model = vizattn.load_model()
about = vizattn.models.model_info(model)
print(about.model_id, "| SimAM", about.simam, "| classes:", about.class_names)
clip = vizattn.models.as_clip(frames, size=about.input_size)
cache = vizattn.capture(
    model, clip, kinds=["simam", "simam_energy", "simam_input", "gradcam", "logits"]
)
print(
    "clip",
    clip.shape,
    "| predicted:",
    (about.class_names or range(about.num_classes))[int(cache.probabilities()[0].argmax())],
)

# %% [markdown]
# ## Play the maps over the video
#
# Press Play, or move the frame slider. A block (`block3`) averages its layers; `kind`
# switches between SimAM's attention, its energy, its input and Grad-CAM; `scale` between one
# scale for the whole clip (changes over time show), per frame, and raw values. `auto`, the
# default, scales Grad-CAM per frame and the rest per clip: a stream's first predictions have
# far larger gradients, and one scale for the clip would leave Grad-CAM's later frames black.
# The last panel is the ground truth.

# %%
vizattn.widgets.overlay_explorer(cache, frames, {"masks": masks, "names": truth["names"]}, fps=fps)

# %% [markdown]
# ## SimAM against Grad-CAM, scored on the masks
#
# `vizattn.metrics` scores any maps against masks (maps are resized to the masks):
# the **pointing game** (is the map's maximum on an object?), the **energy inside** (the share
# of the map's mass on the objects) and the **AUROC** of the map as a pixel classifier of
# object vs. background. Chance is the objects' share of the frame for the first two and 0.5
# for the AUROC; the centre baseline (a Gaussian in the middle of the frame) is what a map
# scores without looking at the video. When the masks file names a target object, only it
# counts.

# %%
target = int(truth["target"]) if "target" in truth else None  # the object that decides
objects = masks == target if target else masks > 0
onset = int(truth["onset"]) // STEP if "onset" in truth else None  # target starts moving
onset = onset if onset is not None and onset < len(frames) else None
candidates = {
    "SimAM block3": cache.frame_maps("block3", "simam", normalize=None),
    "SimAM block1": cache.frame_maps("block1", "simam", normalize=None),
    "Grad-CAM block3": cache.frame_maps("block3", "gradcam", normalize=None),
}
candidates["centre baseline"] = vizattn.metrics.center_baseline(candidates["SimAM block3"].shape)
print(
    f"target covers {objects.mean():.1%} of the pixels"
    + (f"; onset frame {onset}" if onset else "")
)
print(f"{'':16s} {'pointing':>9s} {'energy in':>10s} {'AUROC':>7s}   (all frames)")
for label, maps in candidates.items():
    scores = [
        getattr(vizattn.metrics, metric)(maps, objects, onset=onset)
        for metric in ("pointing_game", "energy_inside", "auroc")
    ]
    print(f"{label:16s} {scores[0].all:9.2f} {scores[1].all:10.2f} {scores[2].all:7.2f}")

# %% [markdown]
# ## Predictions as the stream advances
#
# `capture(..., stream=True)` feeds one chunk of frames at a time and carries the stream
# states; the logits come after every frame. Causal SimAM gives the same maps as the whole
# clip at once.

# %%
stream_cache = vizattn.capture(model, clip, kinds=["simam", "logits"], stream=True)
worst = max(float(np.abs(stream_cache[n] - cache[n]).max()) for n in stream_cache.names("simam"))
assert worst < 1e-4, worst
print(f"{len(stream_cache.names('simam'))} SimAM arrays: stream == clip (max |diff| {worst:.1e})")
vizattn.widgets.prediction_timeline(stream_cache, frames, fps=fps)

# %% [markdown]
# ## SimAM's energies in this model
#
# The same explorer as in notebook 1, on the inputs SimAM received inside the model: here the
# layers of block 3 (`names` takes a name, a list of names or a predicate on hook names, as
# everywhere in vizattn; leave it out for every layer).

# %%
vizattn.widgets.energy_explorer(cache, names="block3")

# %% [markdown]
# ## A figure for the paper
#
# `vizattn.figures` makes paper-sized vector figures; `figures.save` writes PDF/SVG/PNG
# atomically and reproducibly (here to a temporary folder).

# %%
strip = figures.frame_strip(
    frames,
    cache.frame_maps("block3")[0],
    times=index / float(info.fps),
    every=max(1, len(frames) // 6),
    title="block3 SimAM, demo model",
)
with tempfile.TemporaryDirectory() as folder:
    path = figures.save(strip, Path(folder) / "simam_strip.pdf")
    print(f"wrote {path.name}: {path.stat().st_size / 1024:.0f} KiB")
display(strip)
