import torch
from torch import nn

from gleamkit.registry import ADAPTERS

from .base_adapter import DEFAULT_VIEWS, BaseModalityAdapter


@ADAPTERS.register_module()
class ViewSpecificNorm(BaseModalityAdapter):
    """Per-view feature normalisation: standardise each location's channels
    (LayerNorm without affine), then apply a per-view scale and shift.

    Views differ mostly in feature statistics (a drone image's texture energy is
    not a map tile's), which this absorbs cheaply: 2*C parameters per view.

    Args:
        channels (int): feature channels (filled in by the retriever from the
            backbone when left out).
        views (Sequence[str]): the views the adapter knows. Defaults to
            ``('satellite', 'uav', 'map', 'panorama', 'ground')``.
        eps (float): the standardisation's epsilon. Defaults to 1e-6.
    """

    def __init__(self, channels, views=DEFAULT_VIEWS, eps: float = 1e-6):
        super().__init__(channels, views)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(len(self.views), channels))
        self.bias = nn.Parameter(torch.zeros(len(self.views), channels))

    def forward(self, features, view):
        i = self.view_index(view)
        channel_dim = 1 if features.dim() == 4 else -1
        mean = features.mean(dim=channel_dim, keepdim=True)
        var = features.var(dim=channel_dim, keepdim=True, unbiased=False)
        normed = (features - mean) / torch.sqrt(var + self.eps)
        shape = self.channel_shape(features)
        return normed * self.weight[i].view(shape) + self.bias[i].view(shape)
