"""DDColor's colour decoder: learnable colour queries that attend to multi-scale pixel features (Mask2Former-style).

As the reference code (piddnad/DDColor, ``basicsr/archs/ddcolor_arch.py`` ``MultiScaleColorDecoder`` and
``ddcolor_arch_utils/transformer_utils.py``, released configuration: post-norm layers, no dropout, ReLU FFN):

* each of ``num_scales`` feature maps ``[B,C_i,h_i,w_i]`` is projected to ``hidden_dim`` by a 1×1 conv, gets its
  scale's learnt level embedding added, and a fixed sine position encoding (DETR's, normalised to 2π) for the keys;
* ``num_queries`` learnt queries (content ``query_feat``, position ``query_embed``) pass ``dec_layers`` layers; layer
  ``i`` reads scale ``i mod num_scales``: cross-attention (queries + position -> features + position, values the
  features), then self-attention, then an FFN (``hidden -> dim_feedforward -> hidden``, ReLU); each sub-layer is
  ``LayerNorm(x + sublayer(x))``;
* a final LayerNorm and a 3-layer MLP give one ``color_embed_dim`` vector per query, and its dot product with the
  image features ``[B,color_embed_dim,H,W]`` gives the output ``[B,num_queries,H,W]``.

Parameter names are the reference's, so its state dict loads unchanged.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def sine_position_encoding(x: torch.Tensor, num_pos_feats: int, temperature: float = 10000.0) -> torch.Tensor:
    """DETR's normalised sine encoding of ``x``'s grid: ``[B,C,h,w] -> [B,2·num_pos_feats,h,w]`` (float32; y first).

    Row ``r`` (1-based) has ``y = r / (h + 1e-6) · 2π``, likewise x; channel pairs ``sin, cos`` of
    ``y / T**(2⌊k/2⌋/n)``.
    """
    B, _, h, w = x.shape
    ones = torch.ones(B, h, w, device=x.device, dtype=torch.float32)
    y_embed = ones.cumsum(1)
    x_embed = ones.cumsum(2)
    eps, scale = 1e-6, 2 * math.pi
    y_embed = y_embed / (y_embed[:, -1:, :] + eps) * scale
    x_embed = x_embed / (x_embed[:, :, -1:] + eps) * scale
    dim_t = torch.arange(num_pos_feats, dtype=torch.float32, device=x.device)
    dim_t = temperature ** (2 * (dim_t // 2) / num_pos_feats)
    pos_x = x_embed[:, :, :, None] / dim_t
    pos_y = y_embed[:, :, :, None] / dim_t
    pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
    pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


def _xavier_(module: nn.Module) -> None:
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


class SelfAttentionLayer(nn.Module):
    """``[B,Q,C] -> [B,Q,C]``: ``norm(x + MHA(x + pos, x + pos, x))``."""

    def __init__(self, d_model: int, nhead: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, batch_first=True)
        self.norm = nn.LayerNorm(d_model)
        _xavier_(self)

    def forward(self, x: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        q = x + query_pos
        return self.norm(x + self.self_attn(q, q, x, need_weights=False)[0])


class CrossAttentionLayer(nn.Module):
    """``([B,Q,C], memory [B,N,C]) -> [B,Q,C]``: ``norm(x + MHA(x + query_pos, memory + pos, memory))``."""

    def __init__(self, d_model: int, nhead: int) -> None:
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, batch_first=True)
        self.norm = nn.LayerNorm(d_model)
        _xavier_(self)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor,
                query_pos: torch.Tensor) -> torch.Tensor:
        out = self.multihead_attn(x + query_pos, memory + pos, memory, need_weights=False)[0]
        return self.norm(x + out)


class FFNLayer(nn.Module):
    """``[B,Q,C] -> [B,Q,C]``: ``norm(x + linear2(relu(linear1(x))))``."""

    def __init__(self, d_model: int, dim_feedforward: int) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm = nn.LayerNorm(d_model)
        _xavier_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.linear2(F.relu(self.linear1(x))))


class MLP(nn.Module):
    """``[..., in_dim] -> [..., out_dim]``: ``num_layers`` linear layers, ReLU between them."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int) -> None:
        super().__init__()
        h = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip([in_dim] + h, h + [out_dim]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else F.relu(layer(x))
        return x


class MultiScaleColorDecoder(nn.Module):
    """(``num_scales`` features ``[B,C_i,h_i,w_i]``, image features ``[B,color_embed_dim,H,W]``) ->
    ``[B,num_queries,H,W]``, one map per colour query. See the module docstring."""

    def __init__(self, in_channels: Sequence[int], hidden_dim: int = 256, num_queries: int = 100, nheads: int = 8,
                 dim_feedforward: int = 2048, dec_layers: int = 9, color_embed_dim: int = 256,
                 num_scales: int = 3) -> None:
        super().__init__()
        if len(in_channels) != num_scales:
            raise ValueError(f"MultiScaleColorDecoder: {num_scales} scales but in_channels={list(in_channels)}")
        self.hidden_dim, self.num_scales = int(hidden_dim), int(num_scales)
        self.transformer_self_attention_layers = nn.ModuleList(
            SelfAttentionLayer(hidden_dim, nheads) for _ in range(dec_layers))
        self.transformer_cross_attention_layers = nn.ModuleList(
            CrossAttentionLayer(hidden_dim, nheads) for _ in range(dec_layers))
        self.transformer_ffn_layers = nn.ModuleList(FFNLayer(hidden_dim, dim_feedforward) for _ in range(dec_layers))
        self.decoder_norm = nn.LayerNorm(hidden_dim)
        self.query_feat = nn.Embedding(num_queries, hidden_dim)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.level_embed = nn.Embedding(num_scales, hidden_dim)
        self.input_proj = nn.ModuleList()
        for c in in_channels:
            proj = nn.Conv2d(c, hidden_dim, kernel_size=1)
            nn.init.kaiming_uniform_(proj.weight, a=1)
            nn.init.zeros_(proj.bias)
            self.input_proj.append(proj)
        self.color_embed = MLP(hidden_dim, hidden_dim, color_embed_dim, 3)

    def forward(self, features: Sequence[torch.Tensor], img_features: torch.Tensor) -> torch.Tensor:
        if len(features) != self.num_scales:
            raise ValueError(f"MultiScaleColorDecoder: {self.num_scales} feature maps expected, got {len(features)}")
        src, pos = [], []
        for i, f in enumerate(features):
            pos.append(sine_position_encoding(f, self.hidden_dim // 2).to(f.dtype).flatten(2).transpose(1, 2))
            src.append((self.input_proj[i](f).flatten(2) + self.level_embed.weight[i][None, :, None]).transpose(1, 2))
        B = src[0].shape[0]
        query_pos = self.query_embed.weight.unsqueeze(0).expand(B, -1, -1)
        out = self.query_feat.weight.unsqueeze(0).expand(B, -1, -1)
        for i in range(len(self.transformer_cross_attention_layers)):
            level = i % self.num_scales
            out = self.transformer_cross_attention_layers[i](out, src[level], pos[level], query_pos)
            out = self.transformer_self_attention_layers[i](out, query_pos)
            out = self.transformer_ffn_layers[i](out)
        color_embed = self.color_embed(self.decoder_norm(out))
        return torch.einsum("bqc,bchw->bqhw", color_embed, img_features)
