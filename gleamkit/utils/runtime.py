"""What tools/train.py and tools/test.py share: config preparation and runner building."""

import os.path as osp

import torch
from mmengine.config import Config

from gleamkit.utils.custom_imports import import_custom_modules

# resume logic lives in gleamkit.utils.resume; re-exported for existing callers
from gleamkit.utils.resume import find_resume_checkpoint  # noqa: F401


def resolve_dist_backend(cfg: Config) -> None:
    """``dist_cfg.backend='auto'``: nccl when CUDA is there, gloo on CPU."""
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'auto') == 'auto':
        dist_cfg['backend'] = 'nccl' if torch.cuda.is_available() else 'gloo'


def prepare_config(cfg: Config, args, mode: str = 'train') -> Config:
    """Apply command-line arguments (mmengine's tool conventions) to ``cfg``."""
    from gleamkit.engine.schedules import fit_schedule_to_run
    from gleamkit.utils.config_links import merge_linked_options
    from gleamkit.utils.preflight import check_before_run

    cfg.launcher = args.launcher
    # an override of a top-level variable reaches every field written from it
    merge_linked_options(cfg, getattr(args, 'cfg_options', None))
    import_custom_modules(cfg, args.config)  # any config style, --cfg-options included
    if getattr(args, 'work_dir', None):
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if mode == 'train':
        if getattr(args, 'load_from', None):
            cfg.load_from = args.load_from
        if args.resume is not None:  # 'auto' (newest in the work dir) or a path
            from gleamkit.utils.resume import resolve_resume

            cfg.resume, cfg.load_from = True, resolve_resume(cfg.work_dir, args.resume)
        from gleamkit.engine.optimizers.precision import apply_precision

        apply_precision(
            cfg,
            getattr(args, 'precision', None) or ('auto' if getattr(args, 'amp', False) else None),
        )
        if getattr(args, 'checkpoint_every', None):
            from gleamkit.utils.resume import enable_iteration_checkpoints

            enable_iteration_checkpoints(cfg, args.checkpoint_every)
        if args.no_validate:
            for key in ('val_cfg', 'val_dataloader', 'val_evaluator'):
                cfg[key] = None
    else:
        cfg.load_from = args.load_from
        cfg.resume = False
        # evaluation needs no training pieces: a test-only config (dataset + runtime +
        # model bases) has a train_dataloader but no train_cfg / optim_wrapper, which the
        # Runner refuses as a half-configured training; the same for validation
        for key in (
            'train_dataloader',
            'train_cfg',
            'optim_wrapper',
            'param_scheduler',
            'val_dataloader',
            'val_cfg',
            'val_evaluator',
        ):
            cfg[key] = None
        if not cfg.get('test_cfg'):  # test_cfg lives in the schedule bases
            cfg.test_cfg = dict()  # mmengine's TestLoop
        # the checkpoint carries every weight: do not fetch hub weights first
        backbone = cfg.get('model', {}).get('backbone', {})
        if args.load_from and isinstance(backbone, dict) and backbone.get('pretrained'):
            backbone['pretrained'] = False
    if mode == 'train':
        fit_schedule_to_run(cfg)
    check_before_run(cfg, mode)  # the data, before a pretrained model is fetched
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
        type='gleamkit.CrossViewDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False),
    )
    if not torch.cuda.is_available():
        wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper


def build_runner(cfg: Config):
    """Build the Runner named by ``runner_type`` (default: mmengine's ``Runner``)."""
    from mmengine.runner import Runner

    import gleamkit  # noqa: F401  (safe checkpoint loading, atomic writes)
    from gleamkit.engine.schedules import follow_epoch_length
    from gleamkit.registry import RUNNERS

    init_cpu_distributed(cfg)
    default_model_wrapper(cfg)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    follow_epoch_length(runner)  # warm-up and decay in whole iterations
    return runner


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
    got = {(k[len('module.') :] if k.startswith('module.') else k): v for k, v in state.items()}
    missing, unexpected = sorted(set(own) - set(got)), sorted(set(got) - set(own))

    def fits(a, b):  # a 0-d scalar fits a one-element tensor (the loss temperature)
        return tuple(a.shape) == tuple(b.shape) or (
            a.numel() == b.numel() == 1 and min(a.dim(), b.dim()) == 0
        )

    reshaped = [
        f'{k}: {tuple(got[k].shape)} vs model {tuple(own[k].shape)}'
        for k in sorted(set(own) & set(got))
        if hasattr(got[k], 'shape') and not fits(got[k], own[k])
    ]
    if reshaped:
        raise ValueError(
            f'checkpoint {path!r} has tensors whose shapes do not fit the model: '
            f'{reshaped[:5]}{" ..." if len(reshaped) > 5 else ""}'
        )
    if missing or unexpected:
        raise KeyError(
            f'checkpoint {path!r} does not fit the model built from the config: '
            f'{len(missing)} missing keys {missing[:8]}{" ..." if len(missing) > 8 else ""}, '
            f'{len(unexpected)} unexpected keys {unexpected[:8]}'
            f'{" ..." if len(unexpected) > 8 else ""}. Check the config and the path, or '
            'pass --load-non-strict to load the matching keys only.'
        )
