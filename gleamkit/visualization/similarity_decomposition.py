"""Why GLEAM-C scores a (query, tile) pair as it does: its similarity split over image positions.

A pooled CNN embedding is an average of per-position features followed by maps that
are affine, so the cosine similarity of two embeddings is a double sum over pairs of
positions (Zhu et al., "Visual Explanation for Deep Metric Learning", 2019)::

    e_q = sum_i c_i,  e_t = sum_j d_j          (c_i: position i's share of e_q)
    s   = <e_q, e_t> / (|e_q| |e_t|) = sum_{i,j} <c_i, d_j> / (|e_q| |e_t|)

``pairs[i, j] = <c_i, d_j> / (|e_q| |e_t|)`` is how much query position ``i`` and tile
position ``j`` add to ``s``; the query map is its row sums, the tile map its column sums,
and a *point map* (which part of the tile answers query position ``i``) is row ``i``.

What is exact for gleamkit's models (``CrossViewRetriever``: backbone -> adapter ->
:class:`~gleamkit.models.heads.EmbeddingHead`), checked at run time against the model's
own embedding (``SimilarityExplanation.exact``):

* **Exact** - every map sums to the model's own similarity (to float precision):
  - average pooling of a CNN map (``pooling='avg'``) or of ViT tokens
    (``'token_mean'``; the class / register tokens' share is ``query_prefix`` /
    ``tile_prefix``, outside the patch map);
  - an adapter applied to the unpooled map (``ViewSpecificNorm``, ``ViewEmbeddingAdapter``,
    any adapter): the decomposition starts after it, over the adapted map's positions;
  - after pooling: the projection (``W c_i + b / N``), dropout (identity in eval), and
    LayerNorm - its centring is linear and its scale ``1 / sigma`` is a number of the
    *pooled* vector, held fixed: ``gamma (c_i - mean(c_i)) / sigma(p) + beta / N``. The
    same holds for ``ViewSpecificNorm`` / ``ViewEmbeddingAdapter`` on pooled features and for
    timm's pooled heads (``TimmBackbone(pooled=True)``: ConvNeXt's average pool + head
    LayerNorm, Sample4Geo's embedding; a plain average pool);
  - the final L2 normalisation (the norms are numbers of the whole embedding).
* **Exact sums, chosen shares** - GeM (``pooling='gem'``, ``(mean x^p)^(1/p)``) is not
  linear; each position gets the share ``g x_i^p / sum_k x_k^p`` of every pooled channel
  ``g``. The shares sum exactly to GeM's output (so the maps still sum to ``s``), and at
  ``p = 1`` they are average pooling's; but which position "caused" a power mean is a
  choice, not a derivation.
* **Approximate** - a ViT's class token (``pooling='cls'``, timm ``global_pool='token'``):
  the embedding is one token that attention mixed from all patches, so there is no sum
  over patches. The token-level map puts each patch token through the head as if it
  were the pooled token and takes its cosine with the other image's embedding
  (``pairs[i, j]`` is then the cosine of patch ``i`` with patch ``j``); the maps show
  where the two images agree but do not sum to ``s`` (``exact=False``).
* **Refused** - a module after pooling that is none of the above (an MLP, a GELU, an
  attention pool, ``set_aggregation='max'``) raises an error naming it; no map is guessed.
  Every exact decomposition is also compared with the model's own embedding and raises
  if they differ by more than ``EXACT_TOLERANCE``.

An image-set query (the ground photos of one cell) is embedded as the normalised mean of
its photos' normalised embeddings, so photo ``m``'s shares are ``c_mi / (|e_m| S)`` and
the photos' maps together sum to the set's similarity, exactly as for one image.
"""

from dataclasses import dataclass, field
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    'Contributions',
    'SimilarityExplanation',
    'embedding_contributions',
    'explain_similarity',
    'to_model_input',
]

#: how far the decomposition's sum may be from the model's own embedding and still be
#: called exact (float32 sums over a few hundred positions)
EXACT_TOLERANCE = 1e-4


@dataclass
class Contributions:
    """One image's embedding split over its positions.

    Attributes:
        positions (Tensor): ``(N, D)`` shares of the unnormalised embedding, one per
            position of the grid (row-major), or per patch token.
        prefix (Tensor): ``(D,)`` the share of what is not a grid position (a ViT's class
            and register tokens; the head's biases are spread over positions). Zeros for CNNs.
        grid (tuple): ``(h, w)`` of the positions.
        embedding (Tensor): ``(D,)`` the model's own embedding, as ``model.embed`` gives it.
        raw (Tensor): ``(D,)`` ``positions.sum(0) + prefix``: the unnormalised embedding as
            decomposed (``embedding`` is ``raw / |raw|`` when the head normalises).
        exact (bool): whether ``positions`` sum back to the model's embedding.
        method (str): how the shares were made (``'avg'``, ``'gem'``, ``'token'``).
    """

    positions: torch.Tensor
    prefix: torch.Tensor
    grid: Tuple[int, int]
    embedding: torch.Tensor
    raw: torch.Tensor
    exact: bool
    method: str


@dataclass
class SimilarityExplanation:
    """The similarity of a (query, tile) pair, split over pairs of positions.

    Attributes:
        similarity (float): the model's own score of the pair, ``<e_q, e_t>`` of its
            embeddings (the cosine when the head normalises): what retrieval ranks by.
        pairs (ndarray): ``(Nq, Nt)`` what each (query, tile) pair of grid positions adds.
        query_map (ndarray): ``(hq, wq)`` what each query position adds against the whole
            tile: ``<c_i, e_t> / (|e_q| |e_t|)`` (row sums of ``pairs`` plus the tile's
            class-token share, which only ViTs have).
        tile_map (ndarray): ``(ht, wt)`` the same for each tile position.
        query_prefix (float): the query's class / register tokens against the whole tile
            (0 for CNNs): ``query_map.sum() + query_prefix == similarity``.
        tile_prefix (float): the same for the tile: ``tile_map.sum() + tile_prefix ==
            similarity`` (both when ``exact``).
        exact (bool): the maps sum back to ``similarity`` (see the module docstring).
        method (str): ``'avg'``, ``'gem'`` (exact sums) or ``'token'`` (approximate).
        query_grid (tuple): ``(hq, wq)``.
        tile_grid (tuple): ``(ht, wt)``.
        members (int): photos of an image-set query (1 for one image). A set's
            ``query_map`` is ``(members, hq, wq)`` and ``pairs`` ``(members * Nq, Nt)``:
            the set's embedding is the mean of its photos' normalised embeddings, so
            each photo's shares are divided by its own norm and the set size (exact).
    """

    similarity: float
    pairs: np.ndarray
    query_map: np.ndarray
    tile_map: np.ndarray
    query_prefix: float = 0.0
    tile_prefix: float = 0.0
    exact: bool = True
    method: str = 'avg'
    query_grid: Tuple[int, int] = field(default=(0, 0))
    tile_grid: Tuple[int, int] = field(default=(0, 0))
    members: int = 1

    @property
    def decomposed_similarity(self) -> float:
        """``query_map.sum() + query_prefix``: equals ``similarity`` when ``exact``."""
        return float(self.query_map.sum() + self.query_prefix)

    def point_map(self, point: Tuple[float, float], member: int = 0) -> np.ndarray:
        """``(ht, wt)``: what each tile position adds to the similarity together with the
        query position at ``point`` - ``(x, y)`` as fractions of the query's width and
        height in ``[0, 1]``. For an exact CNN it sums to ``query_map`` at that position
        (a ViT's tile class-token share is not on the tile's grid). ``member``: which
        photo of an image-set query the point is on. Defaults to 0."""
        if not 0 <= member < self.members:
            raise ValueError(f'member={member}: the query has {self.members} image(s)')
        row = member * self.query_grid[0] * self.query_grid[1] + self.query_position(point)
        return self.pairs[row].reshape(self.tile_grid)

    def query_position(self, point: Tuple[float, float]) -> int:
        """The row-major index of the query grid cell under ``point`` (fractions x, y)."""
        x, y = (float(v) for v in point)
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(
                f'point={point!r}: expected (x, y) as fractions of the query image in [0, 1]'
            )
        h, w = self.query_grid
        return min(int(y * h), h - 1) * w + min(int(x * w), w - 1)


# ----------------------------------------------------------------------- inputs
def to_model_input(model, image, view: str) -> torch.Tensor:
    """``(1, 3, H, W)`` float on the model's device, normalised by its data preprocessor
    for ``view``, from an ``HxWx3`` RGB uint8 array or a ``3xHxW`` tensor (0-255)."""
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f'expected an HxWx3 RGB image for view {view!r}, got an array of shape '
                f'{image.shape}'
            )
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
    elif isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(
                f'expected a 3xHxW image tensor for view {view!r}, got shape {tuple(image.shape)}'
            )
        tensor = image
    else:
        raise TypeError(
            f'expected an HxWx3 numpy image or a 3xHxW tensor, got {type(image).__name__}'
        )
    device = next(model.parameters()).device
    batch = tensor.unsqueeze(0).to(device)
    return model.data_preprocessor.normalize(batch, view)


# ------------------------------------------------------- maps after pooling
def _stats_affine(c: torch.Tensor, pooled: torch.Tensor, eps: float, n: int, weight, bias):
    """LayerNorm-like standardisation of ``pooled`` (over channels) applied to the shares
    ``c`` (``(N, C)``): centring is linear, ``1 / sigma(pooled)`` is held fixed."""
    sigma = torch.sqrt(pooled.var(unbiased=False) + eps)
    out = (c - c.mean(dim=1, keepdim=True)) / sigma
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias / n
    return out


def _after_pooling(module: nn.Module, c: torch.Tensor, pooled: torch.Tensor, view=None):
    """Push the shares ``c`` (summing to ``pooled``) through one module applied to the
    pooled vector; returns ``(shares, module(pooled))``. Raises for a module whose
    output is not affine in its input given the pooled vector's statistics."""
    from gleamkit.models.adapters import IdentityAdapter, ViewEmbeddingAdapter, ViewSpecificNorm

    n = c.shape[0]
    if isinstance(module, (nn.Identity, nn.Dropout, nn.Flatten, IdentityAdapter)):
        return c, pooled
    if isinstance(module, nn.Linear):
        bias = None if module.bias is None else module.bias / n
        out = c @ module.weight.t()
        return (out if bias is None else out + bias), module(pooled)
    if type(module).__name__ == 'LayerNorm2d':  # timm's channel LayerNorm (ConvNeXt head)
        out = _stats_affine(c, pooled, module.eps, n, module.weight, module.bias)
        return out, module(pooled[None, :, None, None]).flatten()
    if isinstance(module, nn.LayerNorm) and len(module.normalized_shape) == 1:
        out = _stats_affine(c, pooled, module.eps, n, module.weight, module.bias)
        return out, module(pooled)
    if isinstance(module, ViewSpecificNorm):
        i = module.view_index(view)
        out = _stats_affine(c, pooled, module.eps, n, module.weight[i], module.bias[i])
        return out, module(pooled[None], view)[0]
    if isinstance(module, ViewEmbeddingAdapter):
        vec = module.embedding[module.view_index(view)]
        return c + vec / n, module(pooled[None], view)[0]
    raise NotImplementedError(
        f'similarity decomposition: {type(module).__name__} is applied after pooling and '
        'is not affine given the pooled statistics; the decomposition knows Linear, '
        'LayerNorm, LayerNorm2d, Dropout, Identity, ViewSpecificNorm and '
        'ViewEmbeddingAdapter there (gleamkit/visualization/similarity_decomposition.py)'
    )


def _gem_shares(x: torch.Tensor, gem) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(N, C)`` shares of GeM's output from ``(N, C)`` features: ``g x^p / sum x^p``."""
    p = gem.p.clamp(min=1.0)
    xp = x.clamp(min=gem.eps).pow(p)
    pooled = xp.mean(dim=0).pow(1.0 / p)
    return pooled * xp / xp.sum(dim=0, keepdim=True), pooled


# ------------------------------------------------------------------ backbones
def _timm_grid(backbone, height: int, width: int, tokens: int) -> Tuple[int, int, int]:
    """``(prefix tokens, h, w)`` of a ViT's token sequence."""
    timm_model = getattr(backbone, 'timm_model', backbone)
    prefix = int(getattr(timm_model, 'num_prefix_tokens', 0) or 0)
    patches = tokens - prefix
    patch = getattr(getattr(timm_model, 'patch_embed', None), 'patch_size', None)
    if patch is not None:
        ph, pw = (patch, patch) if isinstance(patch, int) else tuple(patch)
        h, w = height // ph, width // pw
        if h * w == patches:
            return prefix, h, w
    side = int(round(patches**0.5))
    if side * side != patches:
        raise ValueError(
            f'similarity decomposition: cannot lay {patches} patch tokens (of {tokens}, '
            f'{prefix} prefix) on a grid for a {height}x{width} image'
        )
    return prefix, side, side


def _backbone_map(model, x: torch.Tensor):
    """The backbone's unpooled output and, for ``TimmBackbone(pooled=True)``, the
    modules of timm's head after its pooling: ``(features, pool, post_modules)``."""
    backbone = model.backbone
    if not getattr(backbone, 'pooled', False):
        return backbone(x)[-1], None, []
    timm_model = backbone.timm_model
    if backbone.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    features = timm_model.forward_features(x)
    head = getattr(timm_model, 'head', None)
    if features.dim() == 3:  # a timm ViT: its forward_head pools then fc_norm, head_drop
        pool = getattr(timm_model, 'global_pool', 'token')
        if getattr(timm_model, 'attn_pool', None) is not None or pool not in ('token', 'avg'):
            raise NotImplementedError(
                f'similarity decomposition: timm global_pool={pool!r} (or attention pooling) '
                "is not supported; use 'token' or 'avg'"
            )
        return (
            features,
            'cls' if pool == 'token' else 'patch_mean',
            [
                timm_model.fc_norm,
                timm_model.head_drop,
            ],
        )
    pool = getattr(head, 'global_pool', None) or getattr(timm_model, 'global_pool', None)
    if getattr(pool, 'pool_type', None) != 'avg':
        raise NotImplementedError(
            f'similarity decomposition: timm pooled head of {backbone.model_name!r} uses '
            f'{getattr(pool, "pool_type", pool)!r} pooling; only average pooling decomposes'
        )
    post = []
    if head is not None and hasattr(head, 'norm'):  # ConvNeXt's NormMlpClassifierHead
        if not isinstance(head.pre_logits, nn.Identity):
            raise NotImplementedError(
                'similarity decomposition: a timm head with an MLP (pre_logits) before the '
                'embedding is not affine; only the pooled LayerNorm head decomposes'
            )
        post = [head.norm, head.drop]
    return features, 'avg', post


# --------------------------------------------------------------- contributions
def _positions(features: torch.Tensor, backbone, height: int, width: int):
    """``(N, C)`` position features, the ``(P, C)`` prefix tokens and the grid."""
    if features.dim() == 4:
        c, h, w = features.shape[1:]
        return features[0].reshape(c, h * w).t(), features.new_zeros((0, c)), (h, w)
    prefix, h, w = _timm_grid(backbone, height, width, features.shape[1])
    return features[0, prefix:], features[0, :prefix], (h, w)


@torch.no_grad()
def embedding_contributions(model, image: torch.Tensor, view: str) -> Contributions:
    """Split one image's embedding over its feature positions.

    Args:
        model (CrossViewRetriever): the model (eval mode is set and restored).
        image (Tensor): ``(1, 3, H, W)`` normalised input (:func:`to_model_input`).
        view (str): the image's view (``'uav'``, ``'satellite'``, ...).

    Returns:
        Contributions: the shares; ``method='token'`` (class-token pooling) gives each
        patch token's own embedding as its row instead (an approximation).
    """
    was_training = model.training
    model.eval()
    try:
        return _contributions(model, image, view)
    finally:
        model.train(was_training)


def _contributions(model, image: torch.Tensor, view: str) -> Contributions:
    head = model.head
    embedding = model.embed(image, view)[0].float()
    height, width = image.shape[-2:]
    features, timm_pool, post = _backbone_map(model, image)
    if timm_pool is None:
        features = model.adapter(features, view)  # on the map: what the model does
    else:
        post.append(model.adapter)  # on timm's pooled vector
    post += [head.norm, head.dropout, head.proj]
    positions, prefix_tokens, grid = _positions(features.float(), model.backbone, height, width)
    tokens = torch.cat([prefix_tokens, positions])  # prefix rows first
    n_prefix = prefix_tokens.shape[0]

    pooling = timm_pool or head.pooling
    if features.dim() == 4 and pooling not in ('avg', 'gem'):
        raise ValueError(f'EmbeddingHead pooling={pooling!r} cannot pool a CNN map')
    if pooling == 'cls':
        return _token_contributions(positions, grid, post, view, embedding)
    if pooling == 'gem':  # EmbeddingHead's GeM pools every token of a ViT too
        shares, pooled = _gem_shares(tokens, head.gem)
        method = 'gem'
    elif pooling == 'patch_mean':  # timm ViT global_pool='avg': patch tokens only
        # the class token takes no part: no prefix rows (biases spread over patches only)
        shares, pooled, method = positions / positions.shape[0], positions.mean(dim=0), 'avg'
        n_prefix = 0
    else:  # 'avg' / 'token_mean': a CNN map's positions, or every token of a ViT
        shares, pooled, method = tokens / tokens.shape[0], tokens.mean(dim=0), 'avg'
    for module in post:
        shares, pooled = _after_pooling(module, shares, pooled, view)
    raw = shares.sum(dim=0)
    prefix = shares[:n_prefix].sum(dim=0)  # zeros when there are no prefix rows
    expected = F.normalize(raw, dim=0) if head.normalize else raw
    error = float((expected - embedding).abs().max())
    if error > EXACT_TOLERANCE:
        raise RuntimeError(
            "similarity decomposition: the shares do not sum to the model's embedding "
            f'(max difference {error:.2e}): {type(model.backbone).__name__} / '
            f'{type(model.adapter).__name__} / {type(head).__name__}(pooling='
            f'{head.pooling!r}) is not decomposed correctly'
        )
    return Contributions(
        positions=shares[n_prefix:],
        prefix=prefix,
        grid=grid,
        embedding=embedding,
        raw=raw,
        exact=True,
        method=method,
    )


def _token_contributions(positions, grid, post, view, embedding):
    """Class-token pooling: each patch token through the maps after pooling, as if it
    were the class token, normalised (an approximation: see the module docstring)."""
    rows = []
    for vec in positions:
        out = vec[None]
        for module in post:
            out, vec = _after_pooling(module, out, vec, view)
        rows.append(vec)
    tokens = F.normalize(torch.stack(rows), dim=1)
    return Contributions(
        positions=tokens,
        prefix=torch.zeros_like(embedding),
        grid=grid,
        embedding=embedding,
        raw=embedding,
        exact=False,
        method='token',
    )


# ---------------------------------------------------------------- similarity
def explain_similarity(
    model,
    query_img,
    tile_img,
    query_view: str,
    tile_view: str = 'satellite',
) -> SimilarityExplanation:
    """Split the model's similarity of a (query, tile) pair over pairs of positions.

    Args:
        model (CrossViewRetriever): a GLEAM-C model.
        query_img: ``HxWx3`` RGB uint8 array or ``3xHxW`` tensor (0-255), sized as the
            model's test pipeline sizes the view; an image set (a ``Sx3xHxW`` tensor or a
            list of images, e.g. the ground photos of one cell) is explained as the
            model embeds it (``set_aggregation='mean'``).
        tile_img: the same for the tile (one image).
        query_view (str): the query's view.
        tile_view (str): the tile's view. Defaults to ``'satellite'``.

    Returns:
        SimilarityExplanation: see the module docstring for what is exact.
    """
    members = _set_members(query_img)
    if members is not None:
        return _explain_set(model, members, tile_img, query_view, tile_view)
    q = embedding_contributions(model, to_model_input(model, query_img, query_view), query_view)
    t = embedding_contributions(model, to_model_input(model, tile_img, tile_view), tile_view)
    similarity = float(q.embedding @ t.embedding)
    if q.method == 'token' or t.method == 'token':
        # patch tokens (each normalised) against the other image's embedding
        pairs = (q.positions @ t.positions.t()).cpu().numpy()
        query_map = (q.positions @ t.embedding).cpu().numpy()
        tile_map = (t.positions @ q.embedding).cpu().numpy()
        return SimilarityExplanation(
            similarity=similarity,
            pairs=pairs,
            query_map=query_map.reshape(q.grid),
            tile_map=tile_map.reshape(t.grid),
            exact=False,
            method='token',
            query_grid=q.grid,
            tile_grid=t.grid,
        )
    scale = 1.0
    if model.head.normalize:
        scale = float(q.raw.norm() * t.raw.norm())
    pairs = (q.positions @ t.positions.t()) / scale
    return SimilarityExplanation(
        similarity=similarity,
        pairs=pairs.cpu().numpy(),
        query_map=((q.positions @ t.raw) / scale).cpu().numpy().reshape(q.grid),
        tile_map=((t.positions @ q.raw) / scale).cpu().numpy().reshape(t.grid),
        query_prefix=float(q.prefix @ t.raw) / scale,
        tile_prefix=float(t.prefix @ q.raw) / scale,
        exact=True,
        method=q.method if q.method == t.method else f'{q.method}+{t.method}',
        query_grid=q.grid,
        tile_grid=t.grid,
    )


def _set_members(query_img):
    """The members of an image-set query, or None for one image."""
    if isinstance(query_img, torch.Tensor) and query_img.dim() == 4:
        return list(query_img.unbind(0))
    if isinstance(query_img, (list, tuple)) and query_img and not np.isscalar(query_img[0]):
        return list(query_img)
    return None


def _explain_set(model, members, tile_img, query_view: str, tile_view: str):
    """An image set: the model embeds ``normalize(mean_m e_m)`` of its photos'
    embeddings ``e_m``, so photo ``m``'s shares are ``c_mi / (|raw_m| S)`` (exact)."""
    if getattr(model, 'set_aggregation', 'mean') != 'mean':
        raise ValueError(
            f'similarity decomposition: set_aggregation={model.set_aggregation!r} takes a '
            "maximum over the photos' embeddings, which does not split; explain one photo "
            'at a time'
        )
    parts = [
        embedding_contributions(model, to_model_input(model, m, query_view), query_view)
        for m in members
    ]
    t = embedding_contributions(model, to_model_input(model, tile_img, tile_view), tile_view)
    if t.method == 'token' or any(p.method == 'token' for p in parts):
        raise ValueError(
            'similarity decomposition: a class-token ViT has no exact shares to add over '
            'the photos of a set; explain one photo at a time'
        )
    size = len(parts)
    norms = [float(p.raw.norm()) if model.head.normalize else 1.0 for p in parts]
    positions = torch.cat([p.positions / (n * size) for p, n in zip(parts, norms)])
    prefix = sum(p.prefix / (n * size) for p, n in zip(parts, norms))
    set_raw = positions.sum(dim=0) + prefix  # mean of the photos' embeddings
    embedding = F.normalize(torch.stack([p.embedding for p in parts]).mean(0), dim=0)
    scale = float(set_raw.norm()) * (float(t.raw.norm()) if model.head.normalize else 1.0)
    pairs = (positions @ t.positions.t()) / scale
    grid = parts[0].grid
    return SimilarityExplanation(
        similarity=float(embedding @ t.embedding),
        pairs=pairs.cpu().numpy(),
        query_map=((positions @ t.raw) / scale).cpu().numpy().reshape((size,) + tuple(grid)),
        tile_map=((t.positions @ set_raw) / scale).cpu().numpy().reshape(t.grid),
        query_prefix=float(prefix @ t.raw) / scale,
        tile_prefix=float(t.prefix @ set_raw) / scale,
        exact=True,
        method=parts[0].method,
        query_grid=grid,
        tile_grid=t.grid,
        members=size,
    )
