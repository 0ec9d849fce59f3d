"""What tools/train.py and tools/test.py share: config preparation and runner building."""
import os.path as osp

import torch
from mmengine.config import Config

from gleamkit.utils.custom_imports import import_custom_modules


def resolve_dist_backend(cfg: Config) -> None:
    """``dist_cfg.backend='auto'``: nccl when CUDA is there, gloo on CPU."""
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'auto') == 'auto':
        dist_cfg['backend'] = 'nccl' if torch.cuda.is_available() else 'gloo'


def find_resume_checkpoint(work_dir: str):
    """The checkpoint ``--resume`` continues from, robust to an interrupted save.

    mmengine's ``CheckpointHook`` writes the ``last_checkpoint`` pointer with a
    plain ``open``: a run killed at that moment leaves it empty, and mmengine would
    then silently start from scratch. Use the pointer when it names an existing
    file, else the newest ``epoch_N.pth`` / ``iter_N.pth`` in ``work_dir``.
    """
    import glob
    import re

    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and osp.isfile(named):
            return named
    found = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', osp.basename(path))
        if match:
            found.append((int(match.group(2)), path))
    return max(found)[1] if found else None


def prepare_config(cfg: Config, args, mode: str = 'train') -> Config:
    """Apply command-line arguments (mmengine's tool conventions) to ``cfg``."""
    cfg.launcher = args.launcher
    if getattr(args, 'cfg_options', None):
        cfg.merge_from_dict(args.cfg_options)
    import_custom_modules(cfg, args.config)  # any config style, --cfg-options included
    if getattr(args, 'work_dir', None):
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if mode == 'train':
        if getattr(args, 'load_from', None):
            cfg.load_from = args.load_from
        if args.resume == 'auto':
            cfg.resume, cfg.load_from = True, find_resume_checkpoint(cfg.work_dir)
        elif args.resume is not None:
            cfg.resume, cfg.load_from = True, args.resume
        if args.amp:
            cfg.optim_wrapper.type = 'MixedPrecisionOptimWrapper'
            cfg.optim_wrapper.setdefault('dtype', 'auto')
        if args.no_validate:
            for key in ('val_cfg', 'val_dataloader', 'val_evaluator'):
                cfg[key] = None
    else:
        cfg.load_from = args.load_from
        cfg.resume = False
        # the checkpoint carries every weight: do not fetch hub weights first
        backbone = cfg.get('model', {}).get('backbone', {})
        if args.load_from and isinstance(backbone, dict) and backbone.get('pretrained'):
            backbone['pretrained'] = False
    resolve_dist_backend(cfg)
    return cfg


def init_cpu_distributed(cfg: Config) -> None:
    """Start the process group for ``--launcher pytorch`` on a machine without CUDA.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device``, which fails without a
    GPU; the Runner skips ``init_dist`` when a process group already exists.
    """
    import torch.distributed as dist
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    if dist.is_available() and not dist.is_initialized():
        backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend', 'gloo')
        if backend == 'nccl':
            raise RuntimeError('dist_cfg.backend="nccl" needs CUDA; use "gloo" or "auto" on CPU')
        dist.init_process_group(backend=backend)


def default_model_wrapper(cfg: Config) -> None:
    """DDP wrapper for distributed runs: gleamkit's (gradient-cache aware), and on a
    machine without CUDA no ``device_ids`` (mmengine pins ``[LOCAL_RANK]``, a
    GPU-only argument)."""
    if cfg.get('launcher', 'none') == 'none':
        return
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        # scoped name: the Runner looks wrappers up in mmengine's root registry
        type='gleamkit.CrossViewDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    if not torch.cuda.is_available():
        wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper


def build_runner(cfg: Config):
    """Build the Runner named by ``runner_type`` (default: mmengine's ``Runner``)."""
    from mmengine.runner import Runner

    import gleamkit  # noqa: F401  (safe checkpoint loading, atomic writes)
    from gleamkit.registry import RUNNERS

    init_cpu_distributed(cfg)
    default_model_wrapper(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def _model_for_shapes(model_cfg) -> 'torch.nn.Module':
    """The model of a config, for its state-dict keys and shapes only: built on the
    meta device (no memory, no weights) where its modules allow it."""
    import copy

    from gleamkit.registry import MODELS

    try:
        with torch.device('meta'):
            return MODELS.build(copy.deepcopy(model_cfg))
    except Exception:  # a module that reads real weights while it is built
        return MODELS.build(copy.deepcopy(model_cfg))


def check_checkpoint_keys(runner, strict: bool = True) -> None:
    """Fail before training when ``load_from`` does not fit the model.

    mmengine loads ``load_from`` with ``strict=False`` and only logs mismatched
    keys; a wrong path in a config then trains from random weights unnoticed.
    """
    from mmengine.model import is_model_wrapper

    from gleamkit.utils.checkpoint import safe_load_checkpoint

    path = runner.cfg.get('load_from')
    if not path or runner.cfg.get('resume') or not strict:
        return
    ckpt = safe_load_checkpoint(path)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    if not isinstance(model, torch.nn.Module):  # FlexibleRunner builds its model lazily
        model = _model_for_shapes(runner.cfg.model)
    own = model.state_dict()
    got = {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in state.items()}
    missing, unexpected = sorted(set(own) - set(got)), sorted(set(got) - set(own))
    def fits(a, b):  # a 0-d scalar fits a one-element tensor (the loss temperature)
        return tuple(a.shape) == tuple(b.shape) or (a.numel() == b.numel() == 1
                                                    and min(a.dim(), b.dim()) == 0)

    reshaped = [f'{k}: {tuple(got[k].shape)} vs model {tuple(own[k].shape)}'
                for k in sorted(set(own) & set(got))
                if hasattr(got[k], 'shape') and not fits(got[k], own[k])]
    if reshaped:
        raise ValueError(f'checkpoint {path!r} has tensors whose shapes do not fit the model: '
                         f'{reshaped[:5]}{" ..." if len(reshaped) > 5 else ""}')
    if missing or unexpected:
        raise KeyError(
            f'checkpoint {path!r} does not fit the model built from the config: '
            f'{len(missing)} missing keys {missing[:8]}{" ..." if len(missing) > 8 else ""}, '
            f'{len(unexpected)} unexpected keys {unexpected[:8]}'
            f'{" ..." if len(unexpected) > 8 else ""}. Check the config and the path, or '
            'pass --load-non-strict to load the matching keys only.')
