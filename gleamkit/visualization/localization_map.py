"""An interactive HTML map of localisation results (folium, an optional dependency).

The map has no web base layer: its background is the region's own raster (an image
overlay embedded in the file), so no map tiles are fetched. The page loads Leaflet's
JavaScript and CSS from folium's CDN when opened; offline, the static PNG reports are
the ones to read.
"""

from typing import Optional, Sequence

__all__ = ['write_localization_map', 'require_folium', 'FOLIUM_MISSING']

FOLIUM_MISSING = (
    'the HTML map needs folium, which is not installed: pip install folium '
    "(or pip install 'gleamkit[map]'); the PNG reports need nothing more"
)


def require_folium():
    """Import folium, or raise ImportError saying how to install it."""
    try:
        import folium
    except ImportError as err:
        raise ImportError(FOLIUM_MISSING) from err
    return folium


def _score_colour(score: float, low: float, high: float) -> str:
    import matplotlib

    t = 1.0 if high <= low else (score - low) / (high - low)
    r, g, b, _ = matplotlib.colormaps['viridis'](max(0.0, min(1.0, t)))
    return f'#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}'


def write_localization_map(
    results: Sequence,
    out_file: str,
    background=None,
    title: Optional[str] = None,
) -> str:
    """Write one HTML map with every query's candidates, estimate and truth.

    Each query is a layer (switched on and off in the layer control): its top-K tile
    footprints coloured by score (viridis, brighter = higher) with the rank, tile id and
    score on hover, the estimate as a red dot inside its uncertainty circle, and the
    truth (when known) as a green dot.

    Args:
        results: :class:`~gleamkit.apis.LocalizationResult` objects.
        out_file: the ``.html`` to write.
        background: ``(rgba (h, w, 4) uint8, (west, east, south, north))`` from
            :func:`~gleamkit.visualization.raster_thumbnail_wgs84`, drawn under the
            candidates. Defaults to None (a blank map).
        title: shown in the page title. Defaults to None.

    Returns:
        ``out_file``.

    Raises:
        ImportError: folium is not installed (the message says how to install it).
        ValueError: no results.
    """
    folium = require_folium()
    if not results:
        raise ValueError('write_localization_map: no results to draw')
    lats = [r.lat for r in results] + [t.lat for r in results for t in r.tiles]
    lons = [r.lon for r in results] + [t.lon for r in results for t in r.tiles]
    if background is not None:
        _, (west, east, south, north) = background
        lats += [south, north]
        lons += [west, east]
    fmap = folium.Map(tiles=None, control_scale=True)
    if title:
        fmap.get_root().header.add_child(folium.Element(f'<title>{title}</title>'))
    if background is not None:
        image, (west, east, south, north) = background
        folium.raster_layers.ImageOverlay(
            image=image,
            bounds=[[south, west], [north, east]],
            name='region',
            mercator_project=True,
        ).add_to(fmap)
    for i, r in enumerate(results):
        layer = folium.FeatureGroup(name=f'{i + 1}: {r.query}', show=True)
        scores = [t.score for t in r.tiles]
        low, high = (min(scores), max(scores)) if scores else (0.0, 1.0)
        # worst first, so the best tile is drawn on top
        for tile in sorted(r.tiles, key=lambda t: t.score):
            text = f'{r.query}: rank {tile.rank}, tile {tile.tile_id}, score {tile.score:.4f}'
            colour = _score_colour(tile.score, low, high)
            if tile.footprint:
                folium.Polygon(
                    locations=[[lat, lon] for lon, lat in tile.footprint],
                    color=colour,
                    weight=2,
                    fill=True,
                    fill_opacity=0.15,
                    tooltip=text,
                ).add_to(layer)
            else:
                folium.CircleMarker(
                    [tile.lat, tile.lon], radius=4, color=colour, tooltip=text
                ).add_to(layer)
        estimate = f'{r.query}: estimate {r.lat:.6f}, {r.lon:.6f} +- {r.radius_m:.0f} m' + (
            '' if r.error_m is None else f', error {r.error_m:.0f} m'
        )
        folium.Circle(
            [r.lat, r.lon], radius=float(r.radius_m), color='red', fill=False, tooltip=estimate
        ).add_to(layer)
        folium.CircleMarker(
            [r.lat, r.lon], radius=5, color='red', fill=True, fill_opacity=1, tooltip=estimate
        ).add_to(layer)
        if r.true_lat is not None:
            folium.CircleMarker(
                [r.true_lat, r.true_lon],
                radius=5,
                color='green',
                fill=True,
                fill_opacity=1,
                tooltip=f'{r.query}: truth {r.true_lat:.6f}, {r.true_lon:.6f}',
            ).add_to(layer)
        layer.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    fmap.save(out_file)
    return out_file
