"""timm's ConvNeXt as a four-stage feature encoder, with a LayerNorm after each stage (DDColor's encoder).

DDColor (Kang et al. 2023; reference code piddnad/DDColor, ``basicsr/archs/ddcolor_arch_utils/convnext.py``) adds
four channels-first LayerNorms ``norm0``-``norm3`` to ConvNeXt and reads each stage's features through them; the
trunk itself goes on with the un-normalised features (the reference calls ``norm_layer(x)`` and drops the result,
which its forward hooks pick up). timm's ConvNeXt has the same stem, downsampling layers and blocks (depth-wise
7×7 conv, LayerNorm, MLP ×4 with GELU, layer scale; LayerNorm eps 1e-6, layer scale initialised to 1e-6) but no
per-stage norms, so :class:`ConvNeXtStages` keeps timm's network as ``body`` (its ImageNet weights load through
:func:`colorbench.pretrained.load_pretrained` unchanged) and adds the norms as ``norms``. timm's classifier head
(a final LayerNorm, which DDColor's code also holds but never uses) is removed: nothing unused is trained.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

CONVNEXT_SIZES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
}
"""``size -> (depths, dims)`` of the ConvNeXt models (Liu et al. 2022, "A ConvNet for the 2020s")."""


class ConvNeXtStages(nn.Module):
    """``[B,in_chans,H,W]`` (H, W multiples of 32) -> four features ``[B,dims[i],H/2**(i+2),W/2**(i+2)]``, each
    stage's output after its own channels-first LayerNorm (eps 1e-6).

    ``body``: a timm ``ConvNeXt`` (``stem``, ``stages``; head removed); ``norms``: the four per-stage LayerNorms.
    """

    def __init__(self, depths: Sequence[int], dims: Sequence[int], in_chans: int = 3) -> None:
        super().__init__()
        from timm.layers import LayerNorm2d
        from timm.models.convnext import ConvNeXt

        if len(depths) != 4 or len(dims) != 4:
            raise ValueError(f"ConvNeXtStages: four stages expected, got depths={depths}, dims={dims}")
        self.body = ConvNeXt(in_chans=in_chans, num_classes=0, depths=tuple(depths), dims=tuple(dims))
        self.body.head = nn.Identity()  # the final LayerNorm DDColor never reads
        self.norms = nn.ModuleList(LayerNorm2d(d, eps=1e-6) for d in dims)
        self.dims = tuple(int(d) for d in dims)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.body.stem(x)
        features = []
        for stage, norm in zip(self.body.stages, self.norms):
            x = stage(x)
            features.append(norm(x))
        return features
