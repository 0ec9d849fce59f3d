from .base_adapter import DEFAULT_VIEWS, BaseModalityAdapter
from .identity_adapter import IdentityAdapter
from .view_embedding_adapter import ViewEmbeddingAdapter
from .view_specific_norm import ViewSpecificNorm

__all__ = [
    'BaseModalityAdapter',
    'DEFAULT_VIEWS',
    'IdentityAdapter',
    'ViewEmbeddingAdapter',
    'ViewSpecificNorm',
]
