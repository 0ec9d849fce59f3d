"""Batch-aware samplers for contrastive training: every in-batch item a true negative."""

from collections import deque
from typing import Iterator, List, Optional, Sequence

import numpy as np
from mmengine.dataset import ConcatDataset
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from gleamkit.registry import SAMPLERS


def dataset_field(dataset, key: str) -> list:
    """Read one annotation field of every sample without loading images.

    Works on mmengine ``BaseDataset`` (``get_data_info``), its ``ConcatDataset``
    and ``RepeatDataset``; a dataset may also expose ``get_field(key)``.
    """
    if hasattr(dataset, 'get_field'):
        return list(dataset.get_field(key))
    if isinstance(dataset, ConcatDataset):
        return [v for d in dataset.datasets for v in dataset_field(d, key)]
    if not hasattr(dataset, 'get_data_info'):
        raise TypeError(
            f'{type(dataset).__name__} has no get_data_info(idx); samplers that '
            f'need {key!r} work on mmengine BaseDataset-style datasets'
        )
    values = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if key not in info:
            raise KeyError(
                f'{type(dataset).__name__} sample {i} has no {key!r} in its data '
                f'info (keys: {sorted(info)}); the sampler needs it'
            )
        values.append(info[key])
    return values


class _GlobalBatchSampler(Sampler):
    """Shared machinery: build global batches (all ranks), deal them out per rank."""

    def __init__(
        self,
        dataset,
        batch_size: int,
        seed: Optional[int] = None,
        location_key: str = 'location_id',
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f'{type(self).__name__}: batch_size must be a positive int, got '
                f"{batch_size!r}; set it to the dataloader's batch_size"
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.locations = np.asarray(
            [
                hash(x) if not isinstance(x, (int, np.integer)) else int(x)
                for x in dataset_field(dataset, location_key)
            ]
        )
        self.global_batch = batch_size * self.world_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch])

    def global_batches(self) -> List[List[int]]:
        raise NotImplementedError

    def _deal(self, batch: List[int]) -> List[int]:
        # Position j of a global batch goes to rank j % world: a rank's share keeps
        # the global batch's composition (e.g. its view balance).
        return batch[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        for batch in self.global_batches():
            yield from self._deal(batch)

    def __len__(self) -> int:
        return self.num_batches() * self.batch_size

    def num_batches(self) -> int:
        raise NotImplementedError


def pack_unique(
    order: Sequence[int], locations: np.ndarray, size: int, pending: Optional[deque] = None
) -> List[List[int]]:
    """Greedily pack ``order`` into batches of ``size`` with no repeated location.

    A sample whose location is already in the open batch waits in ``pending`` and
    goes first into a later batch. Samples of the incomplete tail are appended
    to ``pending`` (pass the same deque to a later call to carry them over).
    """
    pending = deque() if pending is None else pending
    batches, current, used = [], [], set()

    def try_add(idx):
        loc = locations[idx]
        if loc in used:
            return False
        current.append(idx)
        used.add(loc)
        return True

    for idx in order:
        if not try_add(idx):
            pending.append(idx)
        if len(current) == size:
            batches.append(current)
            current, used = [], set()
            for _ in range(len(pending)):
                waiting = pending.popleft()
                if not try_add(waiting):
                    pending.append(waiting)
                if len(current) == size:
                    batches.append(current)
                    current, used = [], set()
    pending.extendleft(reversed(current))
    return batches


@SAMPLERS.register_module()
class UniqueLocationSampler(_GlobalBatchSampler):
    """Shuffles so that no batch holds two samples of one location.

    InfoNCE treats every other item in the batch as a negative; two images of the
    same place in one batch would be a false negative. Under distributed
    training the guarantee holds for the *global* batch (what a gathered loss
    sees), and each rank gets an equal share. The order is a pure function of
    ``(seed, epoch)``: call ``set_epoch`` (the Runner does).

    Args:
        dataset: the dataset to sample (filled in by the dataloader).
        batch_size (int): per-rank batch size; must equal the dataloader's.
        seed (int, optional): shared by all ranks. Defaults to None (synced).
        location_key (str): data-info field naming the place. Defaults to
            ``'location_id'``.
    """

    def num_batches(self) -> int:
        # fixed per epoch so that iteration-based schedules see a stable length
        return len(self.locations) // self.global_batch

    def global_batches(self) -> List[List[int]]:
        rng, want = self._rng(), self.num_batches()
        pending = deque()
        batches = pack_unique(
            rng.permutation(len(self.locations)), self.locations, self.global_batch, pending
        )
        # Greedy packing can strand a few samples of the same places at the end;
        # top the last batches up from a fresh shuffle (the only repeats in an epoch).
        for _ in range(8):
            if len(batches) >= want:
                return batches[:want]
            carried = list(pending)
            pending.clear()
            batches += pack_unique(
                carried + rng.permutation(len(self.locations)).tolist(),
                self.locations,
                self.global_batch,
                pending,
            )
            if len(batches) >= want:
                return batches[:want]
        raise RuntimeError(
            f'UniqueLocationSampler: could not form {want} batches of '
            f'{self.global_batch} distinct locations; the dataset has only '
            f'{len(set(self.locations.tolist()))} locations'
        )
