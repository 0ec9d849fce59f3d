from gleamkit.registry import ADAPTERS

from .base_adapter import BaseModalityAdapter


@ADAPTERS.register_module()
class IdentityAdapter(BaseModalityAdapter):
    """No view-specific processing: every view goes through the same encoder
    unchanged (GLEAM-C's plain shared-encoder setting)."""

    def forward(self, features, view):
        if self.views and view is not None:
            self.view_index(view)
        return features
