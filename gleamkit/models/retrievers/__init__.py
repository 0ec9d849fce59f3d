from .cross_view_retriever import CrossViewRetriever
from .distributed_wrapper import CrossViewDistributedDataParallel
from .grad_cache import grad_cache_backward, slice_inputs

__all__ = [
    'CrossViewRetriever',
    'CrossViewDistributedDataParallel',
    'grad_cache_backward',
    'slice_inputs',
]
