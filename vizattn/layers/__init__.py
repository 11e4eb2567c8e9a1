"""tf-keras layers: causal SimAM and TAdaConv, streaming like Model Garden's MoViNet layers.

Every layer takes ``[batch, time, height, width, channels]`` and, where it
carries state, follows Model Garden's streaming contract
``call(inputs, states=None) -> (outputs, states)`` with ``state_``-prefixed
names. All are registered serializable under the package ``vizattn``.
"""

from vizattn.layers.simam import MODES, CausalSimAM, simam_reference
from vizattn.layers.tada import TAdaConv2D, TAdaRouting, tada_conv_direct

__all__ = [
    "MODES",
    "CausalSimAM",
    "TAdaConv2D",
    "TAdaRouting",
    "simam_reference",
    "tada_conv_direct",
]
