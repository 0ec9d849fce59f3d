"""Symmetric InfoNCE between query and satellite embeddings (CLIP / Sample4Geo)."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from gleamkit.registry import LOSSES
from gleamkit.utils.distributed import gather_with_grad, rank_and_world


@LOSSES.register_module()
class SymmetricInfoNCELoss(nn.Module):
    """``(CE(s * Q R^T, I) + CE(s * R Q^T, I)) / 2`` with a learnable scale ``s``.

    Row ``i`` of ``Q`` (queries) and ``R`` (satellite tiles) show the same place;
    every other row of the batch is a negative. ``s = exp(logit_scale)`` is the
    inverse temperature, learned, clamped at ``max_scale``. Cross-entropy uses
    label smoothing (Sample4Geo: 0.1).

    With ``gather=True`` under distributed training, embeddings are all-gathered
    from every rank (gradients flow back to their owner), and each rank computes
    the loss of its own rows against all columns (OpenCLIP's local loss): the
    negatives of the whole global batch, for the memory of a local one.

    Args:
        temperature (float): the initial temperature (``s = 1 / temperature``).
            Defaults to 0.07.
        learnable_temperature (bool): learn ``logit_scale``. Defaults to True.
        max_scale (float): the clamp of ``s``. Defaults to 100.0.
        label_smoothing (float): cross-entropy label smoothing. Defaults to 0.1.
        gather (bool): all-gather the embeddings under distributed training.
            Defaults to True.
        loss_weight (float): factor on the loss. Defaults to 1.0.
    """

    def __init__(
        self,
        temperature: float = 0.07,
        learnable_temperature: bool = True,
        max_scale: float = 100.0,
        label_smoothing: float = 0.1,
        gather: bool = True,
        loss_weight: float = 1.0,
    ):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'SymmetricInfoNCELoss: temperature must be > 0, got {temperature}')
        # shape (1,), not a 0-d scalar: FSDP cannot flatten 0-d parameters. Checkpoints
        # written with the earlier 0-d shape still load (_load_from_state_dict).
        self.logit_scale = nn.Parameter(
            torch.full((1,), math.log(1.0 / temperature)), requires_grad=learnable_temperature
        )
        self.max_log_scale = math.log(max_scale)
        self.label_smoothing = label_smoothing
        self.gather = gather
        self.loss_weight = loss_weight

    @property
    def scale(self) -> torch.Tensor:
        """``exp(logit_scale)``, clamped at ``max_scale``, as a 0-d tensor."""
        return self.logit_scale.clamp(max=self.max_log_scale).exp().reshape(())

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + 'logit_scale'
        value = state_dict.get(key)
        if isinstance(value, torch.Tensor) and value.dim() == 0:
            state_dict[key] = value.reshape(1)  # a checkpoint from before the (1,) shape
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def logits(self, query: torch.Tensor, reference: torch.Tensor):
        """Local rows vs gathered columns, and the index of each row's positive."""
        rank, _ = rank_and_world()
        if self.gather:
            all_query, all_reference = gather_with_grad(query), gather_with_grad(reference)
        else:
            rank, all_query, all_reference = 0, query, reference
        scale = self.scale
        logits_q = scale * query.float() @ all_reference.float().t()
        logits_r = scale * reference.float() @ all_query.float().t()
        labels = torch.arange(query.shape[0], device=query.device) + rank * query.shape[0]
        return logits_q, logits_r, labels

    def forward(self, query: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        if query.shape != reference.shape:
            raise ValueError(
                f'query embeddings {tuple(query.shape)} and reference embeddings '
                f'{tuple(reference.shape)} must have the same shape (paired rows)'
            )
        logits_q, logits_r, labels = self.logits(query, reference)
        loss = (
            F.cross_entropy(logits_q, labels, label_smoothing=self.label_smoothing)
            + F.cross_entropy(logits_r, labels, label_smoothing=self.label_smoothing)
        ) / 2
        return self.loss_weight * loss
