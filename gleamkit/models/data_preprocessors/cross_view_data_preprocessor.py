"""Batches (query, satellite) images per view, on the model's device."""
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from gleamkit.registry import MODELS


@MODELS.register_module()
class CrossViewDataPreprocessor(BaseDataPreprocessor):
    """Moves images to the device, normalises them and groups queries by view.

    mmpretrain's ``ClsDataPreprocessor`` stacks one list of same-sized images; a
    cross-view batch holds two images per sample (query + satellite) and the
    queries of one batch may come from several views of different sizes
    (a 1:2 panorama next to a square drone image). So queries are stacked per
    view; the retriever runs the shared encoder once per view group.

    Input (from ``pseudo_collate``): ``{'query': [CHW uint8 ...], 'reference':
    [CHW uint8 ...]}`` (either key may be absent) and the data samples, whose
    ``view`` says which view each query is.

    Output ``inputs``: ``{'query': {view: (indices LongTensor, BxCxHxW float)},
    'reference': BxCxHxW float, 'batch_size': B}``.

    Config keys:
        mean, std (3 floats): RGB normalisation on the 0-255 scale (ImageNet by
            default; use the backbone's ``pretrained_cfg`` values x 255).
        view_mean_std (dict, optional): ``{view: (mean, std)}`` overrides.
    """

    def __init__(self, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 view_mean_std: Optional[Dict[str, tuple]] = None,
                 non_blocking: bool = False):
        super().__init__(non_blocking=non_blocking)
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)
        self.view_mean_std = {
            view: (torch.tensor(m, dtype=torch.float32).view(-1, 1, 1),
                   torch.tensor(s, dtype=torch.float32).view(-1, 1, 1))
            for view, (m, s) in (view_mean_std or {}).items()
        }

    def normalize(self, batch: torch.Tensor, view: Optional[str] = None) -> torch.Tensor:
        mean, std = self.mean, self.std
        if view in self.view_mean_std:
            mean, std = (t.to(batch.device) for t in self.view_mean_std[view])
        return (batch.float() - mean) / std

    @staticmethod
    def _stack(images, what):
        shapes = {tuple(img.shape) for img in images}
        if len(shapes) != 1:
            raise ValueError(f'{what} images of one batch must share a size, got {sorted(shapes)};'
                             ' resize them in the dataset pipeline.')
        return torch.stack(list(images))

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        samples = data.get('data_samples')
        if not isinstance(inputs, dict):
            raise TypeError('CrossViewDataPreprocessor expects inputs as a dict with "query" '
                            'and/or "reference" image lists (use PackCrossViewInputs), got '
                            f'{type(inputs).__name__}')
        out = {}
        batch_size = None
        if inputs.get('reference') is not None:
            reference = self._stack(inputs['reference'], 'reference (satellite)')
            out['reference'] = self.normalize(reference, 'satellite')
            batch_size = reference.shape[0]
        if inputs.get('query') is not None:
            queries = inputs['query']
            if samples is None or len(samples) != len(queries):
                raise ValueError('each query image needs a data sample carrying its `view`')
            groups = {}
            for i, sample in enumerate(samples):
                groups.setdefault(sample.view, []).append(i)
            out['query'] = {
                view: (torch.tensor(idx, dtype=torch.long, device=queries[0].device),
                       self.normalize(self._stack([queries[i] for i in idx], f'{view!r} query'),
                                      view))
                for view, idx in groups.items()
            }
            batch_size = len(queries)
        out['batch_size'] = batch_size
        return dict(inputs=out, data_samples=samples)
