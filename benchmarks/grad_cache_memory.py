"""Peak memory and throughput of gradient caching: a large contrastive batch in
chunks vs the unchunked small and large batches.

InfoNCE wants many in-batch negatives; activation memory grows with the batch.
``CrossViewRetriever(grad_cache_chunk=C)`` embeds the batch in chunks of ``C``
pairs twice (once without a graph, once with one per chunk), so its activation
memory is that of a ``C``-pair batch while its loss sees all the negatives. This
script measures, each variant in a fresh process:

* ``small``: ``--small-batch`` pairs (default 32), unchunked;
* ``large``: ``--batch`` pairs (default 256), unchunked;
* ``large+grad_cache``: ``--batch`` pairs in chunks of ``--chunk`` (default 32);
* ``large+grad_ckpt`` (optional): ``--batch`` pairs with timm activation
  checkpointing (``model.backbone.grad_checkpointing=True``), the other lever.

Every variant runs ``CrossViewRetriever.train_step`` (the Runner's step) with an
``OptimWrapper`` (AdamW) on one fixed in-memory batch of random images; the
backbone defaults to ``convnext_atto`` (LayerNorm: gradient caching is exact, see
``gleamkit/models/retrievers/grad_cache.py``). The sanity line compares the losses
of ``large`` and ``large+grad_cache`` at the first and at the last step (same
initial weights, same data): equal losses after several updates mean equal
gradients.

Memory: CPU - peak RSS of the process and its rise over the RSS before the first
step; CUDA - ``torch.cuda.max_memory_allocated`` and its rise.

Usage::

    python benchmarks/grad_cache_memory.py [--model convnext_atto] [--image-size 64]
        [--batch 256] [--chunk 32] [--small-batch 32] [--iters 3] [--warmup 1]
        [--repeats 3] [--variants small,large,large+grad_cache] [--device cuda]
"""

import argparse
import sys

import torch

# run as a script (its worker processes too): benchmarks/ is on sys.path
from _common import (
    MemoryProbe,
    StepClock,
    add_common_args,
    cross_view_batch,
    fmt,
    format_table,
    machine_line,
    median,
    paired_ratio,
    run_interleaved,
    save_results,
    set_threads,
    synchronize,
    waited_percent,
    write_result,
)

VARIANTS = ('small', 'large', 'large+grad_cache', 'large+grad_ckpt')
HEADERS = (
    'variant',
    'pairs/step',
    'chunk',
    'images/s',
    'range',
    'vs large',
    'images/CPU-s',
    'waited %',
    'peak MiB',
    'rise MiB',
    'rise vs large',
)


def variant_setup(args, variant: str) -> dict:
    if variant not in VARIANTS:
        raise SystemExit(f'unknown variant {variant!r}; expected one of {VARIANTS}')
    return dict(
        batch=args.small_batch if variant == 'small' else args.batch,
        chunk=args.chunk if variant == 'large+grad_cache' else None,
        grad_checkpointing=variant == 'large+grad_ckpt',
    )


def build_model(args, chunk, grad_checkpointing: bool):
    from gleamkit.models import (
        CrossViewRetriever,
        EmbeddingHead,
        IdentityAdapter,
        SymmetricInfoNCELoss,
        TimmBackbone,
    )

    torch.manual_seed(0)
    return CrossViewRetriever(
        backbone=dict(
            type=TimmBackbone,
            model_name=args.model,
            pretrained=False,
            grad_checkpointing=grad_checkpointing,
        ),
        adapter=dict(type=IdentityAdapter),
        head=dict(type=EmbeddingHead, embed_dim=args.embed_dim),
        loss=dict(type=SymmetricInfoNCELoss, temperature=0.07, label_smoothing=0.1),
        grad_cache_chunk=chunk,
    )


def worker_main(args) -> None:
    from mmengine.optim import OptimWrapper

    set_threads(args.threads)
    setup = variant_setup(args, args.worker)
    model = build_model(args, setup['chunk'], setup['grad_checkpointing']).to(args.device)
    model.train()
    optim_wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01))
    data = cross_view_batch(setup['batch'], args.image_size)
    probe = MemoryProbe(args.device)
    probe.start()
    clock, losses = StepClock(), []
    for _ in range(args.warmup + args.iters):
        logs = model.train_step(data, optim_wrapper)
        losses.append(float(logs['loss']))
        synchronize(args.device)
        clock.tick()
    memory = probe.stop()
    write_result(
        args.result,
        dict(
            **clock.throughput(args.warmup, 2 * setup['batch']),
            **memory,
            first_loss=losses[0],
            last_loss=losses[-1],
            batch=setup['batch'],
            chunk=setup['chunk'],
        ),
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', default='convnext_atto', help='timm model (random weights)')
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--embed-dim', type=int, default=256)
    parser.add_argument('--batch', type=int, default=256, help='pairs of the large batch')
    parser.add_argument('--chunk', type=int, default=32, help='pairs per gradient-cache chunk')
    parser.add_argument('--small-batch', type=int, default=32)
    parser.add_argument('--iters', type=int, default=3, help='timed steps per run')
    parser.add_argument('--warmup', type=int, default=1, help='untimed first steps')
    parser.add_argument(
        '--variants',
        default='small,large,large+grad_cache',
        help=f'comma-separated, from {",".join(VARIANTS)}',
    )
    add_common_args(parser, repeats=3)
    args = parser.parse_args(argv)
    if args.warmup < 1:
        parser.error('--warmup must be >= 1 (the clock starts at the end of a warm-up step)')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    variants = [v.strip() for v in args.variants.split(',') if v.strip()]
    for v in variants:
        variant_setup(args, v)
    argv = list(sys.argv[1:] if argv is None else argv)

    def command(variant, result):
        return [sys.executable, __file__, *argv, '--worker', variant, '--result', result]

    env = {'CUDA_VISIBLE_DEVICES': ''} if args.device == 'cpu' else {}
    print(machine_line(args.device, args.threads))
    results = run_interleaved(variants, command, args.repeats, env=env)

    save_results(args.save_json, args, results)

    def med(v, key):
        return median([r[key] for r in results[v]])

    ref = 'large' if 'large' in variants else variants[0]
    rows = []
    for v in variants:
        ips = [r['images_per_s'] for r in results[v]]
        first = results[v][0]
        rows.append(
            [
                v,
                str(first['batch']),
                str(first['chunk'] or '-'),
                fmt(med(v, 'images_per_s')),
                f'{min(ips):.1f}-{max(ips):.1f}',
                f'{paired_ratio(results, v, ref, "images_per_s"):.3f}',
                fmt(med(v, 'images_per_cpu_s')),
                waited_percent(results[v]),
                fmt(med(v, 'peak_mib'), 0),
                fmt(med(v, 'increase_mib'), 0),
                f'{paired_ratio(results, v, ref, "increase_mib"):.2f}',
            ]
        )
    print(
        f'# {args.model}, {args.image_size} px, embed {args.embed_dim}; {args.iters} timed '
        f'steps after {args.warmup} warm-up; {args.repeats} interleaved rounds, fresh '
        f'process per run; device {args.device}'
    )
    print(format_table(HEADERS, rows))
    what = (
        'peak = torch.cuda.max_memory_allocated; rise = peak - allocated before the first step'
        if args.device.startswith('cuda')
        else 'peak = peak RSS of the process; rise = peak RSS - RSS before the first step'
    )
    print(
        f'# images/s: query + satellite images per wall-clock second, median over rounds '
        f'(range: min-max); images/CPU-s: per CPU second of the process; waited %: share '
        f"of the wall-clock the main thread waited for a core (other programs' load); "
        f'"vs" columns: median over rounds of the ratio to {ref!r} in the same round; '
        f'{what}'
    )
    if 'large' in variants and 'large+grad_cache' in variants:
        a, b = results['large'][0], results['large+grad_cache'][0]
        diff = max(abs(a['first_loss'] - b['first_loss']), abs(a['last_loss'] - b['last_loss']))
        ok = diff <= 1e-4 * max(1.0, abs(a['last_loss']))
        print(
            f'# sanity: loss at step 1 / step {args.warmup + args.iters}: large '
            f'{a["first_loss"]:.6f} / {a["last_loss"]:.6f}, large+grad_cache '
            f'{b["first_loss"]:.6f} / {b["last_loss"]:.6f} -> '
            f'{"equal" if ok else "DIFFERENT"} (max |diff| {diff:.2e})'
        )


if __name__ == '__main__':
    main()
