"""Fixtures of the web demo's tests (helpers live in demo_fixtures.py)."""

import pytest


@pytest.fixture(scope='session')
def demo_gallery(tmp_path_factory):
    """A tiny trained GLEAM-C model and the gallery of its miniature world's GeoTIFF."""
    import torch
    from demo_fixtures import build_demo_gallery

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: threads only wait for each other on 2 busy cores
    try:
        config, checkpoint, gallery, world = build_demo_gallery(tmp_path_factory.mktemp('demo'))
    finally:
        torch.set_num_threads(before)
    return dict(config=config, checkpoint=checkpoint, gallery=gallery, world=world)
