"""Embed the satellite gallery once before each validation / test."""
from typing import Optional, Union

import numpy as np
import torch
from mmengine.dist import broadcast_object_list, collect_results, get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar

from gleamkit.registry import HOOKS


def _is_fsdp(model) -> bool:
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel
    except ImportError:  # torch built without distributed support
        return False
    return isinstance(model, FullyShardedDataParallel)


@HOOKS.register_module()
class PrepareGalleryHook(Hook):
    """Embeds the reference gallery and hands it to the model (``set_gallery``).

    Runs before every validation and test epoch, so the gallery always matches
    the current weights and is embedded exactly once per evaluation. Under
    distributed evaluation each rank embeds its shard (``DefaultSampler``) and
    the shards are gathered in dataset order, every tile exactly once.

    Config keys:
        dataloader (dict): an mmengine dataloader config whose dataset yields
            reference images (e.g. ``SyntheticCrossViewDataset(mode='gallery')``).
        progress (bool): show a progress bar on rank 0.
    """

    priority = 'NORMAL'

    def __init__(self, dataloader: Union[dict, torch.utils.data.DataLoader],
                 progress: bool = True):
        self.dataloader_cfg = dataloader
        self.progress = progress
        self._dataloader: Optional[torch.utils.data.DataLoader] = None

    def _get_dataloader(self, runner):
        if self._dataloader is None:
            if isinstance(self.dataloader_cfg, torch.utils.data.DataLoader):
                self._dataloader = self.dataloader_cfg
            else:
                self._dataloader = runner.build_dataloader(self.dataloader_cfg, seed=runner.seed)
            sampler = self._dataloader.sampler
            if getattr(sampler, 'shuffle', False):
                raise ValueError('PrepareGalleryHook: the gallery dataloader must not shuffle '
                                 "(use sampler=dict(type='DefaultSampler', shuffle=False)): "
                                 'gathered shards are put back in dataset order')
        return self._dataloader

    @torch.no_grad()
    def prepare(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        # FSDP shards the parameters: only its wrapper's forward gathers them. DDP and
        # a bare model are called directly (DDP's forward would sync buffers).
        forward = runner.model if _is_fsdp(runner.model) else model
        loader = self._get_dataloader(runner)
        dataset = loader.dataset
        rank, _ = get_dist_info()
        was_training = model.training
        model.eval()
        bar = ProgressBar(len(loader)) if self.progress and rank == 0 else None
        results = []
        for data in loader:
            data = model.data_preprocessor(data, False)
            emb = forward(**data, mode='tensor')['reference']
            if emb is None:
                raise ValueError('PrepareGalleryHook: the gallery dataset yielded no reference '
                                 'images (use mode="gallery")')
            for sample, vec in zip(data['data_samples'], emb.float().cpu()):
                results.append((vec, sample.metainfo))
            if bar is not None:
                bar.update()
        if bar is not None:
            print(flush=True)
        results = collect_results(results, len(dataset), device='cpu')
        payload = [results]
        broadcast_object_list(payload, src=0)
        results = payload[0]
        embeddings = torch.stack([vec for vec, _ in results])
        metas = [meta for _, meta in results]
        lat = lon = None
        if all('lat' in m for m in metas):
            lat = np.array([m['lat'] for m in metas])
            lon = np.array([m['lon'] for m in metas])
        model.set_gallery(embeddings, [m['location_id'] for m in metas], lat=lat, lon=lon,
                          paths=[m.get('reference_path') for m in metas])
        runner.logger.info(f'PrepareGalleryHook: embedded {len(metas)} gallery images '
                           f'({len(set(m["location_id"] for m in metas))} places)')
        if was_training:
            model.train()

    def before_val_epoch(self, runner) -> None:
        self.prepare(runner)

    def before_test_epoch(self, runner) -> None:
        self.prepare(runner)
