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
    ``view`` says which view each query is and ``reference_view`` which view each
    reference is (default ``'satellite'``; ``'uav'`` in a satellite->drone gallery).
    A query may be an image *set* (``S x C x H x W``, e.g. ground photos of one
    cell): its members are flattened and share the sample's row index.

    Output ``inputs``: ``{'query': {view: (row indices, NxCxHxW float)},
    'reference': {view: (row indices, NxCxHxW float)}, 'batch_size': B}``.

    Args:
        mean (Sequence[float]): RGB normalisation means on the 0-255 scale (use
            the backbone's ``pretrained_cfg`` values x 255). Defaults to
            ImageNet's, ``(123.675, 116.28, 103.53)``.
        std (Sequence[float]): RGB normalisation standard deviations on the
            0-255 scale. Defaults to ImageNet's, ``(58.395, 57.12, 57.375)``.
        view_mean_std (dict, optional): ``{view: (mean, std)}`` overrides.
            Defaults to None.
        default_reference_view (str): view of references whose sample does not
            say. The datasets write ``reference_view`` into every sample and the
            evaluation loops fill it from the gallery dataset's ``metainfo``, so this
            is the last resort of hand-made batches. Defaults to ``'satellite'``.
        non_blocking (bool): copy batches to the device asynchronously (with
            pinned memory). Defaults to False.
    """

    def __init__(
        self,
        mean: Sequence[float] = (123.675, 116.28, 103.53),
        std: Sequence[float] = (58.395, 57.12, 57.375),
        view_mean_std: Optional[Dict[str, tuple]] = None,
        default_reference_view: str = 'satellite',
        non_blocking: bool = False,
    ):
        super().__init__(non_blocking=non_blocking)
        self.default_reference_view = default_reference_view
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)
        self.view_mean_std = {
            view: (
                torch.tensor(m, dtype=torch.float32).view(-1, 1, 1),
                torch.tensor(s, dtype=torch.float32).view(-1, 1, 1),
            )
            for view, (m, s) in (view_mean_std or {}).items()
        }

    def normalize(self, batch: torch.Tensor, view: Optional[str] = None) -> torch.Tensor:
        mean, std = self.mean, self.std
        if view in self.view_mean_std:
            mean, std = (t.to(batch.device) for t in self.view_mean_std[view])
        return (batch.float() - mean) / std

    def group_by_view(self, images, views, what: str) -> dict:
        """``{view: (row indices, normalised batch)}``; image sets are flattened."""
        rows = {}
        for i, view in enumerate(views):
            rows.setdefault(view, []).append(i)
        groups = {}
        for view, idx in rows.items():
            members, index = [], []
            for i in idx:
                img = images[i]
                if img.dim() == 4:  # an image set: every member belongs to row i
                    members.extend(img.unbind(0))
                    index.extend([i] * img.shape[0])
                else:
                    members.append(img)
                    index.append(i)
            shapes = {tuple(m.shape) for m in members}
            if len(shapes) != 1:
                raise ValueError(
                    f'{what} images of view {view!r} in one batch must share a '
                    f'size, got {sorted(shapes)}; resize them in the dataset '
                    'pipeline (ResizeViews)'
                )
            batch = torch.stack(members)
            groups[view] = (
                torch.tensor(index, dtype=torch.long, device=batch.device),
                self.normalize(batch, view),
            )
        return groups

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        samples = data.get('data_samples')
        if not isinstance(inputs, dict):
            raise TypeError(
                'CrossViewDataPreprocessor expects inputs as a dict with "query" '
                'and/or "reference" image lists (use PackCrossViewInputs), got '
                f'{type(inputs).__name__}'
            )
        out = {}
        batch_size = None
        for key in ('query', 'reference'):
            images = inputs.get(key)
            if images is None:
                continue
            if samples is None or len(samples) != len(images):
                raise ValueError(f'each {key} image needs a data sample carrying its view')
            if key == 'query':
                views = [s.view for s in samples]
            else:
                views = [
                    s.metainfo.get('reference_view', self.default_reference_view) for s in samples
                ]
            out[key] = self.group_by_view(images, views, key)
            batch_size = len(images)
        out['batch_size'] = batch_size
        return dict(inputs=out, data_samples=samples)
