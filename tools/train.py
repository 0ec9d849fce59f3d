"""Train a gleamkit model from a config (mmengine conventions).

python tools/train.py configs/gleam_c/phase2.py [--work-dir DIR] [--resume [CKPT]]
    [--precision {fp32,bf16,fp16,auto}] [--checkpoint-every N]
    [--cfg-options key=value ...] [--launcher pytorch]
"""

import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction

# run from a checkout without `pip install -e .` too
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from gleamkit.engine.hooks import PrecisionReportHook, SkippedImageReportHook
from gleamkit.utils.config_keys import explain_config_errors
from gleamkit.utils.runtime import build_runner, check_checkpoint_keys, prepare_config


def parse_args():
    parser = argparse.ArgumentParser(description='Train a gleamkit model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--work-dir', help='where logs and checkpoints go (default: work_dirs/<config name>)'
    )
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CKPT, or from the newest readable checkpoint in the '
        'work dir when no path is given (an error when there is none)',
    )
    parser.add_argument(
        '--checkpoint-every',
        type=int,
        metavar='N',
        help='also save iter_N.pth every N iterations (besides the per-epoch '
        'checkpoints), so a killed run loses at most N steps',
    )
    parser.add_argument(
        '--load-from',
        help='initialise weights from this checkpoint '
        '(e.g. phase 1 for phase 2); every key must match the model',
    )
    parser.add_argument(
        '--load-non-strict',
        action='store_true',
        help='with --load-from: load the matching keys, log the others',
    )
    parser.add_argument(
        '--precision',
        choices=['fp32', 'bf16', 'fp16', 'auto'],
        help='training precision, overriding the config: fp32 (no autocast), '
        'bf16 / fp16 autocast (fp16: CUDA only), auto (bf16 where supported, '
        "else fp16). Default: the config's optim_wrapper",
    )
    parser.add_argument(
        '--amp',
        action='store_const',
        dest='precision',
        const='auto',
        help='same as --precision auto',
    )
    parser.add_argument('--no-validate', action='store_true', help='skip validation')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. train_cfg.max_epochs=3',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher (tools/dist_train.sh uses pytorch)',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    if not osp.isfile(args.config):
        raise SystemExit(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg = prepare_config(cfg, args, mode='train')
    with explain_config_errors(cfg):  # a misspelt key: name its path and the accepted keys
        runner = build_runner(cfg)
        runner.register_hook(PrecisionReportHook())  # logs which precision actually ran
        if not any(isinstance(h, SkippedImageReportHook) for h in runner.hooks):
            # names the images an on_corrupt='skip' dataset replaced; silent otherwise
            runner.register_hook(SkippedImageReportHook())
        check_checkpoint_keys(runner, strict=not args.load_non_strict)
        runner.train()


if __name__ == '__main__':
    main()
