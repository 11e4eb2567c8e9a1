"""Writes the notebooks of this folder (without outputs) from the cell sources below.

Edit the cells here, then run ``python notebooks/_build_notebooks.py``; the
``.ipynb`` files are regenerated next to this script. Markdown cells start with
``md:``; everything else is a code cell. ``tests/test_notebooks.py`` executes
the notebooks headless with ``VIZATTN_SMALL=1`` and checks that they are
committed without outputs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat import v4

HERE = Path(__file__).resolve().parent

SETUP = '''
%matplotlib inline
import os

# VIZATTN_SMALL=1 (the test suite) shrinks every input so the notebook runs in seconds.
SMALL = os.environ.get("VIZATTN_SMALL") == "1"

import numpy as np
import ipywidgets as widgets
from IPython.display import display
from matplotlib.figure import Figure

import vizattn
from vizattn import figures
from vizattn._tf import import_tf

tf = import_tf()
print("vizattn", vizattn.__version__, "| small inputs" if SMALL else "| full-size inputs")
'''

EAGER = '''
# At tiny sizes, tracing a MoViNet into a graph costs far more than running it,
# so the small configuration runs tf.functions eagerly (same numbers, no tracing).
if SMALL:
    tf.config.run_functions_eagerly(True)
'''

# ------------------------------------------------------------------------------------
# 01: the SimAM math
# ------------------------------------------------------------------------------------

NB01 = [
    r'''md:
# 1. SimAM, step by step

SimAM (Yang et al., ICML 2021) is attention without parameters: every neuron gets a weight
from an *energy* computed from its channel's statistics. This notebook computes the formula
by hand on a toy tensor, checks it against vizattn's `CausalSimAM(mode="frame")`, and lets
you play with $\lambda$.
''',
    SETUP,
    r'''md:
## The formula

Take one channel of one frame: neurons $x_1, \dots, x_N$ with $N = H \cdot W$. With

$$\hat\mu = \frac{1}{N}\sum_{i=1}^{N} x_i, \qquad
\hat\sigma^2 = \frac{1}{n}\sum_{i=1}^{N} (x_i - \hat\mu)^2, \qquad n = N - 1,$$

the minimal energy of neuron $t$ is

$$e_t^* = \frac{4(\hat\sigma^2 + \lambda)}{(x_t - \hat\mu)^2 + 2\hat\sigma^2 + 2\lambda}.$$

A neuron far from its channel's mean has *low* energy: it is distinctive, so it matters more.
The importance is $1/e_t^*$, squashed by a sigmoid:

$$\tilde x_t = x_t \cdot \operatorname{sigmoid}\!\left(\frac{1}{e_t^*}\right), \qquad
\frac{1}{e_t^*} = \frac{(x_t - \hat\mu)^2}{4(\hat\sigma^2 + \lambda)} + \frac{1}{2}.$$

(The mean is over all $N$ neurons and the variance divides by $n = N - 1$, as in the
official implementation.) At the mean, $e^* = 2$ and the weight is
$\operatorname{sigmoid}(1/2) \approx 0.62$, the smallest possible; weights lie in $[0.62, 1)$.
''',
    r'''
rng = np.random.default_rng(0)
T, H, W, C = 2, 4, 4, 2
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
print("e* of the distinctive neuron:", energy[1, 2].round(4), "| smallest elsewhere:",
      np.delete(energy.ravel(), 1 * W + 2).min().round(4))
print("attention range:", attention.min().round(4), "to", attention.max().round(4))
''',
    r'''md:
### The same, for every frame and channel, against vizattn

`simam_reference` is the formula in NumPy; `CausalSimAM(mode="frame")` is the layer used inside
MoViNet. With `mode="frame"` the statistics of frame $t$ come from frame $t$ only (axes
height and width).
''',
    r'''
from vizattn.layers import CausalSimAM, simam_reference

mu_all = x.mean(axis=(2, 3), keepdims=True)
var_all = ((x - mu_all) ** 2).sum(axis=(2, 3), keepdims=True) / (H * W - 1)
e_all = 4 * (var_all + lam) / ((x - mu_all) ** 2 + 2 * var_all + 2 * lam)
by_hand = x * (1 / (1 + np.exp(-1 / e_all)))

reference, e_ref = simam_reference(x, e_lambda=lam, axes=(2, 3))
layer = CausalSimAM(mode="frame", e_lambda=lam)
out, states = layer(x)

assert np.allclose(e_all, e_ref, rtol=1e-5)
assert np.allclose(by_hand, reference, rtol=1e-5, atol=1e-6)
assert np.allclose(out.numpy(), reference, rtol=1e-5, atol=1e-6)
assert np.isclose(energy, e_all[0, 0, :, :, 0]).all()
print("hand-computed SimAM == simam_reference == CausalSimAM(mode='frame'); max |diff| =",
      float(np.abs(out.numpy() - by_hand).max()), "| stream states:", states)
''',
    r'''
def show_toy(t=0, c=0):
    """Input, energy and attention of one frame and channel of the toy tensor."""
    panels = [("input $x$", x[0, t, :, :, c], "PuOr"),
              ("energy $e^*$", e_all[0, t, :, :, c], "viridis"),
              (r"attention sigmoid$(1/e^*)$", 1 / (1 + np.exp(-1 / e_all[0, t, :, :, c])), "inferno")]
    with figures.paper_style():
        fig = Figure(figsize=(figures.TWO_COLUMN, 2.1), layout="constrained")
        for ax, (title, value, cmap) in zip(fig.subplots(1, 3), panels):
            im = ax.imshow(value, cmap=cmap)
            ax.set_title(f"{title}, frame {t}, channel {c}")
            ax.set_xticks([]), ax.set_yticks([])
            fig.colorbar(im, ax=ax, shrink=0.8)
    display(fig)


show_toy(0, 0)
''',
    r'''md:
## Widget: $\lambda$ and one pixel's energy

Move one pixel's value $v$ while the others stay fixed ($\hat\mu$ and $\hat\sigma^2$ are
recomputed with $v$ in them, exactly as the layer does). The energy is a bump of height 2
at the mean; $\lambda$ sets how flat it is. A large $\lambda$ drowns $\hat\sigma^2$: every neuron
then gets $e^* \approx 2$ and the same weight, which switches attention off.
''',
    r'''
def pixel_curve(values, pixel, lam):
    """e* and attention of ``pixel`` in frame 0 / channel 0 when it takes each of ``values``."""
    flat = x[0, 0, :, :, 0].astype(np.float64).ravel()
    energies = []
    for v in values:
        f = flat.copy()
        f[pixel] = v
        m = f.mean()
        s2 = ((f - m) ** 2).sum() / (f.size - 1)
        energies.append(4 * (s2 + lam) / ((v - m) ** 2 + 2 * s2 + 2 * lam))
    energies = np.array(energies)
    return energies, 1 / (1 + np.exp(-1 / energies))


def show_energy(lam=1e-4, pixel=6):
    flat = x[0, 0, :, :, 0].ravel()
    values = np.linspace(flat.min() - 2, flat.max() + 2, 201)
    e, a = pixel_curve(values, pixel, lam)
    e_now, a_now = pixel_curve([flat[pixel]], pixel, lam)
    with figures.paper_style():
        fig = Figure(figsize=(figures.TWO_COLUMN, 2.0), layout="constrained")
        ax_e, ax_a = fig.subplots(1, 2)
        ax_e.plot(values, e)
        ax_e.plot(flat[pixel], e_now[0], "o", color="#D55E00", label="current value")
        ax_e.set_xlabel(f"value $v$ of pixel {pixel}")
        ax_e.set_ylabel("$e^*$")
        ax_e.set_ylim(0, 2.1)
        ax_e.set_title(rf"energy, $\lambda$ = {lam:.1e}")
        ax_e.legend()
        ax_a.plot(values, a, color="#009E73")
        ax_a.plot(flat[pixel], a_now[0], "o", color="#D55E00")
        ax_a.set_xlabel(f"value $v$ of pixel {pixel}")
        ax_a.set_ylabel(r"sigmoid$(1/e^*)$")
        ax_a.set_ylim(0.6, 1.0)
        ax_a.set_title("attention weight")
    display(fig)


lam_slider = widgets.FloatLogSlider(value=1e-4, base=10, min=-6, max=1, step=0.25,
                                    description="lambda")
pixel_slider = widgets.IntSlider(value=6, min=0, max=H * W - 1, description="pixel")
out = widgets.interactive_output(show_energy, {"lam": lam_slider, "pixel": pixel_slider})
display(widgets.VBox([widgets.HBox([lam_slider, pixel_slider]), out]))
''',
    r'''
# The widget does not render headless: call its callback once so the plot code always runs.
show_energy(1e-4, 6)
show_energy(1.0, 6)
e_small, _ = pixel_curve([5.0], 6, 1e-4)
e_large, _ = pixel_curve([5.0], 6, 1e4)
print(f"e* of a pixel at 5.0: {e_small[0]:.3f} (lambda 1e-4), {e_large[0]:.4f} (lambda 1e4)")
assert e_small[0] < 1 and abs(e_large[0] - 2) < 0.01  # large lambda: e* -> 2 for everyone
''',
    r'''md:
**Take-away.** SimAM's only design choice for video is *which positions* give $\hat\mu$ and
$\hat\sigma^2$. Per frame, as here, it is trivially causal. Notebook 2 shows what happens when
the statistics span time.
''',
]

# ------------------------------------------------------------------------------------
# 02: causal masking
# ------------------------------------------------------------------------------------

NB02 = [
    r'''md:
# 2. Causal masking: where SimAM's statistics come from

A streaming model must produce frame $t$ from frames $\le t$. For SimAM on video
`[batch, time, height, width, channels]` that is decided by one thing: the set $S(t)$ of
positions over which $\hat\mu_t$ and $\hat\sigma_t^2$ are taken.

| mode | $S(t)$ | causal | stream state |
|---|---|---|---|
| `frame` | $\{t\} \times \text{pixels}$ | yes | none |
| `cumulative` | $\{0, \dots, t\} \times \text{pixels}$ | yes | running count, mean, $M_2$ |
| `window` | $\{t-k+1, \dots, t\} \times \text{pixels}$ | yes | last $k-1$ frame summaries |
| `clip` | $\{0, \dots, T-1\} \times \text{pixels}$ | **no** | (reads the future) |

$$\hat\mu_t = \frac{1}{|S(t)|}\sum_{p \in S(t)} x_p, \qquad
\hat\sigma_t^2 = \frac{1}{|S(t)| - 1}\sum_{p \in S(t)} (x_p - \hat\mu_t)^2 .$$

`clip` is the naive 3D port of SimAM; it is here as the counter-example.
''',
    SETUP,
    r'''
from vizattn.layers import MODES, CausalSimAM

T = 6 if SMALL else 8
H = W = 4 if SMALL else 6
C = 3
WINDOW = 3
rng = np.random.default_rng(0)
x = rng.normal(size=(1, T, H, W, C)).astype(np.float32)
print("modes:", MODES, "| clip", x.shape)
''',
    r'''md:
## Which positions feed the statistics of frame $t$

The masks are *measured* from the layer, not drawn from the table: the gradient of output
frame $t$ with respect to every input position is non-zero exactly on $S(t)$ (the output
at a pixel depends on its own value and on $\hat\mu_t$, $\hat\sigma_t^2$). Rows are frames,
columns the $H \cdot W$ pixels of each frame; the outlined row is frame $t$.
''',
    r'''
def expected_membership(mode, t, window=WINDOW):
    """S(t) from the table above, as a boolean [T, H*W] mask."""
    rows = {"frame": [t], "cumulative": range(t + 1),
            "window": range(max(0, t - window + 1), t + 1), "clip": range(T)}[mode]
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


for mode in MODES:
    for t in range(T):
        assert (measured_membership(mode, t) == expected_membership(mode, t)).all(), (mode, t)
print("measured S(t) == the table, for every mode and every t")
''',
    r'''
from matplotlib.patches import Rectangle


def draw_membership(ax, mode, t, window):
    mask = measured_membership(mode, t, window)
    ax.imshow(mask, cmap="cividis", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.add_patch(Rectangle((-0.5, t - 0.5), H * W, 1, fill=False, edgecolor="#D55E00", lw=1.2))
    for row in range(1, T):
        ax.axhline(row - 0.5, color="white", lw=0.3)
    ax.set_title(f"{mode}: |S({t})| = {mask.sum()}")
    ax.set_xlabel("pixel (H x W)")
    ax.set_ylabel("frame")
    ax.set_xticks([])
    ax.set_yticks(range(T))


def show_membership(t=T // 2, mode="cumulative", window=WINDOW):
    """One mode in detail (left) and all four modes at the same t."""
    with figures.paper_style():
        fig = Figure(figsize=(figures.TWO_COLUMN, 1.9), layout="constrained")
        axes = fig.subplots(1, 5, width_ratios=[1.4, 1, 1, 1, 1])
        draw_membership(axes[0], mode, t, window)
        axes[0].set_title(f"{mode} (selected): |S({t})| = {measured_membership(mode, t, window).sum()}")
        for ax, m in zip(axes[1:], MODES):
            draw_membership(ax, m, t, window)
            ax.set_ylabel("")
    display(fig)


t_slider = widgets.IntSlider(value=T // 2, min=0, max=T - 1, description="frame t")
mode_menu = widgets.Dropdown(options=MODES, value="cumulative", description="mode")
window_slider = widgets.IntSlider(value=WINDOW, min=1, max=T, description="window k")
out = widgets.interactive_output(show_membership, {"t": t_slider, "mode": mode_menu,
                                                   "window": window_slider})
display(widgets.VBox([widgets.HBox([t_slider, mode_menu, window_slider]), out]))
''',
    r'''
show_membership(T // 2, "window", WINDOW)  # the widget's callback, run once headless
''',
    r'''md:
## The effect: change a future frame

Replace the last frame with new noise and compare every output frame. For a causal mode the
outputs of frames $0, \dots, T-2$ must not move *at all* (exactly zero, not just small);
`clip` moves all of them, because every frame's $\hat\mu$ and $\hat\sigma^2$ include the
last frame.
''',
    r'''
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


def show_effect(changed=T - 1, window=WINDOW):
    changes = frame_changes(changed, window)
    with figures.paper_style():
        fig = Figure(figsize=(figures.ONE_COLUMN, 2.2), layout="constrained")
        ax = fig.subplots()
        for mode, ch in changes.items():
            ax.plot(range(T), np.maximum(ch, 1e-12), marker="o", markersize=3, label=mode)
        ax.axvline(changed, color="0.6", lw=0.6, ls="--")
        ax.set_yscale("log")
        ax.set_xlabel("output frame")
        ax.set_ylabel("max |change| (0 drawn at 1e-12)")
        ax.set_title(f"input frame {changed} changed")
        ax.legend(fontsize=6)
    display(fig)
    return changes


changes = show_effect(T - 1)
for mode in ("frame", "cumulative", "window"):
    assert (changes[mode][: T - 1] == 0).all(), mode  # exactly unchanged
assert (changes["clip"][: T - 1] > 0).all()            # the leak
print({mode: np.round(ch, 4).tolist() for mode, ch in changes.items()})
''',
    r'''
changed_slider = widgets.IntSlider(value=T - 1, min=0, max=T - 1, description="changed frame")
out = widgets.interactive_output(show_effect, {"changed": changed_slider, "window": window_slider})
display(widgets.VBox([widgets.HBox([changed_slider, window_slider]), out]))
''',
    r'''md:
### Streaming gives the same numbers

The causal modes carry their statistics in stream states: feeding the clip frame by frame,
passing the returned states along, gives exactly the whole-clip output. (`clip` has no
state: frame by frame it would just be `frame` mode, a different function.)
''',
    r'''
for mode in ("frame", "cumulative", "window"):
    layer = CausalSimAM(mode=mode, window=WINDOW)
    whole, _ = layer(x)
    states, steps = {}, []
    for t in range(T):
        y, states = layer(x[:, t : t + 1], states=states)
        steps.append(y.numpy())
    assert np.allclose(np.concatenate(steps, axis=1), whole.numpy(), atol=1e-5), mode
    print(f"{mode:10s} stream == clip; states: {sorted(states)}")
''',
    r'''md:
## Dependency matrices: `check_causal`

`vizattn.check_causal` measures $D[t_\text{out}, t_\text{in}]$, how much input frame
$t_\text{in}$ moves output frame $t_\text{out}$ (noise on one frame at a time). Causal means
nothing above the diagonal: the hatched triangle must be empty. Crosses mark leaks.
''',
    r'''
reports = {mode: vizattn.check_causal(CausalSimAM(mode=mode, window=WINDOW), x.shape)
           for mode in MODES}
for mode, report in reports.items():
    assert report.causal == (mode != "clip"), mode
    print(f"{mode:10s}", report.verdict)
fig_modes = figures.compare_causality({m: r.matrix for m, r in reports.items()}, log=True)
display(fig_modes)
''',
    r'''md:
## The whole stream MoViNet passes

A MoViNet-A0 (Model Garden's stream configuration) with `cumulative` SimAM after every
block's projection. `randomize` gives the zero-initialized `rezero` scales and batch-norm
statistics random values: at initialization every residual branch is multiplied by 0 and the
check would pass whatever SimAM did. The checked output is the last block before the head
pools time away, so the matrix covers the whole network.
''',
    EAGER,
    r'''
from vizattn.capture import endpoints
from vizattn.models import VizMovinetBlock
from vizattn.testing import randomize, synthetic_clip

SIZE = 32 if SMALL else 64
model = vizattn.build_movinet("a0", simam="cumulative", num_classes=10)
randomize(model, seed=0)
model_report = vizattn.check_causal(model, (1, T, SIZE, SIZE, 3))
print(model_report)
assert model_report.causal

clip = synthetic_clip(frames=T, size=SIZE)
whole = vizattn.predict(model, clip)
stream = vizattn.predict_stream(model, clip)
assert np.allclose(whole, stream[:, -1], atol=1e-4)
print("predict (whole clip) == predict_stream after the last frame; max |diff| =",
      float(np.abs(whole - stream[:, -1]).max()))
''',
    r'''md:
### The same block with `clip` SimAM leaks

Take one real block of this model (Model Garden's `MovinetBlock` config), rebuild it with
`clip` SimAM, and check the block alone: everything above the diagonal lights up.
''',
    r'''
name = "block2_layer1"
block = endpoints(model)[name]
channels = block.input_shape[-1]
config = block.get_config()
variants = {}
for mode in ("cumulative", "clip"):
    b = VizMovinetBlock.from_config({**config, "simam": {"mode": mode}, "name": f"{name}_{mode}"})
    b(np.zeros((1, T, 4, 4, channels), np.float32))  # build
    randomize(b, seed=0)
    variants[f"{name}, {mode}"] = vizattn.check_causal(b, (1, T, 4, 4, channels))
assert variants[f"{name}, cumulative"].causal and not variants[f"{name}, clip"].causal

fig_model = figures.compare_causality(
    {"A0 stream, cumulative": model_report.matrix, **{k: r.matrix for k, r in variants.items()}},
    log=True,
)
display(fig_model)
''',
    r'''md:
**Take-away.** `frame`, `cumulative` and `window` keep every output frame independent of the
future (exactly, not approximately) and stream with small states; `clip` does not. For a
paper, `figures.compare_causality` and `figures.dependency_matrix` draw these matrices as
vector graphics (`figures.save(fig, "causality.pdf")`).
''',
]

# ------------------------------------------------------------------------------------
# 03: TAdaConv
# ------------------------------------------------------------------------------------

NB03 = [
    r'''md:
# 3. TAdaConv: a kernel per frame, calibrated causally

TAdaConv (Huang et al.) gives frame $t$ its own kernel, a calibration of a shared base
kernel $W_b$:

$$W_t = \alpha_t \odot W_b, \qquad \alpha_t = 1 + \mathcal{F}(v_t + g_t) \in \mathbb{R}^{C_\text{in}},$$

where $v_t = \operatorname{GAP}(x_t)$ is frame $t$'s spatial mean and $\mathcal{F}$ is a small
routing network over time (two temporal convolutions; v2 adds temporal self-attention). The
paper's global descriptor is the clip mean $g = \frac{1}{T}\sum_s v_s$, which reads the future;
vizattn uses the **cumulative mean** $g_t = \frac{1}{t+1}\sum_{s \le t} v_s$ and **causal**
(left-padded) temporal convolutions. The last routing layer starts at zero, so $\alpha_t = 1$
at initialization.

Because a convolution is linear in each input channel, calibrating the kernel equals
calibrating the input:

$$(\alpha_t \odot W_b) * x_t = W_b * (\alpha_t \odot x_t),$$

which is how `TAdaConv2D` computes it (one convolution for all frames).
''',
    SETUP,
    r'''
from vizattn.layers import TAdaConv2D, TAdaRouting, tada_conv_direct
from vizattn.testing import randomize

T = 6 if SMALL else 8
H = W = 6 if SMALL else 8
C = 8
rng = np.random.default_rng(0)
x = rng.normal(size=(1, T, H, W, C)).astype(np.float32)

conv = TAdaConv2D(filters=5, kernel_size=3, routing={"version": "v1"})
y0, _ = conv(x)
alpha0, _ = conv.routing(x)
assert np.abs(alpha0.numpy() - 1).max() == 0  # identity at initialization
randomize(conv, seed=0)                        # give the zero-initialized conv_b random values
alpha, _ = conv.routing(x)
print("alpha after randomize: min %.3f, max %.3f" % (alpha.numpy().min(), alpha.numpy().max()))
''',
    r'''md:
## The efficient form equals the per-frame-kernel form

`tada_conv_direct` is the literal formula: build $W_t = \alpha_t \odot W_b$ for each frame and
convolve frame $t$ with it.
''',
    r'''
y, _ = conv(x)
direct = tada_conv_direct(x, conv.kernel, alpha, conv.bias)
assert np.allclose(y.numpy(), direct.numpy(), atol=1e-5)
print("regular conv:   max |efficient - direct| =", float(np.abs(y.numpy() - direct.numpy()).max()))

dw = TAdaConv2D(kernel_size=3, depthwise=True, routing={"version": "v2", "window": 3})
dw(x)
randomize(dw, seed=1)
y_dw, _ = dw(x)
alpha_dw, _ = dw.routing(x)
direct_dw = tada_conv_direct(x, dw.kernel, alpha_dw, dw.bias, depthwise=True)
assert np.allclose(y_dw.numpy(), direct_dw.numpy(), atol=1e-5)
print("depthwise (v2): max |efficient - direct| =", float(np.abs(y_dw.numpy() - direct_dw.numpy()).max()))
''',
    r'''
def show_kernels(c_in=0, c_out=0):
    """W_t[:, :, c_in, c_out] = alpha_t[c_in] * W_b for every frame: one kernel per frame."""
    a = alpha.numpy()[0]
    kernels = [a[t, c_in] * conv.kernel.numpy()[:, :, c_in, c_out] for t in range(T)]
    lim = max(np.abs(k).max() for k in kernels)
    with figures.paper_style():
        fig = Figure(figsize=(figures.TWO_COLUMN, 1.4), layout="constrained")
        axes = fig.subplots(1, T)
        for t, (ax, k) in enumerate(zip(axes, kernels)):
            im = ax.imshow(k, cmap="PuOr", vmin=-lim, vmax=lim)
            ax.set_title(rf"$W_{t}$, $\alpha$={a[t, c_in]:.2f}")
            ax.set_xticks([]), ax.set_yticks([])
        fig.colorbar(im, ax=list(axes), shrink=0.8)
    display(fig)


show_kernels(0, 0)
''',
    r'''md:
## Causal routing

The descriptor that enters the routing network, for one channel: the frame mean $v_t$, the
causal global descriptor (cumulative mean) and the paper's clip mean, which is the same for
every frame because it already knows the last one.
''',
    r'''
v = x.mean(axis=(2, 3))[0]                                  # [T, C]
cumulative = np.cumsum(v, axis=0) / np.arange(1, T + 1)[:, None]
clip_mean = np.broadcast_to(v.mean(axis=0), v.shape)

with figures.paper_style():
    fig = Figure(figsize=(figures.ONE_COLUMN, 2.0), layout="constrained")
    ax = fig.subplots()
    ax.plot(v[:, 0], marker="o", markersize=3, label="$v_t$ (frame mean)")
    ax.plot(cumulative[:, 0], marker="o", markersize=3, label="$g_t$ cumulative (causal)")
    ax.plot(clip_mean[:, 0], ls="--", label="clip mean (paper, reads ahead)")
    ax.set_xlabel("frame $t$")
    ax.set_ylabel("channel 0")
    ax.legend(fontsize=6)
display(fig)
''',
    r'''md:
`check_causal` on the descriptors and on the routing functions themselves (after
`randomize`, so that the routing really produces something):
''',
    r'''
def causal_descriptor(x):
    v = tf.reduce_mean(x, axis=[2, 3])
    return v + tf.cumsum(v, axis=1) / tf.cast(tf.range(1, tf.shape(v)[1] + 1), v.dtype)[None, :, None]


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
for label, report in reports.items():
    print(f"{label:26s}", report.verdict)
assert not reports["v_t + clip mean (paper)"].causal
assert all(r.causal for k, r in reports.items() if "paper" not in k)
display(figures.compare_causality({k: r.matrix for k, r in reports.items()}, log=True))
''',
    r'''md:
Streaming: the routing carries a running sum, a frame count, the convolution buffers and
(v2) the last `window - 1` keys and values. Frame by frame it gives the whole-clip $\alpha$:
''',
    r'''
for version, r in routers.items():
    whole, _ = r(x)
    states, steps = {}, []
    for t in range(T):
        a, states = r(x[:, t : t + 1], states=states)
        steps.append(a.numpy())
    assert np.allclose(np.concatenate(steps, axis=1), whole.numpy(), atol=1e-5), version
    print(version, "stream == clip; states:", sorted(states))
''',
    r'''md:
## Inside MoViNet: $\alpha_t$ and the v2 attention

A MoViNet-A0 stream model with TAdaConv v2 on every block's depthwise feature convolution,
a routing attention window of 3 frames, random weights (`randomize`). `capture` records
`tada` ($\alpha$, `[batch, time, channels]`), `tada_attention` (`[batch, heads, time, time]`)
and Model Garden's squeeze-excitation gates `se`.
''',
    EAGER,
    r'''
from vizattn.testing import synthetic_clip

SIZE = 32 if SMALL else 64
FRAMES = 6 if SMALL else 16
model = vizattn.build_movinet("a0", tada="v2", tada_options={"window": 3}, num_classes=10)
randomize(model, seed=0)
clip = synthetic_clip(frames=FRAMES, size=SIZE)
cache = vizattn.capture(model, clip, kinds=["tada", "tada_attention", "se"])
layers = sorted({n.split("/")[0] for n in cache.names("tada")})
print(len(cache), "arrays;", cache["block3_layer1/tada_attention"].shape, "attention of block3_layer1")
''',
    r'''
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
''',
    r'''
def show_attention(ax, layer, head):
    a = cache[f"{layer}/tada_attention"][0, head]
    im = ax.imshow(a, cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"{layer}, head {head}")
    ax.set_xlabel("key frame $s$")
    ax.set_ylabel("query frame $t$")
    return im


def show_tada(layer="block3_layer1", head=0, channels=6):
    display(figures.tada_alpha(cache, layer, channels=channels))
    with figures.paper_style():
        fig = Figure(figsize=(figures.ONE_COLUMN, 2.4), layout="constrained")
        ax = fig.subplots()
        fig.colorbar(show_attention(ax, layer, head), ax=ax, shrink=0.8, label="attention")
    display(fig)
    display(figures.se_gates(cache, layer))


layer_menu = widgets.Dropdown(options=layers, value="block3_layer1", description="layer")
head_slider = widgets.IntSlider(value=0, min=0, max=cache["block3_layer1/tada_attention"].shape[1] - 1,
                                description="head")
channel_slider = widgets.IntSlider(value=6, min=1, max=12, description="channels")
out = widgets.interactive_output(show_tada, {"layer": layer_menu, "head": head_slider,
                                             "channels": channel_slider})
display(widgets.VBox([widgets.HBox([layer_menu, head_slider, channel_slider]), out]))
''',
    r'''
show_tada("block3_layer1", 0, 6)  # the widget's callback, run once headless
''',
    r'''md:
**Take-away.** With random weights the calibration is arbitrary but its *structure* is what
the design promises: one kernel per frame that equals the efficient form, routing that never
reads ahead, and a v2 attention that is lower-triangular and banded. Trained weights
(`build_movinet(..., checkpoint=...)`) are needed before reading meaning into $\alpha_t$.
''',
]

# ------------------------------------------------------------------------------------
# 04: overlays on video
# ------------------------------------------------------------------------------------

NB04 = [
    r'''md:
# 4. SimAM maps on video

The demo clip (`assets/demo.mp4`) has known answers: three flat shapes move over a static
textured background, and `assets/demo_masks.npz` holds the exact object masks. This notebook
captures SimAM maps from a stream MoViNet-A0, overlays them on the frames, compares them with
the masks, checks that streaming gives the same maps, and makes a paper figure.

**Random weights.** Without a checkpoint the network is random, so the maps show what a random
network with SimAM does, not what a trained one attends to. Pass
`build_movinet(..., checkpoint="official")` (or a local copy) for meaningful maps.
''',
    SETUP,
    EAGER,
    r'''
import tempfile
from pathlib import Path

from PIL import Image

from vizattn.overlay import overlay, resize_map
from vizattn.testing import randomize, synthetic_clip

ROOT = next((p for p in (Path.cwd(), *Path.cwd().parents) if (p / "assets").is_dir()), Path.cwd())
VIDEO, MASKS = ROOT / "assets" / "demo.mp4", ROOT / "assets" / "demo_masks.npz"
FRAMES = 8 if SMALL else 32
MODEL_SIZE = (40, 64) if SMALL else None  # (height, width) fed to the model; None: native

try:
    from vizattn.video import read_all

    video, info = read_all(VIDEO)
    fps = float(info.fps)
    masks = np.load(MASKS)["masks"] if MASKS.exists() else None
    source = f"{VIDEO.name}: {video.shape[0]} frames of {video.shape[2]}x{video.shape[1]} at {fps:g} fps"
except Exception as error:  # no demo clip or no video decoder: fall back to a synthetic clip
    video, fps, masks = synthetic_clip(frames=FRAMES, size=(64, 96))[0], 10.0, None
    source = f"synthetic clip ({type(error).__name__}: {error})"
print(source)

index = np.linspace(0, len(video) - 1, FRAMES).round().astype(int)  # spread over the whole clip
frames = video[index]
times = index / fps
if masks is not None:
    masks = masks[index]


def resize_frames(frames, size):
    if size is None:
        return frames
    return np.stack([np.asarray(Image.fromarray(f).resize(size[::-1], Image.BILINEAR)) for f in frames])


clip = resize_frames(frames, MODEL_SIZE)
print("frames", frames.shape, "-> model input", clip.shape, "at times", np.round(times, 2))
''',
    r'''md:
## Capture SimAM from a stream MoViNet

`cumulative` SimAM after every block's projection; `randomize` makes the residual branches
(and so SimAM) matter. `capture` returns every block's `simam` (attention $\operatorname{sigmoid}(1/e^*)$)
and `simam_energy` ($e^*$); `frame_maps` reduces channels and normalizes over the clip.
''',
    r'''
model = vizattn.build_movinet("a0", simam="cumulative", num_classes=10)
randomize(model, seed=0)
cache = vizattn.capture(model, clip, kinds=["simam", "simam_energy", "logits"])
blocks = sorted({n.split("_")[0] for n in cache.names("simam")})
print(blocks)
print({b: cache.frame_maps(b).shape for b in blocks})
''',
    r'''md:
## Overlay, frame by frame
''',
    r'''
def show_overlay(t=0, layer="block1", kind="simam", alpha=0.5):
    maps = cache.frame_maps(layer, kind)[0]  # [T, h, w] in [0, 1]
    panels = [("frame", frames[t]), (f"{layer} {kind} ({maps.shape[1]}x{maps.shape[2]})", None),
              ("overlay", overlay(frames[t], maps[t], alpha=alpha))]
    if masks is not None:
        panels.append(("ground-truth objects", None))
    with figures.paper_style():
        fig = Figure(figsize=(figures.TWO_COLUMN, 1.6), layout="constrained")
        axes = fig.subplots(1, len(panels))
        for ax, (title, image) in zip(axes, panels):
            if title.startswith(layer):
                ax.imshow(maps[t], cmap="inferno", vmin=0, vmax=1)
            elif image is None:
                ax.imshow(masks[t], cmap="cividis", interpolation="nearest")
            else:
                ax.imshow(image)
            ax.set_title(title)
            ax.set_xticks([]), ax.set_yticks([])
        fig.suptitle(f"t = {t} ({times[t]:.2f} s)")
    display(fig)


t_slider = widgets.IntSlider(value=0, min=0, max=FRAMES - 1, description="frame t")
layer_menu = widgets.Dropdown(options=blocks, value="block1", description="layer")
kind_menu = widgets.Dropdown(options=["simam", "simam_energy"], value="simam", description="kind")
alpha_slider = widgets.FloatSlider(value=0.5, min=0, max=1, step=0.05, description="alpha")
out = widgets.interactive_output(show_overlay, {"t": t_slider, "layer": layer_menu,
                                                "kind": kind_menu, "alpha": alpha_slider})
display(widgets.VBox([widgets.HBox([t_slider, layer_menu]), widgets.HBox([kind_menu, alpha_slider]), out]))
''',
    r'''
show_overlay(FRAMES - 1, "block1", "simam")  # the widget's callbacks, run once headless
show_overlay(0, blocks[-1], "simam_energy")
''',
    r'''md:
## Against the ground truth

For every frame: the mean map value inside the objects and outside them (maps upsampled to the
frame). A map that "finds" the moving objects has inside > outside. With random weights a gap
in the early blocks only reflects low-level contrast (flat coloured shapes on a textured
background), not recognition; the numbers check the pipeline, and trained weights are needed
before reading them as what the model attends to.
''',
    r'''
def inside_outside(layer, kind="simam"):
    maps = resize_map(cache.frame_maps(layer, kind)[0], frames.shape[1:3])
    inside = np.array([m[k > 0].mean() if (k > 0).any() else np.nan for m, k in zip(maps, masks)])
    outside = np.array([m[k == 0].mean() for m, k in zip(maps, masks)])
    return inside, outside


def show_ground_truth(layer="block1", kind="simam"):
    if masks is None:
        print("no masks for this clip")
        return None
    inside, outside = inside_outside(layer, kind)
    with figures.paper_style():
        fig = Figure(figsize=(figures.ONE_COLUMN, 2.0), layout="constrained")
        ax = fig.subplots()
        ax.plot(times, inside, marker="o", markersize=3, label="inside objects")
        ax.plot(times, outside, marker="o", markersize=3, label="background")
        ax.set_xlabel("time (s)")
        ax.set_ylabel(f"mean {kind} map")
        ax.set_title(f"{layer} (random weights)")
        ax.legend(fontsize=6)
    display(fig)
    return inside, outside


result = show_ground_truth("block1")
if result is not None:
    for b in blocks:
        inside, outside = inside_outside(b)
        print(f"{b}: inside {np.nanmean(inside):.3f}  background {outside.mean():.3f}  "
              f"ratio {np.nanmean(inside) / outside.mean():.2f}")
''',
    r'''
out = widgets.interactive_output(show_ground_truth, {"layer": layer_menu, "kind": kind_menu})
display(widgets.VBox([widgets.HBox([layer_menu, kind_menu]), out]))
''',
    r'''md:
## Stream vs. clip capture

`capture(..., stream=True)` feeds one frame at a time and carries the states. Causal SimAM
must give the same maps as the whole clip at once:
''',
    r'''
stream_cache = vizattn.capture(model, clip, kinds=["simam", "logits"], stream=True)
worst = max(float(np.abs(stream_cache[n] - cache[n]).max()) for n in stream_cache.names("simam"))
assert worst < 1e-4, worst
assert np.allclose(stream_cache["classifier_head/logits"][:, -1], cache["classifier_head/logits"], atol=1e-4)
print(f"{len(stream_cache.names('simam'))} SimAM arrays, stream == clip (max |diff| = {worst:.2e})")
display(figures.prediction_timeline(stream_cache["classifier_head/logits"][0], top_k=3, fps=fps / np.diff(index).mean(),
                                    title="stream predictions (random weights: no meaning)"))
''',
    r'''md:
## Figures for the paper

`figures.frame_strip` overlays one layer's maps on a row of frames; `figures.layer_grid` shows
several layers; `figures.energy_histogram` the energy distributions. `figures.save` writes
PDF/SVG/PNG atomically and reproducibly (here to a temporary folder).
''',
    r'''
strip = figures.frame_strip(frames, cache.frame_maps("block1")[0], times=times,
                            every=max(1, FRAMES // 8), title="block1 SimAM (random weights)")
grid = figures.layer_grid(cache, blocks[:3], frames=list(range(0, FRAMES, max(1, FRAMES // 4))),
                          video=frames)
energy = figures.energy_histogram(cache, blocks)
display(strip, grid, energy)

with tempfile.TemporaryDirectory() as folder:
    path = figures.save(strip, Path(folder) / "simam_strip.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and figures.save(strip, path).read_bytes() == data
    print(f"wrote {path.name}: {len(data) / 1024:.0f} KiB, byte-identical when saved again")
''',
]

NOTEBOOKS = {
    "01_simam_math.ipynb": NB01,
    "02_causal_masking.ipynb": NB02,
    "03_tadaconv.ipynb": NB03,
    "04_overlay_video.ipynb": NB04,
}


def build(cells: list[str]) -> nbformat.NotebookNode:
    nb = v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, source in enumerate(cells):
        if source.startswith("md:"):
            cell = v4.new_markdown_cell(textwrap.dedent(source[3:]).strip())
        else:
            cell = v4.new_code_cell(textwrap.dedent(source).strip())
        cell["id"] = f"cell-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
