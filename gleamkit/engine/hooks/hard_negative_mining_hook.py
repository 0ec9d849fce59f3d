"""Re-mine hard negatives from embedding similarity every few epochs (Sample4Geo)."""

import contextlib
import time
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.dist import all_gather_object, all_reduce, get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, Subset

from gleamkit.engine.gallery_embedding import iter_embeddings, unwrap
from gleamkit.registry import HOOKS

SIMILARITIES = ('cross', 'reference', 'query')


@HOOKS.register_module()
class HardNegativeMiningHook(Hook):
    """Embeds the training places with the current model and hands each place's
    most similar other places to the sampler (``sampler.set_neighbours``).

    Runs before the train epochs ``start_epoch``, ``start_epoch + interval``, ...
    (0-based; also before the first epoch at or after ``start_epoch`` of a resumed
    run, whose sampler has lost its table). The sampler of the training
    dataloader (``runner.train_loop.dataloader.sampler``) must have
    ``set_neighbours``, e.g. :class:`~gleamkit.datasets.SimilarityNeighbourSampler`,
    which batches those places together from then on; before the first mining it
    falls back to GPS neighbours (Sample4Geo's first epochs) or random batches.

    Similarity of two places (``similarity``):

    * ``'cross'`` (Sample4Geo's ``calc_sim``): how much place A's query images,
      of every view, look like place B's satellite tile - the confusions of
      query -> satellite retrieval. Embeds every query once and each tile once.
    * ``'reference'``: satellite tile against satellite tile (each tile once).
    * ``'query'``: place A's queries against place B's queries.

    With several images per place (views, image sets) a place's embedding is the
    mean of its images' embeddings, so a score is the mean cosine similarity over
    the image pairs. A place is never its own neighbour.

    Distributed: each rank embeds a disjoint share of the items (every item once,
    no padding), the per-place sums are all-reduced, each rank searches a slice of
    the places (faiss :class:`~gleamkit.evaluation.ExactSearcher`) and the slices
    are all-gathered, so every rank hands its sampler the same table.

    Args:
        interval (int): epochs between minings (Sample4Geo: 4). Defaults to 4.
        start_epoch (int, optional): first epoch (0-based) trained on a mined
            table (the first ``interval`` epochs use the sampler's fallback, as in
            Sample4Geo). Defaults to None (``interval``).
        similarity (str): ``'cross'``, ``'reference'`` or ``'query'``.
            Defaults to ``'cross'``.
        topk (int, optional): neighbours kept per place. Defaults to None (the
            sampler's ``neighbour_pool``).
        dataloader (dict | DataLoader, optional): a dataloader config whose dataset replaces
            the training set for embedding (e.g. the training pairs with the
            evaluation pipeline: no augmentation); its ``batch_size``,
            ``num_workers`` and ``collate_fn`` are used, its sampler is not.
            Defaults to None (the training dataloader's dataset and collate
            function).
        batch_size (int, optional): overrides the dataloader's. Defaults to None.
        num_workers (int, optional): overrides the dataloader's. Defaults to None.
        search_device (str): ``'auto'`` (the model's GPU when faiss has GPU
            support, else CPU), ``'cpu'`` or ``'cuda'``. Defaults to ``'auto'``.
        amp (bool): embed under ``torch.autocast`` (float16 on CUDA).
            Defaults to False.
        progress (bool): show a progress bar on rank 0. Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(
        self,
        interval: int = 4,
        start_epoch: Optional[int] = None,
        similarity: str = 'cross',
        topk: Optional[int] = None,
        dataloader: Optional[Union[dict, DataLoader]] = None,
        batch_size: Optional[int] = None,
        num_workers: Optional[int] = None,
        search_device: str = 'auto',
        amp: bool = False,
        progress: bool = True,
    ):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(
                f'HardNegativeMiningHook: interval must be a positive int, got {interval!r}'
            )
        if start_epoch is not None and (not isinstance(start_epoch, int) or start_epoch < 0):
            raise ValueError(
                f'HardNegativeMiningHook: start_epoch must be an int >= 0, got {start_epoch!r}'
            )
        if similarity not in SIMILARITIES:
            raise ValueError(
                f'HardNegativeMiningHook: similarity={similarity!r}, expected one of {SIMILARITIES}'
            )
        if topk is not None and (not isinstance(topk, int) or topk < 1):
            raise ValueError(f'HardNegativeMiningHook: topk must be a positive int, got {topk!r}')
        self.interval = interval
        self.start_epoch = interval if start_epoch is None else start_epoch
        self.similarity = similarity
        self.topk = topk
        self.dataloader_cfg = dataloader
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.search_device = search_device
        self.amp = amp
        self.progress = progress
        self._dataloader = None
        self.last_mined_epoch: Optional[int] = None
        #: the last table, in the sampler's place order: (num_places, topk) and scores
        self.table: Optional[np.ndarray] = None
        self.scores: Optional[np.ndarray] = None

    # ------------------------------------------------------------------ schedule
    def is_due(self, epoch: int) -> bool:
        if epoch < self.start_epoch:
            return False
        if self.last_mined_epoch is None:  # first mining of this run (or of a resumed run)
            return True
        return (epoch - self.start_epoch) % self.interval == 0

    def before_train(self, runner) -> None:
        self._sampler(runner)  # fail before the first epoch, not after it

    def before_train_epoch(self, runner) -> None:
        if self.is_due(runner.epoch):
            self.mine(runner)

    # -------------------------------------------------------------------- mining
    @staticmethod
    def _sampler(runner):
        sampler = runner.train_loop.dataloader.sampler
        if not hasattr(sampler, 'set_neighbours'):
            raise TypeError(
                f'HardNegativeMiningHook: the training sampler is {type(sampler).__name__}, '
                'which cannot take a neighbour table; use '
                "train_dataloader['sampler'] = dict(type=SimilarityNeighbourSampler, ...)"
            )
        return sampler

    def _source(self, runner, sampler) -> Tuple[object, object, int, int]:
        train_loader = runner.train_loop.dataloader
        if self.dataloader_cfg is None:
            loader = train_loader
        elif isinstance(self.dataloader_cfg, DataLoader):
            loader = self.dataloader_cfg
        else:
            if self._dataloader is None:
                cfg = dict(self.dataloader_cfg)
                cfg.setdefault('sampler', dict(type='DefaultSampler', shuffle=False))
                self._dataloader = runner.build_dataloader(cfg, seed=runner.seed)
            loader = self._dataloader
        batch_size = self.batch_size or loader.batch_size or train_loader.batch_size
        num_workers = loader.num_workers if self.num_workers is None else self.num_workers
        return loader.dataset, loader.collate_fn, batch_size, num_workers

    @torch.no_grad()
    def mine(self, runner):
        """Embed, search, hand the table to the sampler; returns a ``NeighbourTable``."""
        from gleamkit.datasets.samplers import NeighbourTable, dataset_field

        start = time.perf_counter()
        sampler = self._sampler(runner)
        dataset, collate_fn, batch_size, num_workers = self._source(runner, sampler)
        key = getattr(sampler, 'location_key', 'location_id')
        if dataset is sampler.dataset:
            place_of, first = sampler.place_of_sample, sampler.place_first_index
            raw = dataset.get_field(key) if hasattr(dataset, 'get_field') else None
            location_ids = (
                [raw[i] for i in first]
                if raw is not None
                else [dataset.get_data_info(int(i))[key] for i in first]
            )
        else:
            raw = dataset_field(dataset, key)
            index, place_of, first = {}, np.empty(len(raw), dtype=np.int64), []
            for i, loc in enumerate(raw):
                if loc not in index:
                    index[loc] = len(first)
                    first.append(i)
                place_of[i] = index[loc]
            first = np.asarray(first, dtype=np.int64)
            location_ids = [raw[i] for i in first]
        num_places = len(first)
        topk = min(self.topk or getattr(sampler, 'neighbour_pool', 64), num_places - 1)
        if topk < 1:
            raise ValueError(
                'HardNegativeMiningHook: the training set has fewer than two '
                'places; there is nothing to mine'
            )

        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        was_training = model.training
        model.eval()
        plan = []  # (side, dataset indices): each tile once, each query once
        if self.similarity in ('cross', 'reference'):
            plan.append(('reference', first))
        if self.similarity in ('cross', 'query'):
            plan.append(('query', np.arange(len(place_of))))
        rank, world = get_dist_info()
        loaders = [
            (
                side,
                indices[rank::world],
                DataLoader(
                    Subset(dataset, indices[rank::world].tolist()),
                    batch_size=batch_size,
                    shuffle=False,
                    num_workers=num_workers,
                    collate_fn=collate_fn,
                ),
            )
            for side, indices in plan
        ]
        bar = None
        if self.progress and rank == 0:
            bar = ProgressBar(sum(len(loader) for _, _, loader in loaders))
        try:
            means = {
                side: self._embed(model, loader, indices, place_of, num_places, side, bar)
                for side, indices, loader in loaders
            }
        finally:
            if was_training:
                model.train()
        if bar is not None:
            print(flush=True)
        embedded = time.perf_counter()

        gallery = means['reference' if self.similarity != 'query' else 'query']
        queries = means['query' if self.similarity != 'reference' else 'reference']
        table, scores = self._search(queries, gallery, topk, model)
        if dataset is sampler.dataset:
            sampler.set_neighbours(table, scores, source=f'similarity ({self.similarity})')
        else:
            sampler.set_neighbours(
                NeighbourTable(location_ids, table, scores),
                source=f'similarity ({self.similarity})',
            )
        self.table, self.scores = sampler.neighbour_table, sampler.neighbour_scores
        self.last_mined_epoch = runner.epoch
        end = time.perf_counter()
        valid = table >= 0
        runner.logger.info(
            f'HardNegativeMiningHook: epoch {runner.epoch}: top-{topk} {self.similarity} '
            f'neighbours of {num_places} places in {end - start:.1f} s (embedding '
            f'{embedded - start:.1f} s, search {end - embedded:.1f} s); mean neighbour '
            f'similarity {scores[valid].mean():.4f} (top-1 {scores[:, 0].mean():.4f})'
        )
        return NeighbourTable(location_ids, table, scores)

    def _embed(self, model, loader, indices, place_of, num_places, side, bar) -> torch.Tensor:
        """Mean embedding of each place over this side's items, summed over ranks."""
        sums, counts, pos = None, torch.zeros(num_places, dtype=torch.float64), 0
        # the shares differ in length across ranks: no collective forward (see unwrap)
        _, forward = unwrap(model, collective=False)
        for emb, _ in iter_embeddings(
            model,
            loader,
            side,
            forward,
            autocast=lambda: self._autocast(model),
            owner='HardNegativeMiningHook',
        ):
            places = torch.from_numpy(np.asarray(place_of[indices[pos : pos + len(emb)]]))
            pos += len(emb)
            emb = emb.detach().double().cpu()
            if sums is None:
                sums = torch.zeros(num_places, emb.shape[1], dtype=torch.float64)
            sums.index_add_(0, places, emb)
            counts.index_add_(0, places, torch.ones(len(places), dtype=torch.float64))
            if bar is not None:
                bar.update()
        # a rank whose share is empty still joins the reductions
        dim = max(all_gather_object(0 if sums is None else sums.shape[1]))
        if sums is None:
            sums = torch.zeros(num_places, dim, dtype=torch.float64)
        all_reduce(sums)
        all_reduce(counts)
        if bool((counts == 0).any()):
            missing = int((counts == 0).sum())
            raise RuntimeError(f'HardNegativeMiningHook: {missing} places got no {side} embedding')
        return (sums / counts[:, None]).float()

    def _autocast(self, model):
        if not self.amp:
            return contextlib.nullcontext()
        device = next(model.parameters()).device.type
        dtype = torch.float16 if device == 'cuda' else torch.bfloat16
        return torch.autocast(device_type=device, dtype=dtype)

    def _search_device(self, model) -> str:
        if self.search_device != 'auto':
            return self.search_device
        try:
            import faiss

            has_gpu = faiss.get_num_gpus() > 0
        except (ImportError, AttributeError):
            has_gpu = False
        param = next(model.parameters(), None)
        on_cuda = param is not None and param.device.type == 'cuda'
        return str(param.device) if has_gpu and on_cuda else 'cpu'

    def _search(
        self, queries: torch.Tensor, gallery: torch.Tensor, topk: int, model
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Top-k other places of every place: each rank a slice, gathered in order."""
        from gleamkit.evaluation.search import ExactSearcher

        rank, world = get_dist_info()
        rows = np.array_split(np.arange(len(queries)), world)[rank]
        searcher = ExactSearcher(device=self._search_device(model)).add(gallery.numpy())
        scores, found = searcher.search(queries.numpy()[rows], k=topk + 1)
        # the place itself out (a tie may push it past topk + 1: then the last goes)
        own = found == rows[:, None]
        own[~own.any(1), -1] = True
        keep = np.argsort(own, axis=1, kind='stable')[:, :topk]
        parts: List = all_gather_object(
            (np.take_along_axis(found, keep, 1), np.take_along_axis(scores, keep, 1))
        )
        table = np.concatenate([p[0] for p in parts]).astype(np.int64)
        return table, np.concatenate([p[1] for p in parts]).astype(np.float64)
