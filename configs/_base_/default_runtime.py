# Runtime shared by every gleamkit config: hooks, logging, environment.
from mmengine.hooks import (
    CheckpointHook,
    DistSamplerSeedHook,
    IterTimerHook,
    LoggerHook,
    ParamSchedulerHook,
)
from mmengine.visualization import LocalVisBackend, Visualizer

from gleamkit.engine.hooks import IterationCheckpointHook

default_scope = 'gleamkit'

default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, interval=20),
    param_scheduler=dict(type=ParamSchedulerHook),
    # keep the last two epochs and the best one by R@1 (atomic writes, see docs)
    checkpoint=dict(
        type=CheckpointHook, interval=1, max_keep_ckpts=2, save_best='retrieval/R@1', rule='greater'
    ),
    # also iter_N.pth every `interval` iterations (last two kept), so a killed run of long
    # epochs loses at most that many steps; off here (-1). Turn on with
    # `tools/train.py --checkpoint-every N` (it also makes the loop resumable mid-epoch)
    iter_checkpoint=dict(type=IterationCheckpointHook, interval=-1, max_keep_ckpts=2),
    sampler_seed=dict(type=DistSamplerSeedHook),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # 'auto': nccl when CUDA is available, gloo on CPU (resolved by tools/train.py)
    dist_cfg=dict(backend='auto'),
)

vis_backends = [dict(type=LocalVisBackend)]
visualizer = dict(type=Visualizer, vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
