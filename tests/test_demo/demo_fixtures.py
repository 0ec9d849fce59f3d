"""A tiny trained GLEAM-C model, a small gallery of the built-in world and scripted
GLEAM-X explainers, shared by the demo's tests."""

import threading

import numpy as np
import torch
from mmengine.config import Config

TILE_M, STRIDE_M = 160, 80


def tiny_config(embed_dim=32):
    return Config(
        dict(
            model=dict(
                type='CrossViewRetriever',
                backbone=dict(type='TimmBackbone', model_name='resnet10t', pretrained=False),
                adapter=dict(type='ViewSpecificNorm'),
                head=dict(type='EmbeddingHead', embed_dim=embed_dim),
            ),
            world=dict(image_size=32),
        )
    )


def build_demo_gallery(root, num_locations=12, train_steps=30, seed=0):
    """``(config_path, checkpoint, gallery_dir)``: a resnet10t trained for a few steps of
    InfoNCE on UAV/satellite pairs of a miniature world (image_size 32), its gallery cut
    from the world's GeoTIFF. The config is saved to a file as tools/train.py saves one."""
    from gleamkit.apis import GeoLocalizer
    from gleamkit.synthetic import SyntheticWorld
    from gleamkit.synthetic.geotiff import export_geotiff

    world = SyntheticWorld(num_locations=num_locations, num_distractors=0, image_size=32, seed=seed)
    export_geotiff(world, str(root / 'region.tif'))
    cfg = tiny_config()
    config_path = root / 'tiny.py'
    cfg.dump(str(config_path))
    loc = GeoLocalizer(str(config_path), device='cpu', seed=seed)
    model = loc.model.train()
    ids = [p.location_id for p in world.locations]

    pictures = {
        view: [torch.from_numpy(np.array(world.render(i, view))).permute(2, 0, 1) for i in ids]
        for view in ('uav', 'satellite')
    }
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(train_steps):
        with torch.enable_grad():
            q = _embed_grad(loc, pictures['uav'], 'uav', 'query')
            s = _embed_grad(loc, pictures['satellite'], 'satellite', 'reference')
            logits = q @ s.T / 0.1
            target = torch.arange(len(ids))
            loss = (
                torch.nn.functional.cross_entropy(logits, target)
                + torch.nn.functional.cross_entropy(logits.T, target)
            ) / 2
        optim.zero_grad()
        loss.backward()
        optim.step()
    torch.save(dict(state_dict=model.state_dict()), root / 'model.pth')
    trained = GeoLocalizer(str(config_path), root / 'model.pth', device='cpu')
    trained.build_gallery(
        root / 'region.tif',
        root / 'gallery',
        tile_m=TILE_M,
        stride_m=STRIDE_M,
        batch_size=64,
        progress=False,
    )
    return config_path, root / 'model.pth', root / 'gallery', world


def _embed_grad(loc, images, view, key):
    from gleamkit.structures import CrossViewDataSample

    samples = []
    for _ in images:
        sample = CrossViewDataSample()
        sample.set_metainfo(dict(view=view, reference_view=view))
        samples.append(sample)
    data = loc.model.data_preprocessor(dict(inputs={key: images}, data_samples=samples))
    return loc.model.extract_feat(data['inputs'])[key].float()


class ScriptedExplainer:
    """A GLEAM-X stand-in that answers every pair with the same verdict (the demo's page
    logic is under test here, not a VLM)."""

    def __init__(self, p_match=0.81, text='Both show a road crossing. They depict the same area.'):
        self.p_match, self.text, self.calls = p_match, text, []

    def explain_batch(self, pairs, batch_size=8):
        self.calls.append(pairs)
        return [
            dict(
                text=self.text, label=1, p_match=self.p_match, scored_label=int(self.p_match >= 0.5)
            )
            for _ in pairs
        ]


class BlockingExplainer:
    """Its first call hangs until ``release`` is set (a stuck model or endpoint); later
    calls answer at once."""

    def __init__(self):
        self.release, self.calls = threading.Event(), 0

    def explain_batch(self, pairs, batch_size=8):
        self.calls += 1
        if self.calls == 1:
            self.release.wait(60)
        return [dict(text='They depict the same area.', label=1) for _ in pairs]


class GarbageExplainer:
    def __init__(self, reply):
        self.reply = reply

    def explain_batch(self, pairs, batch_size=8):
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply
