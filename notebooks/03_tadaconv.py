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
# # 3. TAdaConv: a kernel per frame, calibrated causally
#
# TAdaConv (Huang et al.) gives frame $t$ its own kernel, a calibration of a shared base
# kernel $W_b$:
#
# $$W_t = \alpha_t \odot W_b, \qquad
# \alpha_t = 1 + \mathcal{F}(v_t + g_t) \in \mathbb{R}^{C_\text{in}},$$
#
# where $v_t = \operatorname{GAP}(x_t)$ is frame $t$'s spatial mean and $\mathcal{F}$ is a small
# routing network over time (two temporal convolutions; v2 adds temporal self-attention). The
# paper's global descriptor is the clip mean $g = \frac{1}{T}\sum_s v_s$, which reads the
# future; vizattn uses the **cumulative mean** $g_t = \frac{1}{t+1}\sum_{s \le t} v_s$ and
# **causal** (left-padded) temporal convolutions. The last routing layer starts at zero, so
# $\alpha_t = 1$ at initialization.
#
# Because a convolution is linear in each input channel, calibrating the kernel equals
# calibrating the input:
#
# $$(\alpha_t \odot W_b) * x_t = W_b * (\alpha_t \odot x_t),$$
#
# which is how `TAdaConv2D` computes it (one convolution for all frames).

# %%
import os

import ipywidgets
import numpy as np

import vizattn
import vizattn.widgets
from vizattn._tf import import_tf
from vizattn.layers import TAdaConv2D, tada_conv_direct
from vizattn.testing import randomize
from vizattn.widgets import MODE_COLOURS

# VIZATTN_SMALL=1 (the test suite) shrinks every input so the notebook runs in seconds.
SMALL = os.environ.get("VIZATTN_SMALL") == "1"
tf = import_tf()

T = 6 if SMALL else 8
H = W = 6 if SMALL else 8
C = 8
rng = np.random.default_rng(0)
x = rng.normal(size=(1, T, H, W, C)).astype(np.float32)

conv = TAdaConv2D(filters=5, kernel_size=3, routing={"version": "v1"})
conv(x)
alpha0, _ = conv.routing(x)
assert np.abs(alpha0.numpy() - 1).max() == 0  # identity at initialization
randomize(conv, seed=0)  # give the zero-initialized conv_b random values
alpha, _ = conv.routing(x)
print(f"alpha after randomize: min {alpha.numpy().min():.3f}, max {alpha.numpy().max():.3f}")

# %% [markdown]
# ## The efficient form equals the per-frame-kernel form
#
# `tada_conv_direct` is the literal formula: build $W_t = \alpha_t \odot W_b$ for each frame
# and convolve frame $t$ with it.

# %%
y, _ = conv(x)
direct = tada_conv_direct(x, conv.kernel, alpha, conv.bias)
assert np.allclose(y.numpy(), direct.numpy(), atol=1e-5)
print(f"regular conv:   max |efficient - direct| = {np.abs(y.numpy() - direct.numpy()).max():.1e}")

dw = TAdaConv2D(kernel_size=3, depthwise=True, routing={"version": "v2", "window": 3})
dw(x)
randomize(dw, seed=1)
y_dw, _ = dw(x)
alpha_dw, _ = dw.routing(x)
direct_dw = tada_conv_direct(x, dw.kernel, alpha_dw, dw.bias, depthwise=True)
assert np.allclose(y_dw.numpy(), direct_dw.numpy(), atol=1e-5)
print(
    f"depthwise (v2): max |efficient - direct| = "
    f"{np.abs(y_dw.numpy() - direct_dw.numpy()).max():.1e}"
)


# %%
def draw_kernels(fig, c_in, c_out):
    """W_t[:, :, c_in, c_out] = alpha_t[c_in] * W_b for every frame: one kernel per frame."""
    a = alpha.numpy()[0]
    base = conv.kernel.numpy()[:, :, c_in, c_out]
    kernels = [a[t, c_in] * base for t in range(T)]
    lim = max(np.abs(k).max() for k in kernels)
    axes = fig.subplots(1, T)
    for t, (ax, k) in enumerate(zip(axes, kernels, strict=True)):
        image = ax.imshow(k, cmap="PuOr", vmin=-lim, vmax=lim)
        ax.set_title(f"W_{t}\nα = {a[t, c_in]:.2f}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=list(axes), fraction=0.02)


vizattn.widgets.interactive_figure(
    draw_kernels,
    {
        "c_in": ipywidgets.IntSlider(value=0, min=0, max=C - 1, description="in channel"),
        "c_out": ipywidgets.IntSlider(value=0, min=0, max=4, description="out channel"),
    },
    height=2.4,
)

# %% [markdown]
# ## Causal routing
#
# The descriptor that enters the routing network, for one channel: the frame mean $v_t$, the
# causal global descriptor (cumulative mean) and the paper's clip mean, which is the same for
# every frame because it already knows the last one.

# %%
v = x.mean(axis=(2, 3))[0]  # [T, C]
cumulative = np.cumsum(v, axis=0) / np.arange(1, T + 1)[:, None]
clip_mean = np.broadcast_to(v.mean(axis=0), v.shape)


def draw_descriptor(fig, channel):
    ax = fig.subplots()
    ax.plot(v[:, channel], marker="o", color=MODE_COLOURS["frame"], label="v_t (frame mean)")
    ax.plot(
        cumulative[:, channel],
        marker="s",
        color=MODE_COLOURS["cumulative"],
        label="g_t cumulative mean (causal)",
    )
    ax.plot(
        clip_mean[:, channel],
        ls="--",
        color=MODE_COLOURS["clip"],
        label="clip mean (paper, reads ahead)",
    )
    ax.set_xlabel("frame t")
    ax.set_xticks(range(T))
    ax.set_ylabel(f"channel {channel}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))


vizattn.widgets.interactive_figure(
    draw_descriptor,
    {"channel": ipywidgets.IntSlider(value=0, min=0, max=C - 1, description="channel")},
    height=3.0,
)

# %% [markdown]
# `check_causal` on the descriptors and on the routing functions themselves (after
# `randomize`, so that the routing really produces something):


# %%
def causal_descriptor(x):
    v = tf.reduce_mean(x, axis=[2, 3])
    steps = tf.cast(tf.range(1, tf.shape(v)[1] + 1), v.dtype)[None, :, None]
    return v + tf.cumsum(v, axis=1) / steps


def paper_descriptor(x):
    v = tf.reduce_mean(x, axis=[2, 3])
    return v + tf.reduce_mean(v, axis=1, keepdims=True)


# randomize() walks a layer's sublayers, so give it the convolution that holds the routing.
routers = {}
for version in ("v1", "v2"):
    holder = TAdaConv2D(kernel_size=3, depthwise=True, routing={"version": version, "window": 3})
    holder(x)
    randomize(holder, seed=0)
    routers[version] = holder.routing

reports = {
    "v_t + clip mean (paper)": vizattn.check_causal(paper_descriptor, x.shape),
    "v_t + cumulative mean": vizattn.check_causal(causal_descriptor, x.shape),
    "routing v1": vizattn.check_causal(routers["v1"], x.shape),
    "routing v2 (window 3)": vizattn.check_causal(routers["v2"], x.shape),
}
assert not reports["v_t + clip mean (paper)"].causal
assert all(r.causal for k, r in reports.items() if "paper" not in k)
vizattn.widgets.dependency_explorer(reports)

# %% [markdown]
# Streaming: the routing carries a running sum, a frame count, the convolution buffers and
# (v2) the last `window - 1` keys and values. Frame by frame it gives the whole-clip $\alpha$:

# %%
for version, r in routers.items():
    whole, _ = r(x)
    states, steps = {}, []
    for t in range(T):
        a, states = r(x[:, t : t + 1], states=states)
        steps.append(a.numpy())
    assert np.allclose(np.concatenate(steps, axis=1), whole.numpy(), atol=1e-5), version
    print(version, "stream == clip; states:", sorted(states))

# %% [markdown]
# ## Inside MoViNet: $\alpha_t$ and the v2 attention
#
# A MoViNet-A0 stream model with TAdaConv v2 on every block's depthwise feature convolution,
# a routing attention window of 3 frames, random weights (`randomize`). `capture` records
# `tada` ($\alpha$, `[batch, time, channels]`) and `tada_attention`
# (`[batch, heads, time, time]`). In the explorer every head is drawn on its own colour scale:
# masked cells (the future, and frames older than the window) are blank. `names="block3"`
# offers block 3's layers in its menu; as everywhere in vizattn, `names` takes a name, a list
# of names or a predicate on hook names such as `"block3_layer1/tada"` (leave it out for all).

# %%
from vizattn.testing import synthetic_clip

# At tiny sizes, tracing a MoViNet costs far more than running it: run eagerly (same numbers).
if SMALL:
    tf.config.run_functions_eagerly(True)

SIZE = 32 if SMALL else 64
FRAMES = 6 if SMALL else 16
model = vizattn.build_movinet("a0", tada="v2", tada_options={"window": 3}, num_classes=10)
randomize(model, seed=0)
clip = synthetic_clip(frames=FRAMES, size=SIZE)
cache = vizattn.capture(model, clip, kinds=["tada", "tada_attention"])
print(len(cache), "arrays; block3_layer1 attention", cache["block3_layer1/tada_attention"].shape)

# %%
att = cache["block3_layer1/tada_attention"][0]  # [heads, T, T]
t_idx = np.arange(FRAMES)
future = t_idx[None, :] > t_idx[:, None]
too_old = t_idx[None, :] <= t_idx[:, None] - 3
assert (att[:, future] == 0).all() and (att[:, too_old] == 0).all()  # banded causal mask
assert np.allclose(att.sum(-1), 1, atol=1e-5)

stream_cache = vizattn.capture(model, clip, kinds=["tada", "tada_attention"], stream=True)
for name in stream_cache:
    assert np.allclose(stream_cache[name], cache[name], atol=1e-5), name
print("attention is zero in the future and beyond the window; stream capture == clip capture")

# %%
vizattn.widgets.tada_explorer(cache, names="block3")

# %% [markdown]
# **Take-away.** With random weights the calibration is arbitrary but its *structure* is what
# the design promises: one kernel per frame that equals the efficient form, routing that never
# reads ahead, and a v2 attention that is lower-triangular and banded. Trained weights are
# needed before reading meaning into $\alpha_t$.
