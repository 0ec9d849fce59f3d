"""View renderers for the synthetic world (numpy + OpenCV only), one file per view.

Every renderer takes the rasterised :class:`~gleamkit.synthetic.world.layout.Layout`, a
position in metres, an output size, a ``numpy.random.Generator`` (all randomness of one
image comes from it) and, except the map, a :class:`Look` (sun, season, camera response),
and returns ``(image, info)``: an RGB uint8 image and a dict describing the camera.

* :func:`render_satellite` (``satellite.py``) - orthographic, north-up tile with cast
  shadows, tree-crown shading, contact shadows, cars, clouds and their shadows.
* :func:`render_map` (``map.py``) - flat web-map style tile (same footprint, north-up).
* :func:`render_uav` (``uav.py``) - oblique perspective from 150-300 m, any heading.
* :func:`render_panorama` (``panorama.py``) and :func:`render_ground` (``ground.py``) -
  eye-level views drawn by :func:`render_street` (``street.py``).

Shared: :mod:`.look` (the image's appearance and camera response) and :mod:`.raster`
(windows, heights, normals and shadows read from the world rasters).
"""

from .ground import render_ground
from .look import Look, sample_look
from .map import render_map
from .panorama import render_panorama
from .raster import _tile  # SyntheticWorld.tile_layout crops the rasters with it
from .satellite import render_satellite
from .street import render_street, street_cameras, street_position
from .uav import render_uav

__all__ = [
    'Look',
    'sample_look',
    'render_satellite',
    'render_map',
    'render_uav',
    'render_panorama',
    'render_ground',
    'render_street',
    'street_cameras',
    'street_position',
]
