"""What every modality adapter shares."""

from typing import Sequence

import torch
from torch import nn

from gleamkit.structures.vocabulary import REFERENCE_VIEW, VIEWS, views_in_order

#: one row per view in this order: checkpoints' view embeddings depend on it, keep it
DEFAULT_VIEWS = views_in_order(VIEWS, first=(REFERENCE_VIEW, 'uav'))


class BaseModalityAdapter(nn.Module):
    """Maps the shared backbone's features of one view before pooling.

    ``forward(features, view)`` takes ``(B, C, H, W)`` or ``(B, N, C)`` features of
    a batch that all come from ``view`` and returns features of the same shape.

    Args:
        channels (int): feature channels (filled in by the retriever from the
            backbone when left out).
        views (Sequence[str]): the views the adapter knows. Defaults to
            ``('satellite', 'uav', 'map', 'panorama', 'ground')``.
    """

    def __init__(self, channels: int, views: Sequence[str] = DEFAULT_VIEWS):
        super().__init__()
        self.channels = channels
        self.views = tuple(views)
        self._view_index = {v: i for i, v in enumerate(self.views)}

    def view_index(self, view: str) -> int:
        if view not in self._view_index:
            raise KeyError(
                f'{type(self).__name__} knows the views {self.views}, '
                f"got view={view!r}. Add it to the adapter's `views` in the config."
            )
        return self._view_index[view]

    @staticmethod
    def channel_shape(features: torch.Tensor):
        """Shape that broadcasts a per-channel vector over ``features``."""
        if features.dim() == 4:
            return (1, -1, 1, 1)
        if features.dim() == 3:
            return (1, 1, -1)
        if features.dim() == 2:
            return (1, -1)
        raise ValueError(
            f'expected (B,C,H,W), (B,N,C) or (B,C) features, got {tuple(features.shape)}'
        )
