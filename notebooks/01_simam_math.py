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
# # 1. SimAM, step by step
#
# SimAM (Yang et al., ICML 2021) is attention without parameters: every neuron gets a weight
# from an *energy* computed from its channel's statistics. This notebook computes the formula
# by hand on a toy tensor, checks it against vizattn's `CausalSimAM(mode="frame")`, and lets
# you play with $\lambda$ in `vizattn.widgets.energy_explorer`, which works on any SimAM input
# (also on a real model's, see notebook 4).

# %%
import os

import numpy as np

import vizattn
import vizattn.widgets

# VIZATTN_SMALL=1 (the test suite) shrinks every input so the notebook runs in seconds.
SMALL = os.environ.get("VIZATTN_SMALL") == "1"
print("vizattn", vizattn.__version__, "| small inputs" if SMALL else "| full-size inputs")

# %% [markdown]
# ## The formula
#
# Take one channel of one frame: neurons $x_1, \dots, x_N$ with $N = H \cdot W$. With
#
# $$\hat\mu = \frac{1}{N}\sum_{i=1}^{N} x_i, \qquad
# \hat\sigma^2 = \frac{1}{n}\sum_{i=1}^{N} (x_i - \hat\mu)^2, \qquad n = N - 1,$$
#
# the minimal energy of neuron $t$ is
#
# $$e_t^* = \frac{4(\hat\sigma^2 + \lambda)}{(x_t - \hat\mu)^2 + 2\hat\sigma^2 + 2\lambda}.$$
#
# A neuron far from its channel's mean has *low* energy: it is distinctive, so it matters more.
# The importance is $1/e_t^*$, squashed by a sigmoid:
#
# $$\tilde x_t = x_t \cdot \operatorname{sigmoid}\!\left(\frac{1}{e_t^*}\right), \qquad
# \frac{1}{e_t^*} = \frac{(x_t - \hat\mu)^2}{4(\hat\sigma^2 + \lambda)} + \frac{1}{2}.$$
#
# (The mean is over all $N$ neurons and the variance divides by $n = N - 1$, as in the
# official implementation.) At the mean, $e^* = 2$ and the weight is
# $\operatorname{sigmoid}(1/2) \approx 0.62$, the smallest possible; weights lie in $[0.62, 1)$.

# %%
rng = np.random.default_rng(0)
T, H, W, C = (2, 6, 6, 2) if SMALL else (4, 8, 8, 3)
x = rng.normal(size=(1, T, H, W, C)).astype(np.float32)  # [batch, time, height, width, channels]
x[0, 0, 1, 2, 0] = 3.0  # one distinctive neuron in frame 0, channel 0
lam = 1e-4

# Step by step for frame 0, channel 0.
frame = x[0, 0, :, :, 0].astype(np.float64)
N = frame.size
n = N - 1
mu = frame.mean()
var = ((frame - mu) ** 2).sum() / n
energy = 4 * (var + lam) / ((frame - mu) ** 2 + 2 * var + 2 * lam)
inverse = (frame - mu) ** 2 / (4 * (var + lam)) + 0.5
attention = 1 / (1 + np.exp(-inverse))
print(f"N = {N}, n = N - 1 = {n}, mu = {mu:.4f}, sigma^2 = {var:.4f}")
print("1/e* from the simplified form equals 1/e*:", np.allclose(inverse, 1 / energy))
others = np.delete(energy.ravel(), 1 * W + 2)
print(f"e* of the distinctive neuron: {energy[1, 2]:.4f} | smallest elsewhere: {others.min():.4f}")
print(f"attention range: {attention.min():.4f} to {attention.max():.4f}")

# %% [markdown]
# ### The same, for every frame and channel, against vizattn
#
# `simam_reference` is the formula in NumPy; `CausalSimAM(mode="frame")` is the layer used
# inside MoViNet. With `mode="frame"` the statistics of frame $t$ come from frame $t$ only
# (axes height and width).

# %%
from vizattn.layers import CausalSimAM, simam_reference

mu_all = x.mean(axis=(2, 3), keepdims=True)
var_all = ((x - mu_all) ** 2).sum(axis=(2, 3), keepdims=True) / (H * W - 1)
e_all = 4 * (var_all + lam) / ((x - mu_all) ** 2 + 2 * var_all + 2 * lam)
by_hand = x * (1 / (1 + np.exp(-1 / e_all)))

reference, e_ref = simam_reference(x, e_lambda=lam, axes=(2, 3))
out, states = CausalSimAM(mode="frame", e_lambda=lam)(x)

assert np.allclose(e_all, e_ref, rtol=1e-5)
assert np.allclose(by_hand, reference, rtol=1e-5, atol=1e-6)
assert np.allclose(out.numpy(), reference, rtol=1e-5, atol=1e-6)
assert np.isclose(energy, e_all[0, 0, :, :, 0]).all()
diff = float(np.abs(out.numpy() - by_hand).max())
print(f"by hand == simam_reference == CausalSimAM(mode='frame'); max |diff| = {diff:.1e}")
print("stream states of frame SimAM:", states)

# %% [markdown]
# ## Explore: $\lambda$, one pixel's energy, and all neurons
#
# Pick a frame, a channel and a pixel. Top: the input, $e^*$ and the attention of that frame and
# channel. Bottom left: the pixel's $e^*$ as its value sweeps while the others stay fixed
# ($\hat\mu$ and $\hat\sigma^2$ are recomputed with it, as the layer does): a bump of height 2
# at the mean. Bottom right: how distinctive every neuron is, $1/e^* - 1/2$, on a log axis
# (a histogram of $e^*$ itself is one spike near 2).
#
# The $\lambda$ slider spans $0.01\,\hat\sigma^2$ to $100\,\hat\sigma^2$ of the data, where it
# matters: SimAM's default $\lambda = 10^{-4}$ is far below the variance of typical
# activations, so it only guards against division by zero. A $\lambda$ much larger than
# $\hat\sigma^2$ flattens the bump: every neuron gets $e^* \approx 2$, the same weight, and
# attention switches off.

# %%
vizattn.widgets.energy_explorer(x, e_lambda=lam)

# %%
# The limit the slider shows, as numbers: a huge lambda gives every neuron e* -> 2.
_, e_small = simam_reference(x, e_lambda=1e-4)
_, e_large = simam_reference(x, e_lambda=1e4)
print(f"e* ranges over [{e_small.min():.3f}, {e_small.max():.3f}] with lambda = 1e-4")
print(f"e* ranges over [{e_large.min():.4f}, {e_large.max():.4f}] with lambda = 1e4")
assert e_small.min() < 1 and np.allclose(e_large, 2, atol=1e-2)

# %% [markdown]
# **Take-away.** SimAM's only design choice for video is *which positions* give $\hat\mu$ and
# $\hat\sigma^2$. Per frame, as here, it is trivially causal. Notebook 2 shows what happens when
# the statistics span time.
