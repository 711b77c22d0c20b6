"""The AutoFormer space (Chen et al., 2021): a vision transformer whose embedding width, depth,
and per-layer head count and MLP ratio are searched.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

import nas_cli.nn as nn
from nas_cli import basic_unit, model_wrapper
from nas_cli.hub._ops import DropPath
from nas_cli.hub._published import SearchedModels
from nas_cli.space import MaybeChoice

PRESETS: dict[str, dict[str, tuple[float, ...]]] = {
    "tiny": {"search_embed_dim": (192, 216, 240), "search_mlp_ratio": (3.0, 3.5, 4.0),
             "search_num_heads": (3, 4), "search_depth": (12, 13, 14)},
    "small": {"search_embed_dim": (320, 384, 448), "search_mlp_ratio": (3.0, 3.5, 4.0),
              "search_num_heads": (5, 6, 7), "search_depth": (12, 13, 14)},
    "base": {"search_embed_dim": (528, 576, 624), "search_mlp_ratio": (3.0, 3.5, 4.0),
             "search_num_heads": (8, 9, 10), "search_depth": (14, 15, 16)},
}


class RelativePosition2D(nn.Module):
    """Learned embeddings of the clipped row and column distances between patches (index 0
    is kept for the class token), summed: shape (length_q, length_k, head_dim)."""

    def __init__(self, head_dim: int, length: int = 14):
        super().__init__()
        self.length = length
        self.embeddings_table_v = nn.Parameter(torch.empty(2 * length + 2, head_dim))
        self.embeddings_table_h = nn.Parameter(torch.empty(2 * length + 2, head_dim))
        nn.init.trunc_normal_(self.embeddings_table_v, std=0.02)
        nn.init.trunc_normal_(self.embeddings_table_h, std=0.02)

    def forward(self, length_q: int, length_k: int) -> torch.Tensor:
        device = self.embeddings_table_v.device
        side = int((length_q - 1) ** 0.5)
        q = torch.arange(length_q - 1, device=device)[:, None]
        k = torch.arange(length_k - 1, device=device)[None, :]
        rows = (torch.div(k, side, rounding_mode="trunc") - torch.div(q, side, rounding_mode="trunc"))
        cols = k % side - q % side
        index_v = F.pad(rows.clamp(-self.length, self.length) + self.length + 1, (1, 0, 1, 0))
        index_h = F.pad(cols.clamp(-self.length, self.length) + self.length + 1, (1, 0, 1, 0))
        return self.embeddings_table_v[index_v.long()] + self.embeddings_table_h[index_h.long()]


class RelativePositionSelfAttention(nn.Module):
    """Multi-head self-attention with a fixed `head_dim` per head (so the heads set the inner
    width) and, with `rpe`, relative position embeddings added to the keys and the values."""

    def __init__(self, embed_dim: MaybeChoice[int], num_heads: MaybeChoice[int], head_dim: int = 64,
                 attn_drop: float = 0.0,
                 proj_drop: float = 0.0, qkv_bias: bool = False, qk_scale: float | None = None,
                 rpe: bool = False, rpe_length: int = 14):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, head_dim
        self.scale = qk_scale or head_dim ** -0.5
        inner = head_dim * num_heads
        self.q = nn.Linear(embed_dim, inner, bias=qkv_bias)
        self.k = nn.Linear(embed_dim, inner, bias=qkv_bias)
        self.v = nn.Linear(embed_dim, inner, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(inner, embed_dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.rpe = rpe
        if rpe:
            self.rel_pos_embed_k = RelativePosition2D(head_dim, rpe_length)
            self.rel_pos_embed_v = RelativePosition2D(head_dim, rpe_length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        h, d = self.num_heads, self.head_dim
        q, k, v = (proj(x).reshape(b, n, h, d).permute(0, 2, 1, 3) for proj in (self.q, self.k, self.v))
        attn = (q @ k.transpose(-2, -1)) * self.scale
        if self.rpe:
            r_k = self.rel_pos_embed_k(n, n)
            by_position = q.permute(2, 0, 1, 3).reshape(n, h * b, d) @ r_k.transpose(2, 1)
            attn = attn + by_position.transpose(1, 0).reshape(b, h, n, n) * self.scale
        attn = self.attn_drop(attn.softmax(dim=-1))
        out = (attn @ v).transpose(1, 2).reshape(b, n, h * d)
        if self.rpe:
            r_v = self.rel_pos_embed_v(n, n)
            weighted = attn.permute(2, 0, 1, 3).reshape(n, b * h, n) @ r_v
            out = out + weighted.transpose(1, 0).reshape(b, h, n, d).transpose(2, 1).reshape(b, n, h * d)
        return self.proj_drop(self.proj(out))


@basic_unit
class TransformerEncoderLayer(nn.Module):
    """Attention and an MLP (width `embed_dim * mlp_ratio`), each residual with layer norm
    before (`pre_norm`) or after, dropout and drop-path. Takes chosen widths as choices."""

    def __init__(self, embed_dim: MaybeChoice[int], num_heads: MaybeChoice[int],
                 mlp_ratio: MaybeChoice[float] = 4.0, drop_path: float = 0.0, drop_rate: float = 0.0, pre_norm: bool = True,
                 **attention):
        super().__init__()
        self.pre_norm = pre_norm
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.attn = RelativePositionSelfAttention(embed_dim, num_heads, **attention)
        self.attn_layer_norm = nn.LayerNorm(embed_dim)
        self.ffn_layer_norm = nn.LayerNorm(embed_dim)
        self.activation_fn = nn.GELU()
        self.dropout = nn.Dropout(drop_rate)
        hidden = int(embed_dim * mlp_ratio)
        self.fc1 = nn.Linear(embed_dim, hidden)
        self.fc2 = nn.Linear(hidden, embed_dim)

    def _residual(self, x: torch.Tensor, norm: nn.Module, body) -> torch.Tensor:
        out = body(norm(x) if self.pre_norm else x)
        x = x + self.drop_path(out)
        return x if self.pre_norm else norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._residual(x, self.attn_layer_norm, lambda y: self.dropout(self.attn(y)))
        return self._residual(x, self.ffn_layer_norm, lambda y: self.dropout(
            self.fc2(self.dropout(self.activation_fn(self.fc1(y))))))


@basic_unit
class ClassToken(nn.Module):
    """Prepends a learned class token to the patch sequence."""

    def __init__(self, embed_dim: int):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)


@basic_unit
class AbsolutePositionEmbedding(nn.Module):
    """Adds a learned embedding per position."""

    def __init__(self, length: int, embed_dim: int):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, length, embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pos_embed


@model_wrapper
class AutoFormer(SearchedModels, nn.Module):
    """Patch embedding (a conv of `patch_size` stride), a class token, absolute position
    embeddings, `depth` transformer layers, layer norm, mean pooling of the patches (or the
    class token) and a linear head.

    Labels: `embed_dim`, `depth`, and per layer `i` `num_head_{i}` and `mlp_ratio_{i}` (active
    when `depth > i`). The presets of the paper are `AutoFormer.preset("tiny" | "small" |
    "base")`. Small images work with a small patch: `img_size=8, patch_size=2` for 8x8 digits.
    """

    def __init__(self, search_embed_dim: Sequence[int] = (192, 216, 240),
                 search_mlp_ratio: Sequence[float] = (3.0, 3.5, 4.0),
                 search_num_heads: Sequence[int] = (3, 4),
                 search_depth: Sequence[int] = (12, 13, 14), img_size: int = 224,
                 patch_size: int = 16, in_channels: int = 3, num_labels: int = 1000,
                 qkv_bias: bool = True, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.1, pre_norm: bool = True, global_pooling: bool = True,
                 absolute_position: bool = True, qk_scale: float | None = None, rpe: bool = True):
        super().__init__()
        embed_dim = nn.ValueChoice(list(search_embed_dim), label="embed_dim")
        depth = nn.ValueChoice(list(search_depth), label="depth")
        deepest = max(search_depth)
        heads = [nn.ValueChoice(list(search_num_heads), label=f"num_head_{i}") for i in range(deepest)]
        ratios = [nn.ValueChoice(list(search_mlp_ratio), label=f"mlp_ratio_{i}") for i in range(deepest)]
        self.patch_embed = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)
        self.patches_num = (img_size // patch_size) ** 2
        self.global_pooling = global_pooling
        # basic units: a choice for any argument (their __init__ sees its value; no static type)
        self.cls_token = ClassToken(embed_dim)  # type: ignore[arg-type]
        self.pos_embed = (AbsolutePositionEmbedding(self.patches_num + 1, embed_dim)  # type: ignore[arg-type]
                          if absolute_position else nn.Identity())
        drop_paths = torch.linspace(0, drop_path_rate, deepest).tolist()
        self.blocks = nn.Repeat(lambda i: TransformerEncoderLayer(
            embed_dim, heads[i], ratios[i], drop_path=drop_paths[i], drop_rate=drop_rate,
            pre_norm=pre_norm, attn_drop=attn_drop_rate, qkv_bias=qkv_bias, qk_scale=qk_scale,
            rpe=rpe, rpe_length=img_size // patch_size), depth)
        self.norm = nn.LayerNorm(embed_dim) if pre_norm else nn.Identity()
        self.head = nn.Linear(embed_dim, num_labels) if num_labels > 0 else nn.Identity()

    @classmethod
    def preset(cls, name: str) -> dict[str, tuple[float, ...]]:
        """The init arguments of the paper's "tiny", "small" or "base" space."""
        if name.lower() not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")
        return dict(PRESETS[name.lower()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        x = self.patch_embed(x).permute(0, 2, 3, 1).reshape(b, self.patches_num, -1)
        x = self.norm(self.blocks(self.pos_embed(self.cls_token(x))))
        return self.head(x[:, 1:].mean(dim=1) if self.global_pooling else x[:, 0])
