from .embedding_head import EmbeddingHead, GeneralizedMeanPooling

__all__ = ['EmbeddingHead', 'GeneralizedMeanPooling']
