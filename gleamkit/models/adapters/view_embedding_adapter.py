import torch
from torch import nn

from gleamkit.registry import ADAPTERS

from .base_adapter import DEFAULT_VIEWS, BaseModalityAdapter


@ADAPTERS.register_module()
class ViewEmbeddingAdapter(BaseModalityAdapter):
    """Adds a learnable per-view vector to every feature location.

    Initialised at zero so that training starts from the shared encoder and
    learns only what each view needs to differ.

    Args:
        channels (int): feature channels (filled in by the retriever from the
            backbone when left out).
        views (Sequence[str]): the views the adapter knows. Defaults to
            ``('satellite', 'uav', 'map', 'panorama', 'ground')``.
        init_std (float): standard deviation of the initial vectors.
            Defaults to 0.0 (zero init).
    """

    def __init__(self, channels, views=DEFAULT_VIEWS, init_std: float = 0.0):
        super().__init__(channels, views)
        self.embedding = nn.Parameter(torch.zeros(len(self.views), channels))
        if init_std > 0:
            nn.init.normal_(self.embedding, std=init_std)

    def forward(self, features, view):
        vec = self.embedding[self.view_index(view)].to(features.dtype)
        return features + vec.view(self.channel_shape(features))
