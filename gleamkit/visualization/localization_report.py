"""The per-query localisation report: the query image(s), its top-K tiles with their
scores, and a map of the candidates, the estimate and its uncertainty (static PNG,
offline: matplotlib with the Agg backend)."""

import math
from typing import Optional, Sequence

import numpy as np

__all__ = [
    'draw_localization_report',
    'footprint_contains',
    'raster_thumbnail_wgs84',
    'tile_caption',
]


def footprint_contains(footprint, lat: float, lon: float) -> bool:
    """Whether the ``[lon, lat]`` polygon ``footprint`` contains the point."""
    from matplotlib.path import Path

    if footprint is None or len(footprint) < 3:
        return False
    return bool(Path(np.asarray(footprint, float)).contains_point((lon, lat)))


def tile_caption(tile, is_true: bool = False) -> str:
    """A tile's caption in the report: rank and retrieval score, and for a tile GLEAM-X
    verified its P(match), verdict, fused score and the rank retrieval gave it.

    >>> from gleamkit.apis.localization_result import RetrievedTile
    >>> tile_caption(RetrievedTile(rank=1, tile_id='t', score=0.8, lat=0, lon=0))
    '#1  0.800'
    """
    text = f'#{tile.rank}  {tile.score:.3f}' + ('  TRUE' if is_true else '')
    if getattr(tile, 'p_match', None) is not None:
        text += f'\n{tile.verdict}  P={tile.p_match:.2f}'
        if tile.fused_score is not None:
            text += f'\nfused {tile.fused_score:.2f}'
        if tile.retrieval_rank is not None and tile.retrieval_rank != tile.rank:
            text += f' (was #{tile.retrieval_rank})'
    return text


def _circle(lat: float, lon: float, radius_m: float, points: int = 72) -> np.ndarray:
    """``(points, 2)`` lon/lat of a geodesic circle."""
    from pyproj import Geod

    az = np.linspace(0, 360, points)
    lons, lats, _ = Geod(ellps='WGS84').fwd(
        np.full(points, lon), np.full(points, lat), az, np.full(points, radius_m)
    )
    return np.stack([lons, lats], axis=1)


def raster_thumbnail_wgs84(raster: str, max_px: int = 512):
    """``(rgba (h, w, 4) uint8, (west, east, south, north))``: the raster warped to
    WGS84 at most ``max_px`` wide, as a map background; None if it cannot be read."""
    try:
        import rasterio
        from rasterio.warp import Resampling, calculate_default_transform, reproject

        with rasterio.open(raster) as src:
            transform, width, height = calculate_default_transform(
                src.crs, 'EPSG:4326', src.width, src.height, *src.bounds
            )
            scale = max(width, height) / max_px
            width, height = max(1, int(width / scale)), max(1, int(height / scale))
            transform = transform * transform.scale(scale, scale)
            bands = min(3, src.count)
            out = np.zeros((bands, height, width), np.uint8)
            for b in range(bands):
                reproject(
                    rasterio.band(src, b + 1),
                    out[b],
                    dst_transform=transform,
                    dst_crs='EPSG:4326',
                    resampling=Resampling.bilinear,
                )
        west, north = transform * (0, 0)
        east, south = transform * (width, height)
        rgb = np.repeat(out, 3, axis=0)[:3] if bands < 3 else out
        alpha = np.where(rgb.any(axis=0), 255, 0).astype(np.uint8)  # nodata: transparent
        return np.moveaxis(np.concatenate([rgb, alpha[None]]), 0, -1), (west, east, south, north)
    except Exception:  # a background is optional: the report is drawn without it
        return None


def draw_localization_report(
    result,
    query_images: Sequence[np.ndarray],
    tile_images: Sequence[Optional[np.ndarray]],
    out_file: str,
    gallery_centres: Optional[np.ndarray] = None,
    background=None,
    dpi: int = 100,
) -> str:
    """Draw one query's report to ``out_file`` (PNG) and return the path.

    Args:
        result: a :class:`gleamkit.apis.LocalizationResult`.
        query_images: the query's image(s), ``H x W x 3`` uint8 (several for a set).
        tile_images: the top-K tiles' pixels (None where unknown), best first.
        out_file: the PNG to write.
        gallery_centres: ``(N, 2)`` lat/lon of all gallery tiles, drawn as faint
            dots for context. Defaults to None.
        background: ``(rgb, (west, east, south, north))`` from
            :func:`raster_thumbnail_wgs84`. Defaults to None.
        dpi: resolution. Defaults to 100.
    """
    import matplotlib

    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    from matplotlib import cm, patheffects
    from matplotlib.patches import Polygon

    tiles = result.tiles
    truth = (result.true_lat, result.true_lon) if result.true_lat is not None else None
    ncol = 5
    ntiles = len(tiles)
    nq = len(query_images)
    tile_rows = max(1, math.ceil(ntiles / ncol))
    verified = any(t.p_match is not None for t in tiles)
    row_height = 3.0 if verified else 2.6  # room for the verdict lines of the captions
    fig = plt.figure(figsize=(15, max(6.0, row_height * (tile_rows + 1))), dpi=dpi)
    grid = fig.add_gridspec(tile_rows + 1, ncol + 4)
    title = f'{result.query}  [{result.view}]'
    summary = (
        f'estimate {result.lat:.6f}, {result.lon:.6f}  +- {result.radius_m:.0f} m  '
        f'(from {result.num_support} tile{"s" if result.num_support > 1 else ""})'
    )
    if result.error_m is not None:
        summary += f'   error {result.error_m:.1f} m (top-1 tile {result.top1_error_m:.1f} m)'
    verification = result.verification or {}
    if verification.get('status') == 'ok':
        summary += (
            '\nre-ranked by GLEAM-X (captions: verdict, P(match), fused score, retrieval rank)'
        )
    elif verification:
        summary += f'\nGLEAM-X verification failed: {verification.get("message")}'
    fig.suptitle(f'{title}\n{summary}', fontsize=11)

    # the query (members of an image set side by side)
    for i, img in enumerate(query_images[:ncol]):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(img)
        ax.set_title('query' if nq == 1 else f'query {i + 1}/{nq}', fontsize=9)
        ax.axis('off')

    scores = np.array([t.score for t in tiles]) if tiles else np.zeros(0)
    low, high = (float(scores.min()), float(scores.max())) if len(scores) else (0.0, 1.0)
    colours = cm.viridis((scores - low) / (high - low + 1e-9))
    for k, (tile, img) in enumerate(zip(tiles, tile_images)):
        ax = fig.add_subplot(grid[1 + k // ncol, k % ncol])
        if img is not None:
            ax.imshow(img)
        is_true = truth is not None and footprint_contains(tile.footprint, *truth)
        ax.set_title(
            tile_caption(tile, is_true),
            fontsize=8 if verified else 9,
            color='green' if is_true else 'black',
            fontweight='bold' if is_true else 'normal',
        )
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_edgecolor('limegreen' if is_true else colours[k])
            side.set_linewidth(5 if is_true else 2)
        ax.set_xlabel(str(tile.tile_id), fontsize=7)

    # the map: candidates, estimate, uncertainty and truth in lon/lat
    ax = fig.add_subplot(grid[:, ncol:])
    if background is not None:
        rgb, extent = background
        ax.imshow(rgb, extent=extent, origin='upper', alpha=0.8, zorder=0)
    if gallery_centres is not None and len(gallery_centres):
        ax.scatter(
            gallery_centres[:, 1],
            gallery_centres[:, 0],
            s=4,
            c='lightgrey',
            zorder=1,
            label='gallery tiles',
        )
    for k in reversed(range(ntiles)):  # best drawn last, on top
        tile = tiles[k]
        if len(tile.footprint) >= 3:
            ax.add_patch(
                Polygon(
                    np.asarray(tile.footprint),
                    closed=True,
                    fill=False,
                    edgecolor=colours[k],
                    linewidth=2.5 if k == 0 else 1.2,
                    zorder=2,
                )
            )
        ax.annotate(
            str(tile.rank),
            (tile.lon, tile.lat),
            fontsize=9,
            ha='center',
            va='center',
            color='white',
            fontweight='bold',
            zorder=3,
            path_effects=[patheffects.withStroke(linewidth=2.5, foreground='black')],
        )
    circle = _circle(result.lat, result.lon, result.radius_m)
    ax.add_patch(
        Polygon(
            circle,
            closed=True,
            fill=True,
            facecolor=(1, 0, 0, 0.12),
            edgecolor='red',
            linestyle='--',
            zorder=4,
            label=f'uncertainty {result.radius_m:.0f} m',
        )
    )
    ax.plot(
        result.lon, result.lat, 'x', color='red', markersize=12, mew=3, zorder=5, label='estimate'
    )
    points = [circle] + [np.asarray(t.footprint) for t in tiles if len(t.footprint)]
    if truth is not None:
        ax.plot(
            truth[1],
            truth[0],
            '*',
            color='limegreen',
            markeredgecolor='black',
            markersize=16,
            zorder=6,
            label=f'truth ({result.error_m:.0f} m away)',
        )
        points.append(np.array([[truth[1], truth[0]]]))
    frame_lonlat_axes(
        ax, np.concatenate(points), result.lat, 0.15, 'candidates (colour = score, number = rank)'
    )
    ax.legend(loc='upper center', bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, framealpha=0.8)
    fig.savefig(out_file, dpi=dpi, bbox_inches='tight')
    plt.close(fig)
    return out_file


def frame_lonlat_axes(ax, points: np.ndarray, lat: float, pad: float, title: str) -> None:
    """Frame a longitude/latitude map around ``points`` (``N x 2`` lon, lat) with a
    ``pad`` share of their spread on each side, metres drawn square at ``lat``."""
    pad_x = max(1e-4, pad * np.ptp(points[:, 0]))
    pad_y = max(1e-4, pad * np.ptp(points[:, 1]))
    ax.set_xlim(points[:, 0].min() - pad_x, points[:, 0].max() + pad_x)
    ax.set_ylim(points[:, 1].min() - pad_y, points[:, 1].max() + pad_y)
    ax.set_aspect(1 / max(0.05, math.cos(math.radians(lat))))  # metres look square
    ax.set_xlabel('longitude')
    ax.set_ylabel('latitude')
    ax.ticklabel_format(useOffset=False)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)
