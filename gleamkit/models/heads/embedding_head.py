"""Pooling + projection + L2 normalisation: features -> retrieval embedding."""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from gleamkit.registry import MODELS


class GeneralizedMeanPooling(nn.Module):
    """GeM pooling, ``(mean(x^p))^(1/p)`` over space, with a learnable ``p``."""

    def __init__(self, p: float = 3.0, eps: float = 1e-6, learnable: bool = True):
        super().__init__()
        self.p = nn.Parameter(torch.tensor(float(p)), requires_grad=learnable)
        self.eps = eps

    def forward(self, x):
        p = self.p.clamp(min=1.0)
        return x.clamp(min=self.eps).pow(p).mean(dim=(-2, -1)).pow(1.0 / p)


@MODELS.register_module()
class EmbeddingHead(nn.Module):
    """Turns backbone features into an L2-normalised embedding.

    Args:
        in_channels (int): backbone channels (filled in by the retriever).
        embed_dim (int, optional): output size; ``None`` keeps ``in_channels``
            and skips the projection (Sample4Geo uses the pooled features as is).
            Defaults to None.
        pooling (str): ``'avg'`` (CNN maps), ``'gem'`` (generalised mean),
            ``'cls'`` (first token of a ViT), ``'token_mean'`` (mean of tokens).
            For ``(B, N, C)`` tokens, ``'avg'`` means ``'token_mean'``.
            Defaults to ``'avg'``.
        norm (bool): LayerNorm before the projection. Defaults to False.
        norm_eps (float): the LayerNorm's epsilon (ConvNeXt's head norm: 1e-6).
            Defaults to 1e-5.
        dropout (float): dropout before the projection (training only).
            Defaults to 0.0.
        normalize (bool): L2-normalise the output (needed by InfoNCE and faiss IP).
            Defaults to True.
        proj_init (str): how the projection starts. ``'default'`` (PyTorch's
            random ``nn.Linear``): an untrained model ranks worse than its
            backbone's pooled features. ``'orthogonal'``: orthonormal weights,
            zero bias; with ``embed_dim >= in_channels`` the projection keeps
            every inner product (so an untrained model ranks exactly as the
            pooled features), with fewer dimensions it keeps them only
            approximately (a random subspace). ``'identity'``: the first
            ``in_channels`` outputs copy the pooled features, the rest are 0;
            needs ``embed_dim >= in_channels``. ("Pooled features" are those after
            ``norm`` when it is on.) Defaults to ``'default'``.
    """

    PROJ_INITS = ('default', 'orthogonal', 'identity')

    def __init__(
        self,
        in_channels: int,
        embed_dim: Optional[int] = None,
        pooling: str = 'avg',
        norm: bool = False,
        norm_eps: float = 1e-5,
        dropout: float = 0.0,
        normalize: bool = True,
        proj_init: str = 'default',
    ):
        super().__init__()
        allowed = ('avg', 'gem', 'cls', 'token_mean')
        if pooling not in allowed:
            raise ValueError(f'EmbeddingHead: pooling={pooling!r}, expected one of {allowed}')
        if proj_init not in self.PROJ_INITS:
            raise ValueError(
                f'EmbeddingHead: proj_init={proj_init!r}, expected one of {self.PROJ_INITS}'
            )
        if proj_init == 'identity' and embed_dim and embed_dim < in_channels:
            raise ValueError(
                f"EmbeddingHead: proj_init='identity' needs embed_dim >= "
                f'in_channels, got embed_dim={embed_dim} < in_channels='
                f"{in_channels}; use proj_init='orthogonal' (approximate) or "
                'embed_dim=None (no projection)'
            )
        self.pooling = pooling
        self.gem = GeneralizedMeanPooling() if pooling == 'gem' else None
        self.norm = nn.LayerNorm(in_channels, eps=norm_eps) if norm else nn.Identity()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.proj = nn.Linear(in_channels, embed_dim) if embed_dim else nn.Identity()
        self.in_channels = in_channels
        self.embed_dim = embed_dim or in_channels
        self.normalize = normalize
        self.proj_init = proj_init
        self.reset_projection()

    @torch.no_grad()
    def reset_projection(self) -> None:
        """(Re-)initialise the projection as ``proj_init`` says."""
        if not isinstance(self.proj, nn.Linear) or self.proj_init == 'default':
            return
        if self.proj_init == 'orthogonal':
            nn.init.orthogonal_(self.proj.weight)
        else:
            self.proj.weight.zero_()
            self.proj.weight.fill_diagonal_(1.0)
        self.proj.bias.zero_()

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return x
        if x.dim() == 4:
            if self.pooling in ('cls', 'token_mean'):
                raise ValueError(
                    f'pooling={self.pooling!r} needs (B, N, C) tokens, '
                    f'got a (B, C, H, W) map {tuple(x.shape)}'
                )
            return self.gem(x) if self.gem is not None else x.mean(dim=(-2, -1))
        if x.dim() == 3:
            if self.pooling == 'cls':
                return x[:, 0]
            if self.pooling == 'gem':
                return self.gem(x.transpose(1, 2).unsqueeze(-1))
            return x.mean(dim=1)
        raise ValueError(f'EmbeddingHead got features of shape {tuple(x.shape)}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.dropout(self.norm(self.pool(x))))
        return F.normalize(x.float(), dim=-1) if self.normalize else x
