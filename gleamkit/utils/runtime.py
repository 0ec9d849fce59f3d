"""What tools/train.py and tools/test.py share: config preparation and runner building."""
import os.path as osp

import torch
from mmengine.config import Config


def resolve_dist_backend(cfg: Config) -> None:
    """``dist_cfg.backend='auto'``: nccl when CUDA is there, gloo on CPU."""
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'auto') == 'auto':
        dist_cfg['backend'] = 'nccl' if torch.cuda.is_available() else 'gloo'


def prepare_config(cfg: Config, args, mode: str = 'train') -> Config:
    """Apply command-line arguments (mmengine's tool conventions) to ``cfg``."""
    cfg.launcher = args.launcher
    if getattr(args, 'cfg_options', None):
        cfg.merge_from_dict(args.cfg_options)
    if getattr(args, 'work_dir', None):
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if mode == 'train':
        if getattr(args, 'load_from', None):
            cfg.load_from = args.load_from
        if args.resume == 'auto':
            cfg.resume, cfg.load_from = True, None
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
    resolve_dist_backend(cfg)
    return cfg


def build_runner(cfg: Config):
    """Build the Runner named by ``runner_type`` (default: mmengine's ``Runner``)."""
    from mmengine.runner import Runner

    import gleamkit  # noqa: F401  (safe checkpoint loading, atomic writes)
    from gleamkit.registry import RUNNERS

    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
