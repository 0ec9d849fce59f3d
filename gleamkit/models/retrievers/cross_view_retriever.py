"""GLEAM-C: one shared encoder for every view, aligned to satellite tiles."""

from typing import Dict, List, Optional, Union

import numpy as np
import torch
from mmengine.model import BaseModel

from gleamkit.registry import ADAPTERS, BACKBONES, LOSSES, MODELS


@MODELS.register_module()
class CrossViewRetriever(BaseModel):
    """Cross-view retrieval model (GLEAM-C).

    Every image - query of any view or satellite reference - goes through the same
    ``backbone``; a modality ``adapter`` may treat each view's features
    differently; the ``head`` pools, projects and L2-normalises them. Training
    pulls each query towards its satellite tile with a contrastive ``loss``.

    Modes of ``forward`` (mmengine's convention):
        ``'tensor'``: ``{'query': (B, D) or None, 'reference': (B, D) or None}``.
        ``'loss'``: ``{'loss': ..., 'logit_scale': ...}`` from paired batches.
        ``'predict'``: the data samples with the ranking of the gallery set by
        :meth:`set_gallery` (``pred_ranked_ids``, ``pred_scores`` of the top
        ``keep_topk``, ``pred_lat``/``pred_lon`` of the top-1 tile, ``embedding``).

    Args:
        backbone (dict): a ``BACKBONES`` config, e.g. ``dict(type='TimmBackbone',
            model_name='resnet18')``.
        head (dict): a ``MODELS`` config, e.g. ``dict(type='EmbeddingHead',
            embed_dim=512)``; ``in_channels`` is taken from the backbone.
        adapter (dict, optional): an ``ADAPTERS`` config; ``channels`` taken from
            the backbone. Defaults to None (no adapter).
        loss (dict, optional): a ``LOSSES`` config. Defaults to None
            (``SymmetricInfoNCELoss``).
        data_preprocessor (dict, optional): the data preprocessor config.
            Defaults to None (``CrossViewDataPreprocessor``).
        keep_topk (int): how many top scores to keep on each predicted sample.
            Defaults to 10.
        search_device (str): ``'auto'`` (the model's device) or ``'cpu'`` for the
            faiss index of the gallery. Defaults to ``'auto'``.
        grad_cache_chunk (int, optional): embed training batches in chunks of this
            many pairs with gradient caching (large contrastive batches in small
            memory; see :mod:`gleamkit.models.retrievers.grad_cache`). Under DDP
            use ``model_wrapper_cfg=dict(type='CrossViewDistributedDataParallel')``.
            Defaults to None (one pass).
        set_aggregation (str): how the members of an image-set query (e.g. the
            ground photos of one cell) make one embedding: ``'mean'`` or ``'max'``
            of the member embeddings, re-normalised. Defaults to ``'mean'``.
        init_cfg (dict, optional): mmengine's initialisation config. Defaults to
            None.
    """

    def __init__(
        self,
        backbone: dict,
        head: dict,
        adapter: Optional[dict] = None,
        loss: Optional[dict] = None,
        data_preprocessor: Optional[dict] = None,
        keep_topk: int = 10,
        search_device: str = 'auto',
        grad_cache_chunk: Optional[int] = None,
        set_aggregation: str = 'mean',
        init_cfg: Optional[dict] = None,
    ):
        if data_preprocessor is None:
            data_preprocessor = dict(type='CrossViewDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = BACKBONES.build(backbone)
        channels = self.backbone.out_channels
        adapter = dict(adapter or dict(type='IdentityAdapter'))
        adapter.setdefault('channels', channels)
        self.adapter = ADAPTERS.build(adapter)
        head = dict(head)
        head.setdefault('in_channels', channels)
        self.head = MODELS.build(head)
        self.loss_module = LOSSES.build(loss or dict(type='SymmetricInfoNCELoss'))
        if set_aggregation not in ('mean', 'max'):
            raise ValueError(f"set_aggregation={set_aggregation!r}, expected 'mean' or 'max'")
        self.set_aggregation = set_aggregation
        self.keep_topk = keep_topk
        self.search_device = search_device
        self.gallery: Optional[dict] = None
        self._searcher = None
        if grad_cache_chunk is not None and grad_cache_chunk < 1:
            raise ValueError(f'grad_cache_chunk must be a positive int, got {grad_cache_chunk}')
        self.grad_cache_chunk = grad_cache_chunk

    def train_step(self, data, optim_wrapper) -> dict:
        if not self.grad_cache_chunk:
            return super().train_step(data, optim_wrapper)
        from .grad_cache import grad_cache_train_step

        return grad_cache_train_step(self, data, optim_wrapper, self.grad_cache_chunk)

    # ------------------------------------------------------------------ embedding
    def embed(self, images: torch.Tensor, view: str) -> torch.Tensor:
        """L2-normalised embeddings of a batch of images that share one view."""
        features = self.backbone(images)[-1]
        return self.head(self.adapter(features, view))

    def embed_groups(self, groups: Dict[str, tuple], batch_size: int) -> torch.Tensor:
        """Embed view groups and put every embedding back in its row; rows with
        several members (image sets) aggregate them (``set_aggregation``)."""
        out = counts = None
        for view, (indices, images) in groups.items():
            emb = self.embed(images, view)
            if out is None:
                out = emb.new_zeros((batch_size, emb.shape[1]))
                counts = emb.new_zeros(batch_size)
                if self.set_aggregation == 'max':
                    out.fill_(float('-inf'))
            if self.set_aggregation == 'max':
                out = out.index_reduce(0, indices, emb, 'amax')
            else:
                out = out.index_add(0, indices, emb)
            counts = counts.index_add(0, indices, torch.ones_like(indices, dtype=emb.dtype))
        if counts is not None and bool((counts > 1).any()):
            if self.set_aggregation == 'mean':
                out = out / counts.clamp(min=1).unsqueeze(1)
            out = torch.nn.functional.normalize(out, dim=1)
        return out

    def extract_feat(self, inputs: dict) -> dict:
        query = reference = None
        if inputs.get('query') is not None:
            query = self.embed_groups(inputs['query'], inputs['batch_size'])
        if inputs.get('reference') is not None:
            reference = self.embed_groups(inputs['reference'], inputs['batch_size'])
        return dict(query=query, reference=reference)

    # --------------------------------------------------------------------- modes
    def forward(
        self, inputs: dict, data_samples: Optional[list] = None, mode: str = 'tensor'
    ) -> Union[dict, list]:
        if mode == 'tensor':
            return self.extract_feat(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode {mode!r}: expected "tensor", "loss" or "predict"')

    def loss(self, inputs: dict, data_samples: Optional[list] = None) -> dict:
        feats = self.extract_feat(inputs)
        if feats['query'] is None or feats['reference'] is None:
            raise ValueError(
                'loss mode needs (query, satellite) pairs: the training dataset '
                'must provide both images (mode="pairs")'
            )
        if hasattr(self.loss_module, 'weights_from_samples') and data_samples is not None:
            # weighted positives (GTA-UAV): per-pair / semi-positive weights from meta
            weights = self.loss_module.weights_from_samples(data_samples)
            loss = self.loss_module(
                feats['query'], feats['reference'], weights.to(feats['query'].device)
            )
        else:
            loss = self.loss_module(feats['query'], feats['reference'])
        out = dict(loss=loss)
        if hasattr(self.loss_module, 'scale'):
            out['logit_scale'] = self.loss_module.scale.detach()
        return out

    # ------------------------------------------------------------------- gallery
    def set_gallery(
        self, embeddings: torch.Tensor, location_ids, lat=None, lon=None, searcher=None, **meta
    ) -> None:
        """Index the reference gallery that ``predict`` ranks.

        Args:
            embeddings: ``(M, D)`` L2-normalised gallery embeddings.
            location_ids: ``M`` ints, the place of each gallery item (-1 = junk).
            lat, lon: optional ``M`` floats, the gallery items' positions.
            searcher: what ranks the gallery, with ``search(queries, k=None)``.
                Defaults to None: an exact search returning the full ranking; a
                :class:`~gleamkit.index.TopKIndexSearcher` keeps the top K only.
            **meta: kept in ``self.gallery`` (e.g. image paths for visualisation).
        """
        from gleamkit.evaluation.search import ExactSearcher

        embeddings = torch.as_tensor(embeddings).float()
        location_ids = np.asarray(location_ids, dtype=np.int64)
        if embeddings.ndim != 2 or embeddings.shape[0] != len(location_ids):
            raise ValueError(
                f'gallery embeddings {tuple(embeddings.shape)} do not match '
                f'{len(location_ids)} location ids'
            )
        device = self.search_device
        if device == 'auto':
            device = next(self.parameters()).device.type
        if searcher is None:
            searcher = ExactSearcher(device=device).add(embeddings.detach().cpu().numpy())
        elif len(searcher) != len(location_ids):
            raise ValueError(f'searcher holds {len(searcher)} items, gallery {len(location_ids)}')
        self._searcher = searcher
        self.gallery = dict(
            embeddings=embeddings.detach().cpu(),
            location_ids=location_ids,
            lat=None if lat is None else np.asarray(lat, dtype=np.float64),
            lon=None if lon is None else np.asarray(lon, dtype=np.float64),
            **meta,
        )

    def predict(self, inputs: dict, data_samples: Optional[list] = None) -> List:
        if self.gallery is None:
            raise RuntimeError(
                'CrossViewRetriever.predict needs a gallery: evaluate with '
                "val_cfg = dict(type='RetrievalValLoop', gallery_dataloader=...) (the configs "
                'in configs/gleam_c do), or call model.set_gallery(embeddings, location_ids).'
            )
        feats = self.extract_feat(inputs)
        query = feats['query'] if feats['query'] is not None else feats['reference']
        scores, indices = self._searcher.search(query.detach().float().cpu().numpy(), k=None)
        # -1: an approximate index found fewer than k; junk for the metric
        ranked_ids = np.where(indices >= 0, self.gallery['location_ids'][indices], -1)
        if data_samples is None:
            from gleamkit.structures import CrossViewDataSample

            data_samples = [CrossViewDataSample() for _ in range(query.shape[0])]
        for i, sample in enumerate(data_samples):
            sample.embedding = query[i].detach().cpu()
            sample.pred_ranked_ids = ranked_ids[i]
            sample.pred_scores = scores[i, : self.keep_topk]
            sample.pred_indices = indices[i, : self.keep_topk]
            if self.gallery['lat'] is not None and indices[i, 0] >= 0:
                top = indices[i, 0]
                sample.pred_lat = float(self.gallery['lat'][top])
                sample.pred_lon = float(self.gallery['lon'][top])
        return data_samples
