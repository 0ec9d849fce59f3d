from .cross_view_retriever import CrossViewRetriever

__all__ = ['CrossViewRetriever']
