"""Training throughput and peak memory: gleamkit's Runner vs a plain PyTorch loop.

``runner``: what ``tools/train.py`` runs - ``build_runner`` on a config with
``CrossViewRetriever`` (a timm backbone, ``SymmetricInfoNCELoss``),
``UniqueLocationSampler``, ``OptimWrapper`` (AdamW), ``EpochBasedTrainLoop`` and
the hooks of ``configs/_base_/default_runtime.py`` (timer, logger, param scheduler,
sampler seed, local visualiser; the checkpoint hook is off: saving is no part of a
step). By default the dataset holds exactly one epoch of warm-up + timed steps.
``--train-loop iter`` uses mmengine's ``IterBasedTrainLoop`` instead, which sleeps
2 s each time it restarts the dataloader (``_InfiniteDataloaderIterator``): with
small ``--locations`` that sleep shows up as framework cost.

``plain``: a loop in the style of Sample4Geo's ``train()`` - timm model
(``num_classes=0``) -> features of query and satellite -> InfoNCE with a learnable
temperature -> ``backward`` -> ``optimizer.step`` -> ``zero_grad``, with
``loss.item()`` every step as Sample4Geo logs it.

Both see the same data: one (query, satellite) pair of random uint8 images per
location, held in memory, normalised on the device; the same backbone, batch,
loss (label smoothing 0.1) and optimizer. gleamkit's model is configured to do
the same work as the plain one: timm's pooled features (``pooled=True``), no
adapter (``IdentityAdapter``), no projection (``EmbeddingHead(embed_dim=None)``).

A variant is ``runner`` or ``plain`` with optional ``+switch`` suffixes:
``amp`` (bf16/fp16 autocast: ``MixedPrecisionOptimWrapper`` / ``torch.autocast``),
``channels_last``, ``compile`` (the Runner's ``compile=True`` config key, which
compiles the whole ``train_step`` / ``torch.compile(model)``), ``compile_backbone``
(runner only: ``torch.compile`` of the timm encoder's ``forward_features``, what a
backbone-level compile switch would do), ``grad_ckpt`` (timm activation checkpointing),
``workersN`` (N dataloader workers, persistent; pinned memory on CUDA), ``frozenN``
(runner only: ``TimmBackbone(frozen_stages=N)``, the stem and N stages frozen).
Example: ``--variants runner,runner+amp,runner+compile --baseline runner``.

images/s counts query and satellite images (2 per pair) over the steps after
``--warmup`` (which absorbs ``torch.compile``'s compilation), wall clock from
the end of the last warm-up step to the end of the last step: data loading,
hooks and logging count. Memory: see ``benchmarks/_common.py``.

Usage::

    python benchmarks/runner_vs_plain_loop.py [--model resnet18] [--image-size 64]
        [--batch-size 32] [--iters 20] [--warmup 3] [--repeats 5] [--num-workers 0]
        [--variants plain,runner] [--baseline plain] [--threads 1] [--device cuda]
        [--train-loop epoch|iter] [--locations N] [--save-json FILE]
"""

import argparse
import math
import sys
import tempfile

import torch

# run as a script (its worker processes too): benchmarks/ is on sys.path
from _common import (
    MEAN,
    STD,
    InMemoryCrossViewDataset,
    MemoryProbe,
    PairTensorDataset,
    StepClock,
    add_common_args,
    fmt,
    format_table,
    machine_line,
    make_timing_hook,
    median,
    paired_ratio,
    run_interleaved,
    save_results,
    set_threads,
    synchronize,
    waited_percent,
    write_result,
)

SWITCHES = ('amp', 'channels_last', 'compile', 'compile_backbone', 'grad_ckpt')
HEADERS = (
    'variant',
    'images/s',
    'range',
    'vs baseline',
    'images/CPU-s',
    'vs baseline (CPU)',
    'waited %',
    'peak MiB',
    'rise MiB',
)


def parse_variant(variant: str):
    """``'runner+amp+workers2'`` -> ``('runner', {'amp'}, 2 or None)``."""
    base, *switches = variant.split('+')
    if base not in ('runner', 'plain'):
        raise SystemExit(f'variant {variant!r}: must start with "runner" or "plain"')
    workers = None
    for s in switches:
        if s.startswith('workers') and s[len('workers') :].isdigit():
            workers = int(s[len('workers') :])
        elif s.startswith('frozen') and s[len('frozen') :].isdigit():
            if base != 'runner':
                raise SystemExit(
                    f'variant {variant!r}: frozenN is a runner switch '
                    '(TimmBackbone(frozen_stages=N))'
                )
        elif s not in SWITCHES:
            raise SystemExit(
                f'variant {variant!r}: unknown switch {s!r}; expected one of '
                f'{SWITCHES}, workersN or frozenN'
            )
    return base, set(switches), workers


def frozen_stages(switches) -> int:
    """N of a ``frozenN`` switch; -1 (nothing frozen) without one."""
    for s in switches:
        if s.startswith('frozen'):
            return int(s[len('frozen') :])
    return -1


def amp_dtype(device: torch.device) -> torch.dtype:
    """What ``MixedPrecisionOptimWrapper(dtype='auto')`` picks."""
    if device.type == 'cpu' or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


# --------------------------------------------------------------------- the Runner
def runner_config(args, switches: set, workers: int, work_dir: str):
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper
    from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
    from torch.optim import AdamW

    from gleamkit.datasets import UniqueLocationSampler
    from gleamkit.engine import MixedPrecisionOptimWrapper
    from gleamkit.models import (
        CrossViewDataPreprocessor,
        CrossViewRetriever,
        EmbeddingHead,
        IdentityAdapter,
        SymmetricInfoNCELoss,
        TimmBackbone,
    )

    def path(cls):  # dotted import paths: the config must print (the Runner logs it)
        return f'{cls.__module__}.{cls.__qualname__}'

    cuda = args.device.startswith('cuda')
    cfg = Config.fromfile(str(args.root / 'configs/_base_/default_runtime.py'))
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = 10
    optim_wrapper = dict(
        type=path(OptimWrapper), optimizer=dict(type=path(AdamW), lr=1e-4, weight_decay=0.01)
    )
    if 'amp' in switches:  # what tools/train.py --amp does
        optim_wrapper.update(type=path(MixedPrecisionOptimWrapper), dtype='auto')
    cfg.merge_from_dict(
        dict(
            work_dir=work_dir,
            launcher='none',
            model=dict(
                type=path(CrossViewRetriever),
                backbone=dict(
                    type=path(TimmBackbone),
                    model_name=args.model,
                    pretrained=False,
                    pooled=True,
                    channels_last='channels_last' in switches,
                    grad_checkpointing='grad_ckpt' in switches,
                    frozen_stages=frozen_stages(switches),
                ),
                adapter=dict(type=path(IdentityAdapter)),
                head=dict(type=path(EmbeddingHead), embed_dim=None),
                loss=dict(type=path(SymmetricInfoNCELoss), temperature=0.07, label_smoothing=0.1),
                data_preprocessor=dict(type=path(CrossViewDataPreprocessor), non_blocking=cuda),
            ),
            train_dataloader=dict(
                batch_size=args.batch_size,
                num_workers=workers,
                persistent_workers=workers > 0,
                pin_memory=cuda,
                dataset=dict(
                    type=path(InMemoryCrossViewDataset),
                    num_locations=args.locations,
                    image_size=args.image_size,
                ),
                sampler=dict(type=path(UniqueLocationSampler), batch_size=args.batch_size),
            ),
            optim_wrapper=optim_wrapper,
        )
    )
    steps = args.warmup + args.iters
    if args.train_loop == 'epoch':  # what gleamkit's configs use
        cfg.train_cfg = dict(
            type=path(EpochBasedTrainLoop),
            max_epochs=-(-steps // (args.locations // args.batch_size)),
        )
    else:
        cfg.train_cfg = dict(type=path(IterBasedTrainLoop), max_iters=steps)
        cfg.log_processor = dict(by_epoch=False)
    if 'compile' in switches:
        cfg.compile = True
    return cfg


def train_with_runner(args, switches: set, workers: int) -> dict:
    from gleamkit.utils.runtime import build_runner

    probe = MemoryProbe(args.device)
    with tempfile.TemporaryDirectory(prefix='gleamkit_bench_runner_') as work_dir:
        runner = build_runner(runner_config(args, switches, workers, work_dir))
        if 'compile_backbone' in switches:
            # what a TimmBackbone `compile` key would do (not in the library yet):
            # compile the encoder only, leaving data samples and the optimizer eager
            timm_model = runner.model.backbone.timm_model
            timm_model.forward_features = torch.compile(timm_model.forward_features)
        timer = make_timing_hook(args.device, on_start=probe.start)
        runner.register_hook(timer, priority='LOWEST')
        runner.train()
        memory = probe.stop()
    return dict(**timer.clock.throughput(args.warmup, 2 * args.batch_size), **memory)


# ------------------------------------------------------- the plain (Sample4Geo) loop
class TimmModel(torch.nn.Module):
    """Sample4Geo's model: a timm encoder shared by both views + the temperature."""

    def __init__(self, model_name: str, grad_checkpointing: bool = False):
        import timm

        super().__init__()
        self.model = timm.create_model(model_name, pretrained=False, num_classes=0)
        if grad_checkpointing:
            self.model.set_grad_checkpointing(True)
        self.logit_scale = torch.nn.Parameter(torch.ones([]) * math.log(1 / 0.07))

    def forward(self, img1, img2):
        return self.model(img1), self.model(img2)


class InfoNCE(torch.nn.Module):
    """Sample4Geo's loss: symmetric cross-entropy over the in-batch similarities."""

    def __init__(self, label_smoothing: float = 0.1):
        super().__init__()
        self.loss_function = torch.nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def forward(self, features1, features2, logit_scale):
        features1 = torch.nn.functional.normalize(features1, dim=-1)
        features2 = torch.nn.functional.normalize(features2, dim=-1)
        logits1 = logit_scale * features1 @ features2.T
        labels = torch.arange(len(logits1), dtype=torch.long, device=logits1.device)
        return (self.loss_function(logits1, labels) + self.loss_function(logits1.T, labels)) / 2


def train_plain_loop(args, switches: set, workers: int) -> dict:
    from contextlib import nullcontext

    from torch.utils.data import DataLoader

    device = torch.device(args.device)
    cuda = device.type == 'cuda'
    torch.manual_seed(0)
    loader = DataLoader(
        PairTensorDataset(args.locations, args.image_size),
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=cuda,
    )
    model = TimmModel(args.model, 'grad_ckpt' in switches).to(device)
    memory_format = torch.channels_last if 'channels_last' in switches else None
    if memory_format is not None:
        model = model.to(memory_format=memory_format)
    forward = torch.compile(model) if 'compile' in switches else model
    loss_function = InfoNCE(label_smoothing=0.1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    scaler, autocast = None, nullcontext
    if 'amp' in switches:
        dtype = amp_dtype(device)
        autocast = lambda: torch.autocast(device.type, dtype=dtype)  # noqa: E731
        if dtype == torch.float16:
            scaler = torch.amp.GradScaler('cuda')
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)

    def prepare(images):
        images = (images.to(device, non_blocking=cuda).float() - mean) / std
        return images if memory_format is None else images.contiguous(memory_format=memory_format)

    probe = MemoryProbe(args.device)
    probe.start()
    model.train()
    clock, total = StepClock(), args.warmup + args.iters
    while len(clock) < total:
        for query, reference, _ in loader:
            with autocast():
                features1, features2 = forward(prepare(query), prepare(reference))
                loss = loss_function(features1, features2, model.logit_scale.exp())
            loss.item()  # Sample4Geo: losses.update(loss.item())
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            optimizer.zero_grad()
            synchronize(args.device)
            clock.tick()
            if len(clock) == total:
                break
    memory = probe.stop()
    return dict(**clock.throughput(args.warmup, 2 * args.batch_size), **memory)


# ------------------------------------------------------------------------- driver
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', default='resnet18', help='timm model name (random weights)')
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--batch-size', type=int, default=32, help='pairs per step')
    parser.add_argument(
        '--locations',
        type=int,
        default=None,
        help='pairs in the dataset (default: one epoch = warm-up + timed steps)',
    )
    parser.add_argument(
        '--train-loop',
        choices=('epoch', 'iter'),
        default='epoch',
        help="the Runner's loop: mmengine's EpochBasedTrainLoop (gleamkit's "
        'configs) or IterBasedTrainLoop (which sleeps 2 s at every pass over '
        'the dataloader: see --locations)',
    )
    parser.add_argument('--iters', type=int, default=20, help='timed steps per run')
    parser.add_argument('--warmup', type=int, default=3, help='untimed first steps')
    parser.add_argument(
        '--num-workers',
        type=int,
        default=0,
        help='dataloader workers unless a variant says workersN',
    )
    parser.add_argument(
        '--variants',
        default='plain,runner',
        help='comma-separated: runner|plain[+amp][+channels_last][+compile]'
        '[+grad_ckpt][+workersN][+frozenN]',
    )
    parser.add_argument(
        '--baseline', default=None, help='variant the ratios are relative to (default: the first)'
    )
    add_common_args(parser, repeats=5)
    args = parser.parse_args(argv)
    if args.locations is None:
        args.locations = (args.warmup + args.iters) * args.batch_size
    if args.warmup < 1:
        parser.error('--warmup must be >= 1 (the clock starts at the end of a warm-up step)')
    return args


def worker_main(args) -> None:
    from pathlib import Path

    args.root = Path(__file__).resolve().parents[1]
    set_threads(args.threads)
    base, switches, workers = parse_variant(args.worker)
    workers = args.num_workers if workers is None else workers
    train = train_with_runner if base == 'runner' else train_plain_loop
    write_result(args.result, train(args, switches, workers))


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    variants = [v.strip() for v in args.variants.split(',') if v.strip()]
    for v in variants:
        parse_variant(v)
    baseline = args.baseline or variants[0]
    if baseline not in variants:
        raise SystemExit(f'--baseline {baseline!r} is not among --variants {variants}')
    argv = [a for a in (sys.argv[1:] if argv is None else argv)]

    def command(variant, result):
        return [sys.executable, __file__, *argv, '--worker', variant, '--result', result]

    env = {'CUDA_VISIBLE_DEVICES': ''} if args.device == 'cpu' else {}
    print(machine_line(args.device, args.threads))
    results = run_interleaved(variants, command, args.repeats, env=env)
    save_results(args.save_json, args, results)
    rows = []
    for v in variants:
        rs = results[v]
        ips = [r['images_per_s'] for r in rs]
        rows.append(
            [
                v,
                fmt(median(ips)),
                f'{min(ips):.1f}-{max(ips):.1f}',
                f'{paired_ratio(results, v, baseline, "images_per_s"):.3f}',
                fmt(median([r['images_per_cpu_s'] for r in rs])),
                f'{paired_ratio(results, v, baseline, "images_per_cpu_s"):.3f}',
                waited_percent(rs),
                fmt(median([r['peak_mib'] for r in rs]), 0),
                fmt(median([r['increase_mib'] for r in rs]), 0),
            ]
        )
    what = (
        'peak = torch.cuda.max_memory_allocated; rise = peak - allocated before training'
        if args.device.startswith('cuda')
        else 'peak = peak RSS of the process; rise = peak RSS - RSS before the first step'
    )
    print(
        f'# {args.model}, {args.image_size} px, batch {args.batch_size} pairs '
        f'(= {2 * args.batch_size} images), {args.iters} timed steps after {args.warmup} '
        f'warm-up, {args.repeats} interleaved rounds, fresh process per run; '
        f'device {args.device}'
    )
    print(format_table(HEADERS, rows))
    print(
        f'# images/s: query + satellite images per wall-clock second, median over rounds '
        f'(range: min-max); images/CPU-s: per CPU second of the training process (loader '
        f'workers not counted); vs baseline: median over rounds of the ratio to {baseline!r} '
        f'measured in the same round; waited %: share of the timed wall-clock the training '
        f"thread was ready but waited for a core (other programs' load), median; "
        f'{what}'
    )
    if 'runner' in variants and 'plain' in variants:
        wall = paired_ratio(results, 'runner', 'plain', 'images_per_s')
        cpu = paired_ratio(results, 'runner', 'plain', 'images_per_cpu_s')
        print(
            f'# framework cost (1 - runner / plain, paired by round): '
            f'{100 * (1 - wall):.1f}% of wall-clock throughput, {100 * (1 - cpu):.1f}% of '
            f'CPU throughput (target: at most 5%)'
        )


if __name__ == '__main__':
    main()
