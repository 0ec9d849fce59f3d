from .symmetric_infonce import SymmetricInfoNCELoss

__all__ = ['SymmetricInfoNCELoss']
