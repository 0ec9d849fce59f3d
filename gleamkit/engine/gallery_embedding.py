"""Embedding a dataset with the current model: one code path for the evaluation gallery
(:class:`~gleamkit.engine.loops.RetrievalValLoop`) and for hard-negative mining
(:class:`~gleamkit.engine.hooks.HardNegativeMiningHook`)."""

import contextlib
from typing import Callable, Iterator, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import broadcast_object_list, collect_results, get_dist_info
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar

SIDES = ('query', 'reference')


def _is_fsdp(model) -> bool:
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel
    except ImportError:  # torch built without distributed support
        return False
    return isinstance(model, FullyShardedDataParallel)


def unwrap(runner_model, collective: bool = True) -> Tuple[torch.nn.Module, Callable]:
    """The bare model and the callable that embeds with it.

    FSDP shards the parameters: only its wrapper's forward gathers them, and that
    gather is a collective, so every rank must call it equally often (``collective``:
    a padded ``DefaultSampler`` shard). DDP and a bare model are called directly (DDP's
    forward would sync buffers).

    Args:
        runner_model (nn.Module): ``runner.model``, wrapped or not.
        collective (bool): every rank embeds the same number of batches. Defaults to True.

    Returns:
        tuple: ``(model, forward)``.
    """
    model = runner_model.module if is_model_wrapper(runner_model) else runner_model
    forward = runner_model if collective and _is_fsdp(runner_model) else model
    return model, forward


def iter_embeddings(
    model,
    loader,
    side: str,
    forward: Optional[Callable] = None,
    autocast=None,
    default_reference_view: Optional[str] = None,
    owner: str = 'embedding',
) -> Iterator[Tuple[torch.Tensor, list]]:
    """Embed ``side`` (``'query'`` or ``'reference'``) of every batch of ``loader``.

    The other side's images, if the dataset yields them, are dropped before the
    data preprocessor (they would be embedded for nothing). The caller puts the model in
    eval mode and under ``torch.no_grad``.

    Args:
        model (nn.Module): the bare model (its ``data_preprocessor`` is used).
        loader (Iterable): yields collated batches.
        side (str): ``'query'`` or ``'reference'``.
        forward (callable, optional): what embeds (see :func:`unwrap`). Defaults to ``model``.
        autocast (callable, optional): returns a context manager to embed under.
        default_reference_view (str, optional): the view of a reference whose sample
            names none (the dataset's ``metainfo['reference_view']``).
        owner (str): named in errors. Defaults to ``'embedding'``.

    Yields:
        tuple: ``(embeddings, data_samples)`` of each batch, ``(B, D)`` on the model's device.
    """
    if side not in SIDES:
        raise ValueError(f'{owner}: side={side!r}, expected one of {SIDES}')
    forward = model if forward is None else forward
    other = 'query' if side == 'reference' else 'reference'
    for data in loader:
        if isinstance(data.get('inputs'), dict):
            data['inputs'] = {k: v for k, v in data['inputs'].items() if k != other}
        if side == 'reference' and default_reference_view is not None:
            for sample in data.get('data_samples') or []:
                if 'reference_view' not in sample.metainfo:
                    sample.set_metainfo(dict(reference_view=default_reference_view))
        data = model.data_preprocessor(data, False)
        with autocast() if autocast is not None else contextlib.nullcontext():
            emb = forward(**data, mode='tensor')[side]
        if emb is None:
            raise ValueError(
                f'{owner}: the model returned no {side!r} embeddings; the '
                f'dataset must yield {side} images'
            )
        yield emb, data.get('data_samples')


@torch.no_grad()
def embed_gallery(runner_model, loader, progress: bool = True, owner: str = 'gallery') -> dict:
    """Embed a gallery dataloader in dataset order, every item once, on every rank.

    Under distributed evaluation each rank embeds its shard (the loader's
    ``DefaultSampler`` without shuffling) and the shards are gathered in dataset order
    (``collect_results`` drops the sampler's padding) and broadcast, so every rank gets
    the same gallery as one process would.

    Args:
        runner_model (nn.Module): ``runner.model``, wrapped (DDP, FSDP) or not.
        loader (DataLoader): the gallery dataloader (``mode='gallery'`` datasets).
        progress (bool): a progress bar on rank 0. Defaults to True.
        owner (str): named in errors. Defaults to ``'gallery'``.

    Returns:
        dict: the keyword arguments of ``set_gallery``: ``embeddings`` ``(M, D)`` float
        CPU tensor, ``location_ids``, ``lat`` / ``lon`` (arrays or None) and ``paths``.
    """
    if getattr(loader.sampler, 'shuffle', False):
        raise ValueError(
            f'{owner}: the gallery dataloader must not shuffle (use '
            "sampler=dict(type='DefaultSampler', shuffle=False)): gathered "
            'shards are put back in dataset order'
        )
    model, forward = unwrap(runner_model)
    dataset = loader.dataset
    metainfo = getattr(dataset, 'metainfo', None) or {}
    rank, _ = get_dist_info()
    was_training = model.training
    model.eval()
    bar = ProgressBar(len(loader)) if progress and rank == 0 else None
    results = []
    try:
        for emb, samples in iter_embeddings(
            model,
            loader,
            'reference',
            forward,
            default_reference_view=metainfo.get('reference_view'),
            owner=owner,
        ):
            for sample, vec in zip(samples, emb.float().cpu()):
                results.append((vec, sample.metainfo))
            if bar is not None:
                bar.update()
    finally:
        if was_training:
            model.train()
    if bar is not None:
        print(flush=True)
    results = collect_results(results, len(dataset), device='cpu')
    payload = [results]
    broadcast_object_list(payload, src=0)
    results = payload[0]
    metas = [meta for _, meta in results]
    lat = lon = None
    if all('lat' in m for m in metas):
        lat = np.array([m['lat'] for m in metas])
        lon = np.array([m['lon'] for m in metas])
    return dict(
        embeddings=torch.stack([vec for vec, _ in results]),
        location_ids=[m['location_id'] for m in metas],
        lat=lat,
        lon=lon,
        paths=[m.get('reference_path') for m in metas],
    )
