"""Datasets, transforms and samplers."""
from .samplers import *  # noqa: F401,F403
from .synthetic_cross_view import SyntheticCrossViewDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['SyntheticCrossViewDataset']
from .gleam_x import GleamXDataset  # noqa: E402
from .transforms.explanation import LoadExplanationImages, PackExplanationInputs  # noqa: E402

__all__ += ['GleamXDataset', 'LoadExplanationImages', 'PackExplanationInputs']
