"""The appearance of one image: sun, season and camera response (:class:`Look`), drawn by
:func:`sample_look`, and the lighting and camera-response steps every renderer shares."""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..world.layout import GROUND, PARK, TREE

__all__ = ['Look', 'sample_look']


_AMB_TINT = np.array([0.92, 0.97, 1.08], np.float32)
_HAZE = np.array([196, 206, 218], np.float32)
_VEG = np.zeros(256, bool)
_VEG[[GROUND, PARK, TREE]] = True
_SEASONS = {
    'summer': (1.0, 1.0, 1.0),
    'dry': (1.12, 1.03, 0.82),
    'autumn': (1.38, 1.02, 0.62),
    'winter': (1.08, 0.95, 0.92),
}


@dataclass
class Look:
    """Per-image appearance: sun, season and camera response."""

    sun_az: float  # degrees clockwise from north, direction *towards* the sun
    sun_el: float  # degrees above the horizon
    ambient: float
    direct: float
    sun_tint: np.ndarray
    veg_tint: np.ndarray
    season: str
    exposure: float
    wb: np.ndarray
    contrast: float
    saturation: float
    gamma: float
    noise: float
    blur: float
    haze: float
    overcast: float

    @property
    def sun_vec(self) -> np.ndarray:
        """Unit vector (east, north, up) towards the sun."""
        az, el = math.radians(self.sun_az), math.radians(self.sun_el)
        return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])


def sample_look(rng: np.random.Generator, difficulty: float, view: str) -> Look:
    """Draw the nuisance parameters of one image; ``difficulty`` in [0, 1] widens them."""
    d = float(difficulty)
    if view in ('panorama', 'ground'):
        el = rng.uniform(max(12.0, 45 - 30 * d), 72)
    else:
        el = rng.uniform(max(28.0, 62 - 32 * d), 76)
    az = (165 + rng.uniform(-1, 1) * (35 + 140 * d)) % 360
    seasons = list(_SEASONS)
    p = np.array([1 - 0.75 * d, 0.25 * d, 0.25 * d, 0.25 * d])
    season = seasons[rng.choice(4, p=p / p.sum())]
    overcast = rng.uniform(0, 1) * d if rng.random() < 0.15 + 0.35 * d else 0.0
    warm = max(0.0, (35 - el) / 35)
    return Look(
        sun_az=az,
        sun_el=el,
        ambient=0.42 + 0.3 * overcast,
        direct=0.78 * (1 - 0.75 * overcast),
        sun_tint=np.array([1.0 + 0.08 * warm, 1.0, 1.0 - 0.18 * warm], np.float32),
        veg_tint=np.array(_SEASONS[season], np.float32),
        season=season,
        exposure=float(np.exp(rng.normal(0, 0.06 + 0.14 * d))),
        wb=np.exp(rng.normal(0, 0.015 + 0.05 * d, 3)).astype(np.float32),
        contrast=rng.uniform(1 - 0.25 * d, 1 + 0.15 * d),
        saturation=rng.uniform(1 - 0.35 * d, 1 + 0.15 * d),
        gamma=float(np.exp(rng.normal(0, 0.08 * d))),
        noise=rng.uniform(0.5, 1.0) * (1.5 + 6 * d),
        blur=rng.uniform(0, 0.35 + 0.6 * d),
        haze=rng.uniform(0, 0.25 + 0.5 * d),
        overcast=overcast,
    )


def _light(look: Look, lambert, lit):
    """RGB light factor for unit normals with ``lambert`` = n.sun and ``lit`` in [0, 1]."""
    norm = look.ambient + look.direct * math.sin(math.radians(60))
    direct = (look.direct * np.clip(lambert, 0, None) * lit)[..., None] * look.sun_tint
    return (look.ambient * _AMB_TINT + direct) / norm


def _finish(img: np.ndarray, look: Look, rng: np.random.Generator, blur=True) -> np.ndarray:
    """Camera response: exposure, white balance, contrast, saturation, gamma, blur, noise."""
    img = img.astype(np.float32, copy=False) * (look.exposure * look.wb)
    mean = img.mean(axis=(0, 1), keepdims=True)
    img = (img - mean) * look.contrast + mean
    grey = img.mean(axis=-1, keepdims=True)
    img = grey + (img - grey) * look.saturation
    img = 255.0 * (np.clip(img, 0, 255) / 255.0) ** look.gamma
    if blur and look.blur > 0.25:
        img = cv2.GaussianBlur(img, (0, 0), look.blur)
    img += rng.standard_normal(img.shape[:2] + (1,), dtype=np.float32) * (0.6 * look.noise)
    img += rng.standard_normal(img.shape, dtype=np.float32) * (0.5 * look.noise)
    return np.clip(img, 0, 255).astype(np.uint8)


def _veg_tint(look, cls):
    return np.where(_VEG[cls][..., None], look.veg_tint, np.float32(1.0))
