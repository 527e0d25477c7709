"""The DDColor network (Kang et al., "DDColor: Towards Photo-Realistic Image Colorization via Dual Decoders",
ICCV 2023; reference code piddnad/DDColor, ``basicsr/archs/ddcolor_arch.py``), and the key mapping of its state dicts.

``[B,3,H,W]`` grey sRGB in [0,1] (H, W multiples of 32) -> ``[B,2,H,W]`` ab in Lab units:

* **encoder** :class:`colorbench.nets.convnext_stages.ConvNeXtStages`: four features at 1/4 .. 1/32 of the
  input, each after its stage's LayerNorm (``norm0``-``norm3``), from the ImageNet-normalised image;
* **pixel decoder** (:mod:`colorbench.nets.pixel_decoder`): three :class:`UpBlock` steps from the 1/32 feature
  with the 1/16, 1/8, 1/4 features as skips (``nf``, ``nf``, ``nf/2`` maps), then a ×4 :class:`ShuffleUp` to
  ``[B,nf/2,H,W]`` (the image features);
* **colour decoder** :class:`colorbench.nets.color_decoder.MultiScaleColorDecoder` on the three pixel-decoder
  outputs (1/16, 1/8, 1/4): ``[B,num_queries,H,W]``;
* **refinement**: a spectral-norm conv1×1 (with bias) over ``cat(query maps, normalised input)`` to 2 maps.

Released models (``ddcolor/pipeline.py``): ConvNeXt-L or ConvNeXt-T encoder, ``nf=512``, 100 queries, 9 decoder
layers, 3 scales, hidden width 256, 8 heads, FFN 2048.

**Key mapping** (:func:`reference_key`): our modules carry the reference's names except the encoder (timm's
ConvNeXt names: ``downsample_layers.0`` -> ``stem``, ``downsample_layers.i`` -> ``stages.i.downsample``,
``stages.i.j.dwconv``/``pwconv1``/``pwconv2`` -> ``stages.i.blocks.j.conv_dw``/``mlp.fc1``/``mlp.fc2``;
``norm{i}`` -> ``norms.i``), the refinement conv (``refine_net.0.0``, a conv in two nested ``Sequential``s there,
-> ``refine_net``) and the spectral norms (``weight_orig``/``weight_u``/``weight_v`` of the old
``torch.nn.utils.spectral_norm`` -> ``parametrizations.weight.original``/``.0._u``/``.0._v``). Three kinds of
reference tensors have no counterpart and are dropped: the ImageNet ``mean``/``std`` constants (buffers here, not
saved) and the ConvNeXt's final LayerNorm ``encoder.arch.norm`` (never used by DDColor's forward).
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import torch
from torch import nn

from colorbench.errors import UserError
from colorbench.nets.color_decoder import MultiScaleColorDecoder
from colorbench.nets.convnext_stages import ConvNeXtStages
from colorbench.nets.frozen import IMAGENET_MEAN, IMAGENET_STD
from colorbench.nets.pixel_decoder import ShuffleUp, UpBlock, sn_conv

MULTIPLE = 32
"""H and W must be multiples of this (the ConvNeXt's total stride)."""


class DualDecoder(nn.Module):
    """(four encoder features) -> ``[B,num_queries,H,W]``: the pixel decoder feeding the colour decoder."""

    def __init__(self, enc_dims: Sequence[int], nf: int, *, hidden_dim: int, num_queries: int, nheads: int,
                 dim_feedforward: int, dec_layers: int, blur: bool = True) -> None:
        super().__init__()
        d = list(enc_dims)
        self.layers = nn.Sequential(UpBlock(d[3], d[2], nf, blur=blur), UpBlock(nf, d[1], nf, blur=blur),
                                    UpBlock(nf, d[0], nf // 2, blur=blur))
        self.last_shuf = ShuffleUp(nf // 2, nf // 2, scale=4, blur=blur)
        self.color_decoder = MultiScaleColorDecoder([nf, nf, nf // 2], hidden_dim=hidden_dim, num_queries=num_queries,
                                                    nheads=nheads, dim_feedforward=dim_feedforward,
                                                    dec_layers=dec_layers, color_embed_dim=nf // 2, num_scales=3)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        out0 = self.layers[0](features[3], features[2])
        out1 = self.layers[1](out0, features[1])
        out2 = self.layers[2](out1, features[0])
        return self.color_decoder([out0, out1, out2], self.last_shuf(out2))


class DDColorNet(nn.Module):
    """``[B,3,H,W]`` grey sRGB in [0,1], H and W multiples of 32 -> ``[B,out_channels,H,W]`` ab in Lab units."""

    def __init__(self, depths: Sequence[int] = (3, 3, 27, 3), dims: Sequence[int] = (192, 384, 768, 1536), *,
                 nf: int = 512, hidden_dim: int = 256, num_queries: int = 100, nheads: int = 8,
                 dim_feedforward: int = 2048, dec_layers: int = 9, out_channels: int = 2) -> None:
        super().__init__()
        self.encoder = ConvNeXtStages(depths, dims)
        self.decoder = DualDecoder(dims, nf, hidden_dim=hidden_dim, num_queries=num_queries, nheads=nheads,
                                   dim_feedforward=dim_feedforward, dec_layers=dec_layers)
        self.refine_net = sn_conv(num_queries + 3, out_channels, 1, bias=True)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = (rgb - self.mean.to(rgb.dtype)) / self.std.to(rgb.dtype)
        queries = self.decoder(self.encoder(x))
        return self.refine_net(torch.cat([queries, x], dim=1))


# ------------------------------------------------------------------------------------------- key mapping
DROPPED = re.compile(r"^(mean|std|encoder\.arch\.norm\.(weight|bias))$")
_ENCODER = [
    (re.compile(r"^encoder\.arch\.downsample_layers\.0\."), "encoder.body.stem."),
    (re.compile(r"^encoder\.arch\.downsample_layers\.(\d)\."), r"encoder.body.stages.\1.downsample."),
    (re.compile(r"^encoder\.arch\.stages\.(\d+)\.(\d+)\.dwconv\."), r"encoder.body.stages.\1.blocks.\2.conv_dw."),
    (re.compile(r"^encoder\.arch\.stages\.(\d+)\.(\d+)\.pwconv(\d)\."), r"encoder.body.stages.\1.blocks.\2.mlp.fc\3."),
    (re.compile(r"^encoder\.arch\.stages\.(\d+)\.(\d+)\.(norm\.|gamma$)"), r"encoder.body.stages.\1.blocks.\2.\3"),
    (re.compile(r"^encoder\.arch\.norm(\d)\."), r"encoder.norms.\1."),
]
_SPECTRAL = [(re.compile(r"\.weight_orig$"), ".parametrizations.weight.original"),
             (re.compile(r"\.weight_u$"), ".parametrizations.weight.0._u"),
             (re.compile(r"\.weight_v$"), ".parametrizations.weight.0._v")]


def reference_key(key: str) -> str | None:
    """The name in :class:`DDColorNet` of the reference's (piddnad/DDColor) state-dict key ``key``; ``None`` for
    the tensors we drop (``mean``, ``std``, ``encoder.arch.norm.*``). Unknown encoder keys raise ``KeyError``."""
    if DROPPED.match(key):
        return None
    if key.startswith("encoder."):
        for pattern, repl in _ENCODER:
            if pattern.search(key):
                return pattern.sub(repl, key)
        raise KeyError(f"not a DDColor encoder key: {key!r}")
    key = key.replace("refine_net.0.0.", "refine_net.", 1)
    for pattern, repl in _SPECTRAL:
        if pattern.search(key):
            return pattern.sub(repl, key)
    return key


def map_reference_state_dict(net: nn.Module, sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A reference (piddnad/DDColor) state dict, e.g. a released checkpoint's ``params``, renamed for ``net``.

    Raises :class:`UserError` if a tensor has no place in ``net``, a shape differs, or ``net`` has a tensor the file
    lacks (batch norms' ``num_batches_tracked`` excepted)."""
    own = net.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        try:
            name = reference_key(key)
        except KeyError as exc:
            raise UserError(f"DDColor weights: {exc}") from None
        if name is None:
            continue
        if name not in own:
            raise UserError(f"DDColor weights: {key!r} (-> {name!r}) has no place in this network; "
                            "build it with the checkpoint's configuration (encoder size, queries, layers)")
        if tuple(value.shape) != tuple(own[name].shape):
            raise UserError(f"DDColor weights: {key!r} has shape {tuple(value.shape)}, the network expects "
                            f"{tuple(own[name].shape)} at {name!r}; build it with the checkpoint's configuration")
        out[name] = value.to(own[name].dtype)
    missing = [k for k in own if k not in out and not k.endswith("num_batches_tracked")]
    if missing:
        raise UserError(f"DDColor weights: {len(missing)} tensors of the network are not in the file "
                        f"(first: {', '.join(missing[:3])})")
    return out
