"""The demo's map: the whole region with a query's top-K tile footprints coloured by score
(the localisation report's map, gleamkit/visualization/localization_report.py, zooms onto
the candidates instead)."""

from typing import Optional

import numpy as np

from gleamkit.visualization.localization_report import frame_lonlat_axes

__all__ = ['draw_region_map']


def draw_region_map(
    result,
    background=None,
    gallery_centres: Optional[np.ndarray] = None,
    size_in: float = 7.0,
    dpi: int = 100,
) -> np.ndarray:
    """Draw the region, the top-K footprints (colour = score, number = rank), the
    estimate and, when ``result`` has one, the true position.

    Args:
        result: a :class:`gleamkit.apis.LocalizationResult`.
        background: ``(rgba, (west, east, south, north))`` from
            :func:`gleamkit.visualization.raster_thumbnail_wgs84`. Defaults to None.
        gallery_centres: ``(N, 2)`` lat/lon of every gallery tile (faint dots; they
            also set the extent when there is no background). Defaults to None.
        size_in: figure width in inches. Defaults to 7.
        dpi: resolution. Defaults to 100.

    Returns:
        The picture, ``H x W x 3`` uint8.
    """
    import matplotlib

    matplotlib.use('Agg', force=False)
    from matplotlib import cm, patheffects
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon

    fig = Figure(figsize=(size_in, size_in * 0.8), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    points = []
    if background is not None:
        rgb, extent = background
        ax.imshow(rgb, extent=extent, origin='upper', zorder=0)
        points.append(np.array([[extent[0], extent[2]], [extent[1], extent[3]]]))
    if gallery_centres is not None and len(gallery_centres):
        ax.scatter(gallery_centres[:, 1], gallery_centres[:, 0], s=3, c='lightgrey', zorder=1)
        points.append(np.asarray(gallery_centres)[:, ::-1])
    tiles = result.tiles
    scores = np.array([t.score for t in tiles]) if tiles else np.zeros(0)
    low, high = (float(scores.min()), float(scores.max())) if len(scores) else (0.0, 1.0)
    colours = cm.plasma((scores - low) / (high - low + 1e-9))
    for k in reversed(range(len(tiles))):  # the best drawn last, on top
        tile = tiles[k]
        if len(tile.footprint) >= 3:
            outline = np.asarray(tile.footprint, float)
            ax.add_patch(
                Polygon(
                    outline,
                    closed=True,
                    fill=False,
                    edgecolor=colours[k],
                    linewidth=3.0 if k == 0 else 1.5,
                    zorder=2,
                )
            )
            points.append(outline)
        ax.annotate(
            f'{tile.rank}',
            (tile.lon, tile.lat),
            fontsize=10 if k == 0 else 8,
            ha='center',
            va='center',
            color='white',
            fontweight='bold',
            zorder=3,
            path_effects=[patheffects.withStroke(linewidth=2.5, foreground='black')],
        )
        points.append(np.array([[tile.lon, tile.lat]]))
    ax.plot(result.lon, result.lat, 'x', color='red', markersize=12, mew=3, zorder=5)
    title = f'top-{len(tiles)} tiles (number = rank; yellow = high score), x = estimate'
    if result.true_lat is not None:
        ax.plot(
            result.true_lon,
            result.true_lat,
            '*',
            color='limegreen',
            markeredgecolor='black',
            markersize=16,
            zorder=6,
        )
        points.append(np.array([[result.true_lon, result.true_lat]]))
        title += ', star = truth'
    allpts = np.concatenate(points) if points else np.array([[result.lon, result.lat]])
    frame_lonlat_axes(ax, allpts, result.lat, 0.03, title)
    fig.tight_layout()
    fig.canvas.draw()
    return np.ascontiguousarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
