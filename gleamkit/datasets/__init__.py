"""Datasets, transforms and samplers."""

from .samplers import *  # noqa: F401,F403
from .synthetic_cross_view import SyntheticCrossViewDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['SyntheticCrossViewDataset']
from .gleam_x import GleamXDataset  # noqa: E402
from .transforms.explanation import LoadExplanationImages, PackExplanationInputs  # noqa: E402

__all__ += ['GleamXDataset', 'LoadExplanationImages', 'PackExplanationInputs']
# benchmark datasets read from their real folder layouts (docs/datasets.md)
from .base_cross_view import BaseCrossViewDataset  # noqa: E402
from .cvact import CVACTDataset  # noqa: E402
from .cvusa import CVUSADataset  # noqa: E402
from .denseuav import DenseUAVDataset  # noqa: E402
from .ground_sets import GroundImageSetDataset, LoadImageSet, PackImageSetInputs, ResizeImageSet  # noqa: E402
from .gta_uav import GTAUAVDataset  # noqa: E402
from .pair_list import CrossViewPairListDataset, StreetMapSatelliteDataset  # noqa: E402
from .sues200 import SUES200Dataset  # noqa: E402
from .tile_gallery import RasterTileGalleryDataset, SlippyTileGalleryDataset, TileListGalleryDataset  # noqa: E402,E501
from .university1652 import University1652Dataset  # noqa: E402
from .vigor import VIGORDataset  # noqa: E402

__all__ += [
    'BaseCrossViewDataset',
    'University1652Dataset',
    'VIGORDataset',
    'CVUSADataset',
    'CVACTDataset',
    'SUES200Dataset',
    'DenseUAVDataset',
    'GroundImageSetDataset',
    'LoadImageSet',
    'ResizeImageSet',
    'PackImageSetInputs',
    'CrossViewPairListDataset',
    'StreetMapSatelliteDataset',
    'GTAUAVDataset',
    'RasterTileGalleryDataset',
    'SlippyTileGalleryDataset',
    'TileListGalleryDataset',
]
