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
# # 2. Causal masking: where SimAM's statistics come from
#
# A streaming model must produce frame $t$ from frames $\le t$. For SimAM on video
# `[batch, time, height, width, channels]` that is decided by one thing: the set $S(t)$ of
# positions over which $\hat\mu_t$ and $\hat\sigma_t^2$ are taken.
#
# | mode | $S(t)$ | causal | stream state |
# |---|---|---|---|
# | `frame` | $\{t\} \times \text{pixels}$ | yes | none |
# | `cumulative` | $\{0, \dots, t\} \times \text{pixels}$ | yes | running count, mean, $M_2$ |
# | `window` | $\{t-k+1, \dots, t\} \times \text{pixels}$ | yes | last $k-1$ frame summaries |
# | `clip` | $\{0, \dots, T-1\} \times \text{pixels}$ | **no** | (reads the future) |
#
# $$\hat\mu_t = \frac{1}{|S(t)|}\sum_{p \in S(t)} x_p, \qquad
# \hat\sigma_t^2 = \frac{1}{|S(t)| - 1}\sum_{p \in S(t)} (x_p - \hat\mu_t)^2 .$$
#
# `clip` is the naive 3D port of SimAM; it is here as the counter-example.

# %%
import os

import ipywidgets
import numpy as np
from matplotlib.patches import Rectangle

import vizattn
import vizattn.widgets
from vizattn._tf import import_tf
from vizattn.layers import MODES, CausalSimAM
from vizattn.widgets import MODE_COLOURS

# VIZATTN_SMALL=1 (the test suite) shrinks every input so the notebook runs in seconds.
SMALL = os.environ.get("VIZATTN_SMALL") == "1"
tf = import_tf()

T = 6 if SMALL else 8
H = W = 4 if SMALL else 6
C = 3
WINDOW = 3
rng = np.random.default_rng(0)
x = rng.normal(size=(1, T, H, W, C)).astype(np.float32)
print("modes:", MODES, "| clip", x.shape)

# %% [markdown]
# ## Which positions feed the statistics of frame $t$
#
# The masks are *measured* from the layer, not drawn from the table: the gradient of output
# frame $t$ with respect to every input position is non-zero exactly on $S(t)$ (the output at a
# pixel depends on its own value and on $\hat\mu_t$, $\hat\sigma_t^2$). Rows are frames, columns
# the $H \cdot W$ pixels of each frame; the outlined row is frame $t$.


# %%
def expected_membership(mode, t, window=WINDOW):
    """S(t) from the table above, as a boolean [T, H*W] mask."""
    rows = {
        "frame": [t],
        "cumulative": range(t + 1),
        "window": range(max(0, t - window + 1), t + 1),
        "clip": range(T),
    }[mode]
    mask = np.zeros((T, H * W), bool)
    mask[list(rows)] = True
    return mask


def measured_membership(mode, t, window=WINDOW):
    """Positions whose value moves output frame t (non-zero gradient), [T, H*W]."""
    layer = CausalSimAM(mode=mode, window=window)
    xt = tf.constant(x)
    r = tf.constant(rng.normal(size=x[:, t].shape).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y, _ = layer(xt)
        score = tf.reduce_sum(y[:, t] * r)
    g = tape.gradient(score, xt).numpy()[0]  # [T, H, W, C]
    return (np.abs(g).max(axis=-1) > 0).reshape(T, H * W)


memberships = {
    (mode, t, k): measured_membership(mode, t, k)
    for mode in MODES
    for t in range(T)
    for k in range(1, T + 1)
    if mode == "window" or k == WINDOW
}
for (mode, t, k), measured in memberships.items():
    assert (measured == expected_membership(mode, t, k)).all(), (mode, t, k)
print(f"measured S(t) == the table, for every mode, t and window ({len(memberships)} cases)")


# %%
def draw_membership(fig, t, window):
    for ax, mode in zip(fig.subplots(1, len(MODES)), MODES, strict=True):
        mask = memberships[(mode, t, window if mode == "window" else WINDOW)]
        ax.imshow(mask, cmap="cividis", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.add_patch(Rectangle((-0.5, t - 0.5), H * W, 1, fill=False, edgecolor="#D55E00", lw=2))
        ax.set_title(f"{mode}\n|S({t})| = {mask.sum()} positions", color=MODE_COLOURS[mode])
        ax.set_xlabel("pixel (H x W)")
        ax.set_xticks([])
        ax.set_yticks(range(T))
    fig.axes[0].set_ylabel("frame")


vizattn.widgets.interactive_figure(
    draw_membership,
    {
        "t": ipywidgets.IntSlider(value=T // 2, min=0, max=T - 1, description="frame t"),
        "window": ipywidgets.IntSlider(value=WINDOW, min=1, max=T, description="window k"),
    },
    height=3.2,
)

# %% [markdown]
# ## The effect: change a future frame
#
# Give one input frame new noise and compare every output frame. For a causal mode the outputs
# of the frames before it must not move *at all* (exactly zero, not just small); `clip` moves
# all of them, because every frame's $\hat\mu$ and $\hat\sigma^2$ include the changed frame.
# One panel per mode, so no line hides another.


# %%
def frame_changes(changed, window=WINDOW):
    """max |y - y'| per output frame when input frame ``changed`` gets new values, per mode."""
    x2 = x.copy()
    x2[:, changed] = np.random.default_rng(1).normal(size=x2[:, changed].shape)
    out = {}
    for mode in MODES:
        layer = CausalSimAM(mode=mode, window=window)
        y1, _ = layer(x)
        y2, _ = layer(x2)
        out[mode] = np.abs(y1.numpy() - y2.numpy()).max(axis=(0, 2, 3, 4))
    return out


changes = {(c, k): frame_changes(c, k) for c in range(T) for k in (2, WINDOW, T)}
for mode in ("frame", "cumulative", "window"):
    assert (changes[(T - 1, WINDOW)][mode][: T - 1] == 0).all(), mode  # exactly unchanged
assert (changes[(T - 1, WINDOW)]["clip"][: T - 1] > 0).all()  # the leak
print({mode: np.round(ch, 4).tolist() for mode, ch in changes[(T - 1, WINDOW)].items()})


# %%
def draw_effect(fig, changed, window):
    axes = fig.subplots(1, len(MODES), sharey=True)
    top = max(ch.max() for ch in changes[(changed, window)].values())
    for ax, (mode, ch) in zip(axes, changes[(changed, window)].items(), strict=True):
        ax.bar(range(T), ch, color=MODE_COLOURS[mode], width=0.7)
        for t in np.flatnonzero(ch == 0):
            ax.text(t, top * 0.02, "0", ha="center", va="bottom", fontsize=9, color="0.3")
        ax.axvline(changed, color="0.5", lw=1, ls="--")
        ax.set_title(mode, color=MODE_COLOURS[mode])
        ax.set_xlabel("output frame")
        ax.set_xticks(range(T))
    axes[0].set_ylabel("max |change|")
    fig.suptitle(f"input frame {changed} changed (window k = {window})")


vizattn.widgets.interactive_figure(
    draw_effect,
    {
        "changed": ipywidgets.IntSlider(value=T - 1, min=0, max=T - 1, description="changed"),
        "window": ipywidgets.Dropdown(options=[2, WINDOW, T], value=WINDOW, description="window"),
    },
    height=3.0,
)

# %% [markdown]
# ### Streaming gives the same numbers
#
# The causal modes carry their statistics in stream states: feeding the clip frame by frame,
# passing the returned states along, gives exactly the whole-clip output. (`clip` has no
# state: frame by frame it would just be `frame` mode, a different function.)

# %%
for mode in ("frame", "cumulative", "window"):
    layer = CausalSimAM(mode=mode, window=WINDOW)
    whole, _ = layer(x)
    states, steps = {}, []
    for t in range(T):
        y, states = layer(x[:, t : t + 1], states=states)
        steps.append(y.numpy())
    assert np.allclose(np.concatenate(steps, axis=1), whole.numpy(), atol=1e-5), mode
    print(f"{mode:10s} stream == clip; states: {sorted(states)}")

# %% [markdown]
# ## Dependency matrices: `check_causal`
#
# `vizattn.check_causal` measures $D[t_\text{out}, t_\text{in}]$, how much input frame
# $t_\text{in}$ moves output frame $t_\text{out}$ (noise on one frame at a time). Causal means
# nothing above the diagonal: the hatched triangle must be empty. Crosses mark leaks.

# %%
reports = {
    mode: vizattn.check_causal(CausalSimAM(mode=mode, window=WINDOW), x.shape) for mode in MODES
}
for mode, report in reports.items():
    assert report.causal == (mode != "clip"), mode
vizattn.widgets.dependency_explorer(reports)

# %% [markdown]
# ## The whole stream MoViNet passes
#
# A MoViNet-A0 (Model Garden's stream configuration) with `cumulative` SimAM after every
# block's projection. `randomize` gives the zero-initialized `rezero` scales and batch-norm
# statistics random values: at initialization every residual branch is multiplied by 0 and the
# check would pass whatever SimAM did. The checked output is the last block before the head
# pools time away, so the matrix covers the whole network.

# %%
from vizattn.models import VizMovinetBlock
from vizattn.testing import randomize, synthetic_clip

# At tiny sizes, tracing a MoViNet costs far more than running it: run eagerly (same numbers).
if SMALL:
    tf.config.run_functions_eagerly(True)

SIZE = 32 if SMALL else 64
model = vizattn.build_movinet("a0", simam="cumulative", num_classes=10)
randomize(model, seed=0)
model_report = vizattn.check_causal(model, (1, T, SIZE, SIZE, 3))
print(model_report.verdict)
assert model_report.causal

clip = synthetic_clip(frames=T, size=SIZE)
whole = vizattn.predict(model, clip)
stream = vizattn.predict_stream(model, clip)
assert np.allclose(whole, stream[:, -1], atol=1e-4)
print(
    f"predict == predict_stream after the last frame; max |diff| = "
    f"{np.abs(whole - stream[:, -1]).max():.1e}"
)

# %% [markdown]
# ### The same block with `clip` SimAM leaks
#
# Take one real block of this model (Model Garden's `MovinetBlock` config), rebuild it with
# `clip` SimAM, and check the block alone: everything above the diagonal lights up.

# %%
name = "block2_layer1"
block = vizattn.hooks.endpoints(model)[name]
channels = block.input_shape[-1]
config = block.get_config()
variants = {"A0 stream, cumulative": model_report}
for mode in ("cumulative", "clip"):
    b = VizMovinetBlock.from_config({**config, "simam": {"mode": mode}, "name": f"{name}_{mode}"})
    b(np.zeros((1, T, 4, 4, channels), np.float32))  # build
    randomize(b, seed=0)
    variants[f"{name}, {mode}"] = vizattn.check_causal(b, (1, T, 4, 4, channels))
assert variants[f"{name}, cumulative"].causal and not variants[f"{name}, clip"].causal
vizattn.widgets.dependency_explorer(variants)

# %% [markdown]
# **Take-away.** `frame`, `cumulative` and `window` keep every output frame independent of the
# future (exactly, not approximately) and stream with small states; `clip` does not. For a
# paper, `vizattn.figures.compare_causality` and `vizattn.figures.dependency_matrix` draw these
# matrices as vector graphics.
