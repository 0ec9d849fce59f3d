"""View-balanced sampling for multi-dataset fusion (GLEAM phase 2)."""

import math
from collections import deque
from typing import List, Optional, Sequence, Union

import numpy as np

from gleamkit.registry import SAMPLERS

from .unique_location_sampler import _GlobalBatchSampler, dataset_field


@SAMPLERS.register_module()
class ViewBalancedSampler(_GlobalBatchSampler):
    """Every global batch holds the views in equal shares, with unique locations.

    GLEAM phase 2 fuses datasets of very different sizes (tens of thousands of
    drone images, a few thousand map tiles); sampling uniformly over samples
    would let the largest view dominate. Here each view has its own shuffled
    stream, re-shuffled when exhausted (small views are oversampled), and each
    global batch takes ``global_batch / num_views`` from every view (the
    remainder rotates between views).

    Args:
        dataset: the dataset to sample (filled in by the dataloader).
        batch_size (int): per-rank batch size; must equal the dataloader's.
        views (Sequence[str], optional): the views to draw. Defaults to None (all).
        epoch_size (str | int): samples per epoch over all ranks: ``'mean'``,
            ``'max'`` or ``'min'`` (``num_views x`` the mean / largest / smallest
            view count) or a number. ``'mean'`` keeps the dataset's length.
            Defaults to ``'mean'``.
        seed (int, optional): as in :class:`UniqueLocationSampler`. Defaults to
            None (synced).
        location_key (str): as in :class:`UniqueLocationSampler`. Defaults to
            ``'location_id'``.
        view_key (str): data-info field naming the view. Defaults to ``'view'``.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        views: Optional[Sequence[str]] = None,
        epoch_size: Union[str, int] = 'mean',
        seed: Optional[int] = None,
        location_key: str = 'location_id',
        view_key: str = 'view',
    ):
        super().__init__(dataset, batch_size, seed, location_key)
        sample_views = np.asarray(dataset_field(dataset, view_key))
        present = sorted(set(sample_views.tolist()))
        self.views = tuple(views) if views is not None else tuple(present)
        missing = [v for v in self.views if v not in present]
        if missing:
            raise ValueError(
                f'ViewBalancedSampler: views {missing} have no samples in the '
                f'dataset (it has {present})'
            )
        self.view_indices = {v: np.flatnonzero(sample_views == v) for v in self.views}
        counts = [len(ix) for ix in self.view_indices.values()]
        if isinstance(epoch_size, int):
            total = epoch_size
        elif epoch_size in ('mean', 'max', 'min'):
            total = int(len(counts) * {'mean': np.mean, 'max': max, 'min': min}[epoch_size](counts))
        else:
            raise ValueError(
                f"ViewBalancedSampler: epoch_size={epoch_size!r}, expected 'mean', "
                "'max', 'min' or an int"
            )
        if total < self.global_batch:
            raise ValueError(
                f'ViewBalancedSampler: epoch_size {total} is smaller than one '
                f'global batch ({self.global_batch})'
            )
        self._num_batches = total // self.global_batch

    def num_batches(self) -> int:
        return self._num_batches

    def global_batches(self) -> List[List[int]]:
        rng = self._rng()
        streams = {v: deque() for v in self.views}
        deferred = {v: deque() for v in self.views}
        n_views = len(self.views)
        base, extra = divmod(self.global_batch, n_views)
        batches = []
        for b in range(self._num_batches):
            used, per_view = set(), {}
            for j, view in enumerate(self.views):
                want = base + (1 if (j - b) % n_views < extra else 0)
                picked, tried = [], 0
                limit = 4 * len(self.view_indices[view]) + want
                while len(picked) < want:
                    if deferred[view] and tried < len(deferred[view]):
                        idx = deferred[view].popleft()
                    else:
                        if not streams[view]:
                            streams[view].extend(rng.permutation(self.view_indices[view]))
                        idx = streams[view].popleft()
                    tried += 1
                    if tried > limit:
                        raise RuntimeError(
                            f'ViewBalancedSampler: cannot find {want} distinct locations of view '
                            f'{view!r} for one batch; lower batch_size'
                        )
                    if self.locations[idx] in used:
                        deferred[view].append(idx)
                        continue
                    used.add(self.locations[idx])
                    picked.append(int(idx))
                per_view[view] = picked
            # interleave views so that dealing by position balances every rank
            batch = [
                per_view[v][i]
                for i in range(math.ceil(self.global_batch / n_views))
                for v in self.views
                if i < len(per_view[v])
            ]
            batches.append(batch)
        return batches
