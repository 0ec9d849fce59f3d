"""Augmentation against none, and zero-shot quality, on a University-1652-layout replica.

The replica (``benchmarks/_university_replica.py``) is rendered from the built-in
world in University-1652's exact folder layout: 400 training places with 3 drone
images each, 150 test places with 2 drone queries each, and a gallery of their
150 tiles + 100 distractor tiles (chance R@1 1/250). Every run loads
``configs/gleam_c/university1652_drone2sat.py`` (``configs/_base_/datasets/
university1652.py`` with its ``train_pipeline`` or, for ``none``, its evaluation
``pipeline`` in training too; ``default_runtime.py``; ``schedules/
sample4geo_adamw.py``) with a model base of ``configs/_base_/models/`` instead of
ConvNeXt-B, as a user adapts a shipped config, with the replica's folder, its
image size, a smaller batch and fewer epochs (the 0.1-epoch warm-up kept), then
tests on the replica.

Variants:
  ``none``       training pipeline = the evaluation pipeline (load, resize, pack);
  ``augmented``  the base's ``train_pipeline`` (Sample4Geo's University-1652 recipe);
  ``augmented-without-<Transform>``  the same without one transform, e.g.
                 ``augmented-without-PairedRandomRotate90``;
  ``zero-shot``  no training: the untrained model (ImageNet backbone as shipped).

Each run is a fresh Python process; the variants of one seed run back to back.

Usage::

    python benchmarks/real_data_augmentation.py [--variants none,augmented]
        [--seeds 0 1] [--epochs 3] [--image-size 128] [--batch-size 32] [--threads 1]
        [--model-base gleam_c_efficientnet_lite0] [--replica DIR]
    python benchmarks/real_data_augmentation.py --variants zero-shot \\
        --model-base gleam_c_efficientnet_lite0 gleam_c_efficientnet_lite0_pooled
"""

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

from _university_replica import make_university1652_replica  # noqa: E402

BASES = ROOT / 'configs' / '_base_'


def _walk(obj, fn):
    """Call ``fn`` on every dict nested in ``obj`` (lists and dicts)."""
    if isinstance(obj, dict):
        fn(obj)
        for value in obj.values():
            _walk(value, fn)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _walk(value, fn)


def build_config(args, variant: str, seed: int, model_base: str, work_dir: str):
    from mmengine.config import Config

    # the shipped leaf (dataset base + runtime + Sample4Geo schedule) with the model base swapped
    cfg = Config.fromfile(str(ROOT / 'configs' / 'gleam_c' / 'university1652_drone2sat.py'))
    cfg.model = Config.fromfile(str(BASES / 'models' / f'{model_base}.py')).model
    size = (args.image_size, args.image_size)

    def adapt(d):
        kind = d.get('type')
        if getattr(kind, '__name__', kind) == 'ResizeViews':
            d['sizes'] = dict(uav=size, satellite=size)
        if 'data_root' in d:
            d['data_root'] = args.replica

    for key in list(cfg.keys()):
        _walk(cfg[key], adapt)
    if variant == 'none':
        cfg['train_dataloader']['dataset']['pipeline'] = copy.deepcopy(cfg['pipeline'])
    elif variant.startswith('augmented-without-'):
        dropped = variant[len('augmented-without-') :]
        pipeline = cfg['train_dataloader']['dataset']['pipeline']
        kept = [t for t in pipeline if getattr(t['type'], '__name__', t['type']) != dropped]
        if len(kept) == len(pipeline):
            raise SystemExit(f'variant {variant}: the training pipeline has no {dropped}')
        cfg['train_dataloader']['dataset']['pipeline'] = kept
    loaders = [
        cfg['train_dataloader'],
        cfg['val_dataloader'],
        cfg['test_dataloader'],
        cfg['val_cfg']['gallery_dataloader'],
        cfg['test_cfg']['gallery_dataloader'],
    ]
    for loader in loaders:
        loader.update(num_workers=args.num_workers, persistent_workers=args.num_workers > 0)
    cfg['train_dataloader']['batch_size'] = args.batch_size
    cfg['train_dataloader']['sampler']['batch_size'] = args.batch_size
    epochs, warmup = args.epochs, 0.1
    cfg['train_cfg'].update(max_epochs=epochs, val_interval=epochs + 1)  # test at the end
    # the schedule's own LinearLR + CosineAnnealingLR, stretched to the run's epochs
    cfg['param_scheduler'][0].update(end=warmup)
    cfg['param_scheduler'][1].update(begin=warmup, end=epochs)
    cfg['default_hooks']['checkpoint'] = None
    cfg['default_hooks']['logger']['interval'] = 10
    cfg['randomness'] = dict(seed=seed, deterministic=False)
    cfg['work_dir'] = work_dir
    return cfg


def run_one(args, variant, seed, model_base) -> dict:
    import torch

    from gleamkit.utils.runtime import build_runner

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as work_dir:
        cfg = build_config(args, variant, seed, model_base, work_dir)
        runner = build_runner(cfg)
        start = time.perf_counter()
        if variant != 'zero-shot':
            runner.train()
        train_s = time.perf_counter() - start
        metrics = runner.test()
    return dict(
        variant=variant,
        seed=seed,
        model_base=model_base,
        train_s=round(train_s, 1),
        **{
            k.split('/', 1)[1]: round(float(v), 2)
            for k, v in metrics.items()
            if k.startswith('retrieval/') and isinstance(v, (int, float))
        },
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--variants', default='none,augmented')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--model-base', nargs='+', default=['gleam_c_efficientnet_lite0'])
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument(
        '--image-size',
        type=int,
        default=128,
        help='training and test size (the replica is rendered at 128 px and '
        'resized, as real images are)',
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch threads per run (on a 2-core machine shared with other '
        'work, 2 threads ran a step 10x slower than 1)',
    )
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument(
        '--places',
        type=int,
        nargs=3,
        default=[400, 150, 100],
        metavar=('TRAIN', 'TEST', 'DISTRACTORS'),
        help='places of the replica (its default is the measured one)',
    )
    parser.add_argument(
        '--replica',
        default=None,
        help='University-Release folder (default: a cached one in the temp dir)',
    )
    parser.add_argument('--save-json', default=None)
    parser.add_argument('--single', default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.replica is None:
        args.replica = os.path.join(
            tempfile.gettempdir(), 'gleamkit_u1652_replica', 'University-Release'
        )
    if args.single:
        variant, seed, model_base = json.loads(args.single)
        print('RESULT ' + json.dumps(run_one(args, variant, seed, model_base)), flush=True)
        return 0
    train, test, distractors = args.places
    info = make_university1652_replica(
        args.replica, num_train=train, num_test=test, num_distractors=distractors
    )
    print(f'replica: {info}', flush=True)
    results = []
    for model_base in args.model_base:
        for seed in args.seeds:
            for variant in args.variants.split(','):
                cmd = [
                    sys.executable,
                    __file__,
                    *(sys.argv[1:] if argv is None else argv),
                    '--replica',
                    args.replica,
                    '--single',
                    json.dumps([variant, seed, model_base]),
                ]
                out = subprocess.run(cmd, capture_output=True, text=True)
                lines = [ln for ln in out.stdout.splitlines() if ln.startswith('RESULT ')]
                if out.returncode or not lines:
                    sys.stderr.write(out.stdout[-3000:] + out.stderr[-3000:])
                    raise SystemExit(f'run {variant} seed {seed} {model_base} failed')
                results.append(json.loads(lines[-1][len('RESULT ') :]))
                print(json.dumps(results[-1]), flush=True)
    print('\n| model base | variant | seed | R@1 | R@5 | AP | train s |')
    print('|---|---|---|---|---|---|---|')
    for r in results:
        print(
            f'| {r["model_base"]} | {r["variant"]} | {r["seed"]} | {r["R@1"]:.2f} | '
            f'{r["R@5"]:.2f} | {r["AP"]:.2f} | {r["train_s"]:.0f} |'
        )
    groups = {}
    for r in results:
        groups.setdefault((r['model_base'], r['variant']), []).append(r)
    if any(len(g) > 1 for g in groups.values()):
        print('\nmean over seeds:')
        for (model_base, variant), rows in groups.items():
            mean = {k: sum(r[k] for r in rows) / len(rows) for k in ('R@1', 'R@5', 'AP')}
            print(
                f'  {model_base} {variant}: R@1 {mean["R@1"]:.2f}, R@5 {mean["R@5"]:.2f}, '
                f'AP {mean["AP"]:.2f} ({len(rows)} seeds)'
            )
    if args.save_json:
        with open(args.save_json, 'w') as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
