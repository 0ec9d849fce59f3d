"""Weighted symmetric InfoNCE: partially overlapping tiles as semi-positives (Game4Loc)."""

from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from gleamkit.registry import LOSSES
from gleamkit.utils.distributed import gather_with_grad, rank_and_world

from .symmetric_infonce import SymmetricInfoNCELoss


def overlap_to_positive_weight(overlap: torch.Tensor, k: float = 5.0) -> torch.Tensor:
    """Game4Loc's map from a pair's overlap (IoU in [0, 1]) to its positive weight.

    ``sigmoid(k * overlap)``: 0.5 for no overlap, 0.993 for a full one (k=5). Passed
    as the ``(B,)`` ``weights`` of :class:`WeightedInfoNCELoss`, this reproduces
    Game4Loc's weighted InfoNCE exactly: its per-pair smoothing is
    ``1 - (1 - label_smoothing) * sigmoid(k * overlap)`` (GTA-UAV's
    ``game4loc/loss.py``; its plain ``WeightedInfoNCE`` class is the
    ``label_smoothing=0`` case).
    """
    return torch.sigmoid(k * torch.as_tensor(overlap, dtype=torch.float32))


def weight_matrix_from_samples(
    data_samples: Sequence,
    positive_k: Optional[float] = None,
    semi_positive_weight: float = 0.5,
    use_semi_positives: bool = True,
) -> torch.Tensor:
    """A batch's ``(B, B)`` target weights from its data samples' meta fields.

    ``W[i, j]`` (query ``i``, satellite ``j`` of the batch; sample ``j``'s satellite
    shows place ``location_id[j]``) is:

    * the query's pair ``weight`` meta (default 1; GTA-UAV: the tile's IoU), mapped
      by :func:`overlap_to_positive_weight` when ``positive_k`` is given (Game4Loc:
      5), where ``location_id[j]`` is the query's place - the pair itself, and
      duplicates of the place that the plain loss would count as negatives;
    * where ``location_id[j]`` is in the query's ``semi_positive_ids``: the matching
      entry of its ``semi_positive_weights`` (IoU) if given, else
      ``semi_positive_weight``; 0 with ``use_semi_positives=False``;
    * 0 otherwise (a negative).
    """
    ids = [int(sample.location_id) for sample in data_samples]
    n = len(ids)
    weights = torch.zeros(n, n)
    for i, sample in enumerate(data_samples):
        positive = sample.get('weight')
        positive = 1.0 if positive is None else float(positive)
        if positive_k is not None:
            positive = float(overlap_to_positive_weight(positive, positive_k))
        semi = {}
        if use_semi_positives:
            semi_ids = [int(s) for s in (sample.get('semi_positive_ids') or ())]
            semi_values = sample.get('semi_positive_weights')
            if semi_values is None or len(semi_values) != len(semi_ids):
                semi_values = [semi_positive_weight] * len(semi_ids)
            semi = dict(zip(semi_ids, (float(v) for v in semi_values)))
        for j, place in enumerate(ids):
            if place == ids[i]:
                weights[i, j] = positive
            elif place in semi:
                weights[i, j] = semi[place]
    return weights


@LOSSES.register_module()
class WeightedInfoNCELoss(SymmetricInfoNCELoss):
    """Symmetric InfoNCE whose targets are soft: semi-positives get part of the mass.

    In GTA-UAV (Game4Loc) a drone image overlaps its satellite tile only partly, and
    neighbouring tiles overlap it too; treating them as plain negatives (or the pair
    as a certain positive) is wrong. Here each row's cross-entropy target is built
    from a weight matrix ``W`` (``W[i, j]`` in [0, 1]: how much satellite ``j``
    matches query ``i``)::

        W_hat[i]  = W[i] / max(1, sum_j W[i, j])             # rows summing over 1 are rescaled
        target[i] = (1 - eps) * W_hat[i] + (1 - (1 - eps) * sum_j W_hat[i, j]) / N

    i.e. ``W`` gives target probabilities (scaled by ``1 - eps``) and the mass it
    leaves is spread uniformly over the ``N`` columns, as label smoothing spreads
    ``eps``. The loss is ``(CE(s Q R^T, target) + CE(s R Q^T, target^T)) / 2``, the
    reference direction using the columns of ``W`` by the same rule.

    * ``W = I`` (or ``weights=None``): exactly :class:`SymmetricInfoNCELoss`.
    * ``W = diag(overlap_to_positive_weight(iou, k))``: exactly Game4Loc's
      ``WeightedInfoNCE`` (the positive's weight scales its term; a weak pair
      sends more of its mass to the uniform part: per-pair smoothing
      ``1 - (1 - eps) * w_i``).
    * Off-diagonal ``W[i, j] > 0``: semi-positives (VIGOR's overlapping tiles, or
      duplicates of a place): :meth:`weights_from_samples` builds ``W`` from the
      data samples' ``location_id``, ``weight``, ``semi_positive_ids`` and
      ``semi_positive_weights`` (see :func:`weight_matrix_from_samples`).

    ``forward(query, reference, weights=None)``, ``weights`` one of:

    * ``(B,)``: per-pair positive weights (the diagonal);
    * ``(B, B)``: this rank's batch; columns of other ranks get weight 0;
    * ``(B, world * B)``: this rank's rows against every gathered satellite (rank
      ``r``'s batch at columns ``r * B ... (r + 1) * B - 1``), so semi-positives that
      landed on another rank count too. The rows are all-gathered to get the
      reference direction's targets.

    With ``gather=True`` under distributed training the embeddings are gathered and
    each rank computes its own rows' loss, exactly as :class:`SymmetricInfoNCELoss`
    does; DDP's gradient average is then the gradient of the full-batch loss.

    Args:
        *args: :class:`SymmetricInfoNCELoss`'s arguments, in its order.
        positive_k (float, optional): for :meth:`weights_from_samples`: a pair's
            weight ``w`` becomes ``sigmoid(positive_k * w)`` (Game4Loc: 5.0).
            Defaults to None (a pair's ``weight`` is used as is).
        semi_positive_weight (float): for :meth:`weights_from_samples`: the weight
            of semi-positives without a weight of their own. Defaults to 0.5.
        use_semi_positives (bool): for :meth:`weights_from_samples`: give
            semi-positives their weight instead of treating them as negatives.
            Defaults to True.
        **kwargs: :class:`SymmetricInfoNCELoss`'s arguments: ``temperature``
            (defaults to 0.07), ``learnable_temperature`` (True), ``max_scale``
            (100.0), ``label_smoothing`` (0.1), ``gather`` (True), ``loss_weight``
            (1.0).
    """

    def __init__(
        self,
        *args,
        positive_k: Optional[float] = None,
        semi_positive_weight: float = 0.5,
        use_semi_positives: bool = True,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if not 0.0 <= semi_positive_weight <= 1.0:
            raise ValueError(
                'WeightedInfoNCELoss: semi_positive_weight must be in [0, 1], '
                f'got {semi_positive_weight}'
            )
        self.positive_k = positive_k
        self.semi_positive_weight = semi_positive_weight
        self.use_semi_positives = use_semi_positives

    def weights_from_samples(self, data_samples: Sequence) -> torch.Tensor:
        """``(B, B)`` weights of a batch, from its data samples (see the config keys)."""
        return weight_matrix_from_samples(
            data_samples,
            positive_k=self.positive_k,
            semi_positive_weight=self.semi_positive_weight,
            use_semi_positives=self.use_semi_positives,
        )

    def forward(
        self, query: torch.Tensor, reference: torch.Tensor, weights: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        if weights is None:
            return super().forward(query, reference)
        if query.shape != reference.shape:
            raise ValueError(
                f'query embeddings {tuple(query.shape)} and reference embeddings '
                f'{tuple(reference.shape)} must have the same shape (paired rows)'
            )
        logits_q, logits_r, _ = self.logits(query, reference)
        weights = torch.as_tensor(weights, device=query.device)
        rows, cols = self.target_weights(weights, query.shape[0], logits_q.shape[1])
        loss = (
            self.soft_cross_entropy(logits_q, rows) + self.soft_cross_entropy(logits_r, cols)
        ) / 2
        return self.loss_weight * loss

    def _rank_and_world(self):
        return rank_and_world() if self.gather else (0, 1)

    def target_weights(self, weights: torch.Tensor, batch: int, columns: int):
        """``(B, N)`` weights of this rank's queries and of its satellites over N columns."""
        weights = torch.as_tensor(weights).detach().float()
        if not torch.isfinite(weights).all() or weights.min() < 0 or weights.max() > 1:
            raise ValueError(
                'WeightedInfoNCELoss: weights must be finite and in [0, 1], got '
                f'min {weights.min().item():g}, max {weights.max().item():g}'
            )
        rank, world = self._rank_and_world()
        offset = rank * batch
        if weights.dim() == 1 and weights.shape[0] == batch:
            weights = torch.diag(weights)
        if weights.shape == (batch, batch):
            rows = weights.new_zeros(batch, columns)
            cols = weights.new_zeros(batch, columns)
            rows[:, offset : offset + batch] = weights
            cols[:, offset : offset + batch] = weights.t()
            return rows, cols
        if weights.shape == (batch, columns):
            full = gather_with_grad(weights.contiguous()) if world > 1 else weights
            return weights, full[:, offset : offset + batch].t()
        raise ValueError(
            f'WeightedInfoNCELoss: weights of shape {tuple(weights.shape)} do not fit a batch '
            f'of {batch} pairs: expected ({batch},) per-pair weights, ({batch}, {batch}) for '
            f'this batch or ({batch}, {columns}) against every gathered satellite'
        )

    def soft_targets(self, weights: torch.Tensor) -> torch.Tensor:
        """Rows of ``weights`` -> target distributions (see the class docstring)."""
        eps = self.label_smoothing
        weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1.0)
        leftover = 1.0 - (1.0 - eps) * weights.sum(dim=1, keepdim=True)
        return (1.0 - eps) * weights + leftover / weights.shape[1]

    def soft_cross_entropy(self, logits: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        target = self.soft_targets(weights.to(logits.device, logits.dtype))
        return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


__all__ = ['WeightedInfoNCELoss', 'overlap_to_positive_weight', 'weight_matrix_from_samples']
