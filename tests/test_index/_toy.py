"""Small clustered unit vectors for the index tests (the benchmark's recipe, shrunk)."""

import numpy as np


def clustered(num, dim=32, centres=40, spread=0.5, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    scale = np.linspace(1.0, 0.2, dim, dtype=np.float32)  # anisotropic noise
    x = c[rng.integers(0, centres, num)] + spread * scale * rng.standard_normal((num, dim)).astype(
        np.float32
    ) / np.sqrt(dim / 3)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def perturbed(gallery, num, noise=0.2, seed=1):
    rng = np.random.default_rng(seed)
    src = rng.choice(len(gallery), num, replace=False)
    q = gallery[src] + noise * rng.standard_normal((num, gallery.shape[1])).astype(
        np.float32
    ) / np.sqrt(gallery.shape[1])
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32), src


def metadata(num):
    ids = np.array([f'tile_{i:05d}' for i in range(num)])
    lat = 48.0 + np.arange(num) * 1e-4
    lon = 11.0 + np.arange(num) * 2e-4
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * 5e-5
    footprint = np.stack([lon, lat], axis=1)[:, None, :] + corners[None]
    return {'id': ids, 'lat': lat, 'lon': lon, 'footprint': footprint}
