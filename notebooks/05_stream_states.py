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
# # 5. Stream states: what a streaming MoViNet carries from frame to frame
#
# A stream MoViNet sees one frame (or a few) per call. Everything it needs from the past is
# in its **stream states**, a dictionary of tensors that each call takes and returns:
#
# * every causal 3D convolution keeps a **buffer** of its last input frames
#   (`..._stream_buffer`, `[batch, kernel_time - 1, height, width, channels]`);
# * every squeeze-excitation keeps a running spatio-temporal **average** (`..._pool_buffer`,
#   with its frame count `..._pool_frame_count`), and so does the classifier head;
# * causal SimAM and TAdaConv add their own statistics (running mean and variance, windows).
#
# This notebook measures them on the trained demo model (`vizattn.load_model()`), plots how
# they evolve, resets them, streams in chunks, weighs the SimAM variants' state cost, and shows
# why an output at frame $t$ cannot depend on frames after $t$.

# %%
import os

import ipywidgets
import numpy as np

import vizattn
import vizattn.widgets
from vizattn._tf import import_tf
from vizattn.layers import CausalSimAM
from vizattn.widgets import MODE_COLOURS, format_bytes, states_summary

# VIZATTN_SMALL=1 (the test suite) shrinks every input so the notebook runs in seconds.
SMALL = os.environ.get("VIZATTN_SMALL") == "1"
tf = import_tf()
if SMALL:  # at tiny sizes tracing costs more than running: run eagerly (same numbers)
    tf.config.run_functions_eagerly(True)

model = vizattn.load_model()
about = vizattn.models.model_info(model)
print(
    about.model_id,
    "stream" if about.stream else "base",
    "| SimAM",
    about.simam,
    "| trained at",
    about.input_size,
)

# %% [markdown]
# ## What each block carries
#
# `vizattn.models.init_states(model, shape)` makes the zero states for clips of `shape`;
# nothing runs, so the big resolutions cost nothing to measure. Buffers scale with the frame
# area, running averages do not.

# %%
sizes = (172, 224)
at = {s: vizattn.models.init_states(model, (1, 1, s, s, 3)) for s in sizes}
per_block = {}
for s, states in at.items():
    rows = states_summary(states)
    total = sum(r["bytes"] for r in rows)
    print(f"{s}x{s}: {len(rows)} state tensors, {format_bytes(total)} per stream")
    for r in rows:
        per_block.setdefault(r["block"], {}).setdefault(s, 0)
        per_block[r["block"]][s] += r["bytes"]

vizattn.widgets.states_table(at[172])


# %%
def draw_bytes(fig, log):
    ax = fig.subplots()
    blocks = list(per_block)
    for i, s in enumerate(sizes):
        ax.bar(
            np.arange(len(blocks)) + (i - 0.5) * 0.4,
            [per_block[b][s] / 1024 for b in blocks],
            width=0.4,
            label=f"{s}x{s}",
            color=("#0072B2", "#E69F00")[i],
        )
    ax.set_xticks(range(len(blocks)), blocks, rotation=45, ha="right")
    ax.set_ylabel("KiB per stream")
    ax.set_yscale("log" if log else "linear")
    ax.set_title("stream state per block")
    ax.legend()


vizattn.widgets.interactive_figure(
    draw_bytes, {"log": ipywidgets.Checkbox(value=True, description="log scale")}, height=3.6
)

# %% [markdown]
# ## How the states evolve, frame by frame
#
# `capture(..., stream=True, kinds=["state"])` keeps the states after every frame
# (`cache.states[t]`). Pick a block and a state: left, every state of the block over time
# (root mean square); middle, the chosen state's channels over time; right, the chosen state
# after the chosen frame. Press Play to step through the clip.

# %%
video, _, _ = vizattn.demo.demo_frames()  # the demo clip (assets/demo.mp4), drawn in memory
FRAMES = 8 if SMALL else 32
frames = video[: 2 * FRAMES : 2]  # every other frame
clip = vizattn.models.as_clip(frames, size=about.input_size)
cache = vizattn.capture(model, clip, kinds=["state", "logits"], stream=True)
print(f"{len(cache.states)} steps x {len(cache.states[0])} state tensors; clip {clip.shape}")
vizattn.widgets.states_explorer(cache)

# %% [markdown]
# ## Resetting
#
# The states *are* the memory: a new video must start from zero states
# (`init_states`), or it inherits the previous one. Below, clip B (the same frames, backwards)
# runs twice: from fresh states, which is what `predict_stream` does, and with the states
# left by the clip above (`cache.states[-1]`) carried over. Carried over, its predictions are
# pulled toward what the first clip showed, most at the first frames.


# %%
def run(clip, states):
    """The stream contract by hand: one frame per call, states in and out."""
    logits = []
    for t in range(clip.shape[1]):
        out, states = model({**states, "image": tf.constant(clip[:, t : t + 1])})
        logits.append(out.numpy())
    return np.stack(logits, axis=1), states


clip_b = clip[:, ::-1].copy()
b_fresh = vizattn.predict_stream(model, clip_b)  # zero states: a reset
carried = {k: tf.constant(v) for k, v in cache.states[-1].items()}
assert set(carried) == set(vizattn.models.init_states(model, clip_b.shape))
b_carried, _ = run(clip_b, carried)
gap = np.abs(b_carried - b_fresh).max(axis=(0, 2))
print("carried states change the logits of clip B by", np.round(gap, 3))


def draw_reset(fig):
    probs = {
        "fresh states (reset)": vizattn.cache.softmax(b_fresh)[0],
        "states carried from clip A": vizattn.cache.softmax(b_carried)[0],
    }
    label = int(probs["fresh states (reset)"][-1].argmax())
    name = (about.class_names or [f"class {i}" for i in range(about.num_classes)])[label]
    ax = fig.subplots()
    for (what, p), colour, marker in zip(probs.items(), ("#0072B2", "#D55E00"), "os", strict=True):
        ax.plot(p[:, label], marker=marker, color=colour, label=what)
    ax.set_xlabel("frame of clip B")
    ax.set_xticks(range(clip_b.shape[1]))
    ax.set_ylabel(f"p({name})")
    ax.set_ylim(0, 1)
    ax.legend()


vizattn.widgets.interactive_figure(draw_reset, {}, height=3.0)

# %% [markdown]
# ## Chunks of 1, 2 and 4 frames give the same results
#
# `capture_stream(model, frames, chunk=k)` calls the model on `k` frames at a time and carries
# the states between calls. For a causal model the chunk size is an implementation detail:
# the per-frame logits and the SimAM maps agree to float rounding.

# %%
runs = {
    k: vizattn.Cache.concat(vizattn.capture_stream(model, clip, chunk=k, kinds=["simam", "logits"]))
    for k in (1, 2, 4)
}
for k, c in runs.items():
    logit_diff = float(
        np.abs(c["classifier_head/logits"] - runs[1]["classifier_head/logits"]).max()
    )
    map_diff = max(float(np.abs(c[n] - runs[1][n]).max()) for n in c.names("simam"))
    print(f"chunk {k}: logits differ by {logit_diff:.1e}, SimAM maps by {map_diff:.1e}")
    assert logit_diff < 1e-4 and map_diff < 1e-4

# %% [markdown]
# ## What SimAM's variants cost in state
#
# | mode | remembers | state per SimAM layer |
# |---|---|---|
# | `frame` | nothing: statistics of frame $t$ only | none |
# | `cumulative` | every past frame, equally (running count, mean, $M_2$) | $2C + 1$ numbers |
# | `window` $k$ | the last $k-1$ frames' summaries | $2(k-1)C + 1$ numbers |
#
# Per channel, not per pixel: the cost does not grow with the resolution. Below, summed over
# a SimAM after every block's projection of this model, next to the model's own states.

# %%
acts = vizattn.capture(
    model, clip[:, :1], kinds=["activation"], names=lambda n: n.startswith("block")
)
channels = [acts[n].shape[-1] for n in acts.names("activation")]
variants = {"frame": CausalSimAM(mode="frame"), "cumulative": CausalSimAM(mode="cumulative")}
variants.update({f"window {k}": CausalSimAM(mode="window", window=k) for k in (2, 4, 8)})
cost = {
    label: sum(
        4 * int(np.prod(shape)) for c in channels for shape in layer.state_shapes(1, c).values()
    )
    for label, layer in variants.items()
}
own = sum(r["bytes"] for r in states_summary(at[172]))
for label, size in cost.items():
    print(
        f"{label:11s} {format_bytes(size):>10s} = {size / own:6.2%} of the model's states at 172²"
    )


def draw_cost(fig):
    ax = fig.subplots()
    colours = [MODE_COLOURS["frame"], MODE_COLOURS["cumulative"], *[MODE_COLOURS["window"]] * 3]
    ax.bar(list(cost), [v / 1024 for v in cost.values()], color=colours)
    ax.axhline(own / 1024, color="0.4", ls="--", lw=1)
    ax.text(0, own / 1024, " the model's own states at 172²", va="bottom", color="0.3")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylabel("KiB per stream")
    ax.set_title(f"SimAM state over {len(channels)} layers")


vizattn.widgets.interactive_figure(draw_cost, {}, height=3.0)

# %% [markdown]
# ## Why the output at $t$ cannot change when later frames change
#
# At step $t$ the model receives frame $t$ and the states after frame $t-1$, and returns the
# output at $t$ and the states after $t$. The states after $t-1$ were made from frames
# $0..t-1$ only (by the same argument one step earlier, down to the zero states). So nothing
# that arrives after $t$ has any way in: not approximately, *exactly*. Below, every frame
# from `changed` on is replaced by noise; the predictions before it are bit-for-bit the same.

# %%
rng = np.random.default_rng(0)
original = vizattn.predict_stream(model, clip)
T = clip.shape[1]
after_change = {}
for changed in sorted({1, T // 2, T - 2}):
    other = clip.copy()
    other[:, changed:] = rng.uniform(size=other[:, changed:].shape).astype(np.float32)
    diff = np.abs(vizattn.predict_stream(model, other) - original).max(axis=(0, 2))
    assert (diff[:changed] == 0).all(), changed  # exactly unchanged, not approximately
    after_change[changed] = diff
print("outputs before the changed frame are exactly equal:", list(after_change), "checked")


def draw_future(fig, changed):
    diff = after_change[changed]
    ax = fig.subplots()
    ax.bar(
        range(len(diff)), diff, color=np.where(np.arange(len(diff)) < changed, "#0072B2", "#D55E00")
    )
    for t in range(changed):
        ax.text(t, 0, "0", ha="center", va="bottom", color="0.3")
    ax.axvline(changed - 0.5, color="0.4", ls="--")
    ax.set_xticks(range(len(diff)))
    ax.set_xlabel("output frame t")
    ax.set_ylabel("max |change of the logits|")
    ax.set_title(f"frames {changed} and later replaced by noise")


vizattn.widgets.interactive_figure(
    draw_future,
    {
        "changed": ipywidgets.Dropdown(
            options=list(after_change), value=T // 2, description="changed from"
        )
    },
    height=3.0,
)
