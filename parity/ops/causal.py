"""Causal 1-D convolution: conv1d_causal.

Keras ``Conv1D(padding="causal")`` pads ``d*(k-1)`` zeros at the start of the sequence and
none at the end, then convolves VALID: output ``t`` sees inputs ``<= t*s`` only and the length
is ``ceil(n/s)``. PyTorch has no causal padding. The usual recipe pads ``d*(k-1)`` on both
sides and crops as many outputs from the end, which is right at stride 1 and wrong at any
stride > 1 (the crop is counted in outputs, the padding in inputs).

Config -> strategy -> TF sides -> torch sides; the reference and its bound are the SAME
convolution's (``parity.ops.conv``) with the causal padding ``(d*(k-1), 0)``.
"""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from parity.core import layout
from parity.core.config import require
from parity.core.numerics import DTYPES
from parity.ops import conv
from parity.ops.conv import ConvConfig
from parity.ops.sides import tf_conv_run
from parity.spec.realistic import shaped_like
from parity.spec.registry import OpPair, Variant, register
from parity.spec.strategies import ordered_dtypes, size_for_stride


@dataclass(frozen=True)
class CausalConfig(ConvConfig):
    def validate(self) -> None:
        super().validate()
        require(self.rank == 1, f"conv1d_causal is 1-D: rank must be 1, got {self.rank}")

    @property
    def pads(self) -> list[tuple[int, int]]:
        """Causal: ``d*(k-1)`` before, nothing after."""
        return [((self.kernel[0] - 1) * self.dilation[0], 0)]


@st.composite
def _configs(draw, dtypes):
    stride = draw(st.integers(1, 4))
    # Keras refuses strides > 1 together with dilation > 1: drawn rarely, to keep measuring it
    dilated = draw(st.sampled_from((False, False, True)))
    both = stride > 1 and dilated and draw(st.sampled_from((False, False, False, True)))
    dilation = draw(st.integers(2, 4)) if dilated and (stride == 1 or both) else 1
    groups = draw(st.sampled_from((1, 1, 1, 2)))
    return CausalConfig(rank=1, batch=draw(st.integers(1, 3)),
                        in_channels=groups * draw(st.integers(1, 3)),
                        out_channels=groups * draw(st.integers(1, 3)),
                        spatial=(size_for_stride(draw, stride, 12),),
                        kernel=(draw(st.integers(1, 6)),), stride=(stride,),
                        dilation=(dilation,), groups=groups, bias=draw(st.booleans()),
                        dtype=draw(st.sampled_from(ordered_dtypes(dtypes))))


def strategy(dtypes=DTYPES):
    return _configs(tuple(dtypes))


# ---------------------------------------------------------------- TF sides
def tf_keras(c: CausalConfig, inp: dict) -> dict:
    """keras.layers.Conv1D(padding="causal") with the case's weights."""
    return conv.tf_keras(c, inp, padding="causal")


def tf_pad_valid(c: CausalConfig, inp: dict) -> dict:
    """tf.pad by ``d*(k-1)`` at the start, then ``keras.ops.conv(padding="valid")``: the
    layer's convolution without its causal padding (NWC)."""
    from parity.backends import tf as B

    def convolve(tf, x, w):
        return B.keras().ops.conv(tf.pad(x, [(0, 0), c.pads[0], (0, 0)]), w, strides=c.stride,
                                  padding="valid", dilation_rate=c.dilation)
    return tf_conv_run(c.dtype, inp, convolve, layout.kernel_torch_to_tf,
                       layout.kernel_tf_to_torch)


# ---------------------------------------------------------------- torch sides
def crop_recipe(x, w, b, stride, dilation, groups):
    """The usual torch CausalConv1d: ``Conv1d(padding=d*(k-1))`` then drop that many outputs
    from the end (when there is padding at all)."""
    from parity.backends import torch as B

    pad = (w.shape[-1] - 1) * dilation[0]
    y = B.torch().nn.functional.conv1d(x, w, b, stride, pad, dilation, groups)
    return y[..., :-pad] if pad else y


def _port(x, w, b, stride, dilation, groups):
    from parity.ports.conv import conv1d_causal

    return conv1d_causal(x, w, b, stride=stride, dilation=dilation, groups=groups)


register(OpPair(
    name="conv1d_causal", family="conv",
    description='causal 1-D convolution (Keras Conv1D padding="causal"), stride, dilation, '
                "groups",
    config_type=CausalConfig, strategy=strategy, realistic=shaped_like("causal", strategy),
    make_inputs=conv.make_inputs,
    reference=conv.reference_and_bounds,
    tf_sides={"keras": tf_keras, "pad_valid": tf_pad_valid}, audit_tf="keras",
    torch_sides={"port": conv.candidate_side(_port), "recipe": conv.candidate_side(crop_recipe)},
    variants={
        "port": Variant("port", "keras", "port",
                        "Keras Conv1D causal vs parity.ports.conv1d_causal"),
        "pad_valid": Variant("pad_valid", "pad_valid", "port",
                             "tf.pad at the start + keras.ops.conv VALID vs parity.ports"),
        "recipe": Variant("recipe", "keras", "recipe",
                          "Keras Conv1D causal vs torch Conv1d(padding=d*(k-1)) cropped at the "
                          "end"),
    },
    candidate_side=conv.candidate_side,
    candidate_doc=conv.CANDIDATE_DOC.replace("{r}", "1").replace(
        "without padding", "without padding (it pads causally itself)"),
    tf32_outputs=("y", "dx", "dw")))
