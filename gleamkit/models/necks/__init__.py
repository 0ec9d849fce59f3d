"""Deprecated: :class:`EmbeddingHead` moved to :mod:`gleamkit.models.heads`.

``gleamkit.models.necks`` and ``gleamkit.models.necks.embedding_head`` keep importing
it for one release (configs, pickled objects); the registry name ``EmbeddingHead``
is unchanged, so ``type='EmbeddingHead'`` configs and checkpoints are unaffected.
"""

import sys

from ..heads import embedding_head as _embedding_head
from ..heads.embedding_head import EmbeddingHead, GeneralizedMeanPooling

# the old module path still resolves, without a file that would shadow the move
sys.modules[__name__ + '.embedding_head'] = _embedding_head
embedding_head = _embedding_head

__all__ = ['EmbeddingHead', 'GeneralizedMeanPooling']
