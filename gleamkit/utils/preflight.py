"""Checks before a run starts: every dataset it will read, and dataloader settings that
must agree, so a mistake stops the run at once - not after an epoch, and not as a model
hub download error (tools/train.py and tools/test.py run them before building the model).

* :func:`follow_worker_count`: ``num_workers=0`` drops ``persistent_workers`` and
  ``prefetch_factor``, which torch refuses without workers (a child config that sets
  ``num_workers=0`` under a base with ``persistent_workers=True``).
* :func:`check_batch_sizes`: a batch sampler's ``batch_size`` equals its dataloader's.
* :func:`check_datasets`: builds each dataset the run needs (training, validation, test,
  the queries and galleries of every protocol of the evaluation loops -
  ``val_cfg.gallery_dataloader``, ``val_cfg.protocols.1.dataloader``, ... - and the
  dataloaders of hooks), naming the config key and ``data_root`` when one fails.
"""

import copy
import logging
from typing import Iterator, List, Tuple

from mmengine.logging import print_log

LOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# torch.utils.data.DataLoader arguments that need worker processes
WORKER_ONLY_KEYS = ('persistent_workers', 'prefetch_factor')


def _hook_loaders(cfg) -> Iterator[Tuple[str, dict]]:
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(hook, dict) and isinstance(hook.get('dataloader'), dict):
            yield f'custom_hooks.{i}.dataloader', hook['dataloader']


def loop_loaders(cfg, stage: str) -> Iterator[Tuple[str, dict]]:
    """The dataloaders ``{stage}_cfg`` (``'val'`` or ``'test'``) holds besides the runner's
    ``{stage}_dataloader``: the gallery of a single-protocol ``RetrievalValLoop``
    (``val_cfg.gallery_dataloader``) or the queries and galleries of its protocols
    (``val_cfg.protocols.1.dataloader``, ``val_cfg.protocols.1.gallery_dataloader``)."""
    loop = cfg.get(f'{stage}_cfg')
    if not isinstance(loop, dict):
        return
    if isinstance(loop.get('gallery_dataloader'), dict):
        yield f'{stage}_cfg.gallery_dataloader', loop['gallery_dataloader']
    for i, protocol in enumerate(loop.get('protocols') or []):
        if not isinstance(protocol, dict):
            continue
        for key in ('dataloader', 'gallery_dataloader'):
            if isinstance(protocol.get(key), dict):
                yield f'{stage}_cfg.protocols.{i}.{key}', protocol[key]


def all_dataloaders(cfg) -> List[Tuple[str, dict]]:
    """Every dataloader config in ``cfg``, with its key (``val_cfg.gallery_dataloader``)."""
    found = [(key, cfg[key]) for key in LOADER_KEYS if isinstance(cfg.get(key), dict)]
    found += list(loop_loaders(cfg, 'val')) + list(loop_loaders(cfg, 'test'))
    return found + list(_hook_loaders(cfg))


def run_dataloaders(cfg, mode: str) -> List[Tuple[str, dict]]:
    """The dataloaders a run in ``mode`` (``'train'`` or ``'test'``) reads: training and
    validation (when ``val_cfg`` is set) or test, with their loop's protocols (queries and
    galleries), plus the hooks' dataloaders."""
    if mode == 'train':
        keys = ['train_dataloader']
        evaluates = cfg.get('val_cfg') is not None and cfg.get('val_dataloader') is not None
        if evaluates:
            keys.append('val_dataloader')
        stage = 'val'
    else:
        keys, evaluates, stage = ['test_dataloader'], True, 'test'
    found = [(key, cfg[key]) for key in keys if isinstance(cfg.get(key), dict)]
    if evaluates:
        found += list(loop_loaders(cfg, stage))
    return found + list(_hook_loaders(cfg))


def follow_worker_count(cfg) -> None:
    """Drop ``persistent_workers`` / ``prefetch_factor`` from dataloaders with
    ``num_workers=0`` (torch raises ``ValueError`` for them), with a debug log line."""
    for key, loader in all_dataloaders(cfg):
        if loader.get('num_workers', 0) == 0:
            dropped = [k for k in WORKER_ONLY_KEYS if loader.pop(k, None) is not None]
            if dropped:
                print_log(
                    f'{key}: num_workers=0, so {" and ".join(dropped)} dropped',
                    logger='current',
                    level=logging.DEBUG,
                )


def check_batch_sizes(cfg) -> None:
    """A sampler that forms batches (``UniqueLocationSampler``, ``ViewBalancedSampler``,
    ...) must have its dataloader's ``batch_size``: else each batch straddles two of the
    sampler's groups and the places in a batch repeat."""
    for key, loader in all_dataloaders(cfg):
        sampler = loader.get('sampler')
        if not isinstance(sampler, dict) or 'batch_size' not in sampler:
            continue
        if sampler['batch_size'] != loader.get('batch_size', 1):
            raise ValueError(
                f'{key}.batch_size={loader.get("batch_size", 1)} but '
                f'{key}.sampler.batch_size={sampler["batch_size"]}: they must be equal. Set '
                f'both, or the top-level batch_size (both follow it): '
                f'--cfg-options batch_size=N'
            )


def _dataset_name(dataset_cfg) -> str:
    kind = dataset_cfg.get('type')
    return getattr(kind, '__name__', str(kind))


def _describe(key: str, dataset_cfg) -> str:
    text = f'{key}.dataset ({_dataset_name(dataset_cfg)}'
    if 'data_root' in dataset_cfg:
        text += f', data_root={dataset_cfg["data_root"]!r}'
    elif isinstance(dataset_cfg.get('datasets'), list):
        roots = [d.get('data_root') for d in dataset_cfg['datasets'] if isinstance(d, dict)]
        text += f', data_roots={roots!r}'
    return text + ')'


def check_datasets(cfg, mode: str = 'train') -> None:
    """Build every dataset a run in ``mode`` reads (each distinct config once), so a
    wrong ``data_root`` or a missing split file stops the run before the first step.

    Args:
        cfg (Config): the prepared config.
        mode (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.

    Raises:
        The dataset's own error type (``FileNotFoundError``, ``ValueError``, ...; else
        ``RuntimeError``), its message led by the config key and ``data_root``.
    """
    from gleamkit.registry import DATASETS

    built = set()
    for key, loader in run_dataloaders(cfg, mode):
        dataset_cfg = loader.get('dataset')
        if not isinstance(dataset_cfg, dict):
            continue
        text = repr(dataset_cfg)
        if text in built:
            continue
        try:
            dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
        except Exception as e:
            message = f'{_describe(key, dataset_cfg)} cannot be loaded: {e}'
            try:
                error = type(e)(message)
            except Exception:
                error = RuntimeError(message)
            raise error from e
        built.add(text)
        print_log(
            f'{key}.dataset: {_dataset_name(dataset_cfg)}, {len(dataset)} samples',
            logger='current',
            level=logging.INFO,
        )
        del dataset


def check_before_run(cfg, mode: str = 'train') -> None:
    """:func:`follow_worker_count`, :func:`check_batch_sizes` and :func:`check_datasets`.

    A top-level ``check_datasets = False`` in the config skips building the datasets.

    Args:
        cfg (Config): the prepared config; edited in place (worker options).
        mode (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
    """
    follow_worker_count(cfg)
    check_batch_sizes(cfg)
    if cfg.get('check_datasets', True) is not False:
        check_datasets(cfg, mode)
