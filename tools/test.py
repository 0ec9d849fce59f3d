"""Evaluate a checkpoint with a config's test set and print the results table.

python tools/test.py configs/gleam_c/phase2.py work_dirs/phase2/epoch_2.pth
    [--work-dir DIR] [--out metrics.json] [--show-dir DIR [--show-num N]]
    [--cfg-options ...] [--launcher pytorch]
    [--index 'IVF1024,PQ32' --topk 100 [--nprobe 16] [--no-exact-ap]]
"""

import argparse
import json
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction

# run from a checkout without `pip install -e .` too
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmengine.dist import get_rank

from gleamkit.utils.config_keys import explain_config_errors
from gleamkit.utils.runtime import build_runner, prepare_config


def parse_args():
    parser = argparse.ArgumentParser(description='Test (evaluate) a gleamkit model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        help="checkpoint file, or 'none' for models without "
        'trained weights (API explainers, zero-shot runs)',
    )
    parser.add_argument('--work-dir', help='where logs and results go')
    parser.add_argument(
        '--out',
        help='write the metrics as JSON to this file (default: <work_dir>/test_metrics.json)',
    )
    parser.add_argument(
        '--show-dir',
        help='also draw retrieval grids, similarity heat maps and recall@K curves for a '
        'sample of queries into this folder (docs/visual_explanations.md)',
    )
    parser.add_argument(
        '--show-num',
        type=int,
        default=8,
        help='queries drawn per protocol with --show-dir, spread evenly over the test set',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. test_dataloader.batch_size=64',
    )
    parser.add_argument(
        '--index',
        metavar='FACTORY',
        help='rank through a faiss index (index_factory string: Flat, HNSW32, '
        "IVF1024,PQ32) keeping each query's top K only; which metric stays exact: "
        'docs/gallery_index.md',
    )
    parser.add_argument('--topk', type=int, default=100, help='K kept with --index')
    parser.add_argument('--nprobe', type=int, help='IVF lists searched with --index')
    parser.add_argument(
        '--no-exact-ap',
        action='store_true',
        help='with --index, leave AP out instead of scoring each query exactly',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher (tools/dist_test.sh uses pytorch)',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    no_checkpoint = args.checkpoint.lower() == 'none'
    for path, what in (
        (args.config, 'config'),
        (None if no_checkpoint else args.checkpoint, 'checkpoint'),
    ):
        if path is not None and not osp.isfile(path):
            raise SystemExit(f'{what} file not found: {path}')
    cfg = Config.fromfile(args.config)
    args.load_from = None if no_checkpoint else args.checkpoint
    cfg = prepare_config(cfg, args, mode='test')
    if args.show_dir:
        from gleamkit.engine.hooks import add_visualization_hook

        add_visualization_hook(cfg, args.show_dir, args.show_num)
    if args.index:
        from gleamkit.index.topk_searcher import set_test_index

        try:
            set_test_index(cfg, args.index, args.topk, args.nprobe, not args.no_exact_ap)
        except ValueError as err:
            raise SystemExit(f'{args.config}: {err}') from err
    with explain_config_errors(cfg):  # a misspelt key: name its path and the accepted keys
        runner = build_runner(cfg)
        metrics = runner.test()
    if get_rank() == 0:
        out = args.out or osp.join(cfg.work_dir, 'test_metrics.json')
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(
                {k: float(v) if hasattr(v, '__float__') else v for k, v in metrics.items()},
                f,
                indent=2,
                sort_keys=True,
            )
        print(f'metrics written to {out}')


if __name__ == '__main__':
    main()
