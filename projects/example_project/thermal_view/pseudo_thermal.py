import numpy as np
from mmcv.transforms import BaseTransform

from gleamkit.registry import TRANSFORMS

# an "ironbow"-like palette: black -> purple -> orange -> yellow -> white
_STOPS = np.array(
    [[0, 0, 0], [80, 0, 120], [220, 60, 20], [250, 200, 30], [255, 255, 240]], dtype=np.float32
)


@TRANSFORMS.register_module()
class PseudoThermal(BaseTransform):
    """Turns a UAV image into a pseudo-thermal one and relabels its view.

    Warm = bright surfaces in the optical image (roofs, roads), cold = vegetation
    and water; mapped through an ironbow palette. A stand-in for a real thermal
    UAV dataset, to show how a new view plugs into gleamkit.

    Config keys:
        view (str): the new view name (``'thermal'``).
        noise (float): std of sensor noise added in [0, 1] units.
    """

    def __init__(self, view: str = 'thermal', noise: float = 0.02):
        self.view = view
        self.noise = noise

    def transform(self, results: dict) -> dict:
        img = results['query_img'].astype(np.float32) / 255.0
        # vegetation is cool: penalise green-dominant pixels
        heat = 0.6 * img.mean(axis=2) + 0.4 * np.clip(img[..., 0] - img[..., 1] + 0.5, 0, 1)
        rng = np.random.default_rng(results.get('sample_idx', 0))
        heat = np.clip(heat + rng.normal(0, self.noise, heat.shape), 0, 1)
        pos = heat * (len(_STOPS) - 1)
        lo = np.floor(pos).astype(int).clip(0, len(_STOPS) - 2)
        frac = (pos - lo)[..., None]
        colour = _STOPS[lo] * (1 - frac) + _STOPS[lo + 1] * frac
        results['query_img'] = colour.astype(np.uint8)
        results['view'] = self.view
        return results
