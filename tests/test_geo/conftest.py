"""Small georeferenced rasters written by code, with known corners."""

import numpy as np
import pytest


@pytest.fixture
def write_raster(tmp_path):
    """``write_raster(name, crs, transform, height, width, count=3, dtype='uint8',
    nodata=None, data=None)`` -> path of a GeoTIFF under ``tmp_path``; the default data
    is a gradient, so a tile's pixels say where it was read from."""
    import rasterio

    def write(
        name,
        crs,
        transform,
        height,
        width,
        count=3,
        dtype='uint8',
        nodata=None,
        data=None,
        **profile,
    ):
        path = str(tmp_path / name)
        if data is None:
            rows, cols = np.mgrid[0:height, 0:width]
            data = np.stack(
                [(rows % 250) + 1, (cols % 250) + 1, (rows // 250 + cols // 250) % 250 + 1][:count]
                + [np.full_like(rows, 7)] * max(0, count - 3)
            )
            data = data.astype(dtype)
        with rasterio.open(
            path,
            'w',
            driver='GTiff',
            height=height,
            width=width,
            count=count,
            dtype=dtype,
            crs=crs,
            transform=transform,
            nodata=nodata,
            **profile,
        ) as dst:
            dst.write(data)
        return path

    return write
