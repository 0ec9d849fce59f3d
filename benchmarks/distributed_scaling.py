"""Data-parallel scaling of the gathered InfoNCE step: 1 vs N processes.

GLEAM-C's optimised training all-gathers the embeddings of every rank, so each
rank's loss sees the negatives of the whole global batch (OpenCLIP style). This
script trains ``CrossViewRetriever`` (``SymmetricInfoNCELoss(gather=True)``) with
one global batch of ``--batch-size`` pairs split over 1, 2, ... processes
(``torchrun``; gloo on CPU, nccl on CUDA; gleamkit's
``CrossViewDistributedDataParallel`` above one process) and reports global
images/s and the speed-up over one process.

Sanity check: before training, every run computes the loss and the gradients of
one global batch without stepping; the loss averaged over ranks and the
DDP-averaged gradients must equal those of the single process (the gathered
loss makes N processes compute exactly the full-batch loss). Exact only for
encoders without BatchNorm (per-rank statistics): the default ``convnext_atto``
uses LayerNorm.

On CPU every process gets one torch thread by default (``--threads`` to change
it): N processes use N cores, as N GPUs would be N devices, so the speed-up is
the scaling of the data-parallel step, gather and gradient all-reduce included.
On a machine whose cores other programs share, the wall-clock figures move with
their load; images per CPU-second (summed over the processes) much less.

Usage::

    python benchmarks/distributed_scaling.py [--nprocs 1,2] [--model convnext_atto]
        [--image-size 64] [--batch-size 64] [--iters 5] [--warmup 1] [--repeats 3]
        [--grad-cache-chunk C] [--device cuda]
"""

import argparse
import os
import socket
import sys
import tempfile

import torch

# run as a script (its worker processes too): benchmarks/ is on sys.path
from _common import (
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
    synchronize,
    write_result,
)

HEADERS = (
    'processes',
    'pairs/process',
    'threads/process',
    'images/s',
    'range',
    'speed-up',
    'efficiency',
    'images/CPU-s',
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def rows_of(batch: dict, start: int, stop: int) -> dict:
    """Samples ``[start, stop)`` of a collated batch (lists of images and samples)."""
    return dict(
        inputs={k: v[start:stop] for k, v in batch['inputs'].items()},
        data_samples=batch['data_samples'][start:stop],
    )


def build_model(args):
    from gleamkit.models import (
        CrossViewRetriever,
        EmbeddingHead,
        IdentityAdapter,
        SymmetricInfoNCELoss,
        TimmBackbone,
    )

    torch.manual_seed(0)
    return CrossViewRetriever(
        backbone=dict(type=TimmBackbone, model_name=args.model, pretrained=False),
        adapter=dict(type=IdentityAdapter),
        head=dict(type=EmbeddingHead, embed_dim=args.embed_dim),
        loss=dict(
            type=SymmetricInfoNCELoss,
            temperature=0.07,
            label_smoothing=0.1,
            gather=not args.no_gather,
        ),
        grad_cache_chunk=args.grad_cache_chunk,
    )


def worker_main(args) -> None:
    import torch.distributed as dist
    from mmengine.optim import OptimWrapper

    from gleamkit.models import CrossViewDistributedDataParallel

    class GradientCapture(OptimWrapper):
        """An ``OptimWrapper`` whose ``step`` records the gradients, updating nothing."""

        def step(self, **kwargs) -> None:
            params = [p for group in self.optimizer.param_groups for p in group['params']]
            self.grads = torch.cat(
                [p.grad.detach().flatten().cpu() for p in params if p.grad is not None]
            )

    if 'RANK' not in os.environ:  # a single process started without torchrun
        os.environ.update(
            RANK='0',
            WORLD_SIZE='1',
            LOCAL_RANK='0',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=str(free_port()),
        )
    rank, world = int(os.environ['RANK']), int(os.environ['WORLD_SIZE'])
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    cuda = args.device.startswith('cuda')
    if cuda:
        torch.cuda.set_device(local_rank)
    device = torch.device('cuda', local_rank) if cuda else torch.device('cpu')
    threads = args.threads or 1
    torch.set_num_threads(threads)
    dist.init_process_group('nccl' if cuda else 'gloo')

    if args.batch_size % world:
        raise SystemExit(f'--batch-size {args.batch_size} is not divisible by {world} processes')
    local = args.batch_size // world
    model = build_model(args).to(device)
    model.train()
    wrapped = model
    if world > 1:
        wrapped = CrossViewDistributedDataParallel(
            module=model, device_ids=[local_rank] if cuda else None, broadcast_buffers=False
        )
    optim_wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01))
    data = rows_of(
        cross_view_batch(args.batch_size, args.image_size), rank * local, (rank + 1) * local
    )

    # sanity: loss and gradients of one global batch through the training step
    # (DDP's reducer or the gradient cache's all-reduce), without updating
    capture = GradientCapture(torch.optim.SGD(model.parameters(), lr=0.0))
    loss = wrapped.train_step(data, capture)['loss'].detach().clone()
    if world > 1:
        dist.all_reduce(loss)
        loss /= world

    clock = StepClock()
    dist.barrier()
    for _ in range(args.warmup + args.iters):
        wrapped.train_step(data, optim_wrapper)
        synchronize(args.device)
        dist.barrier()  # the step ends when the slowest rank is done
        clock.tick()
    result = clock.throughput(args.warmup, 2 * args.batch_size)
    cpu_seconds = torch.tensor([result['cpu_seconds']], dtype=torch.float64)
    dist.all_reduce(cpu_seconds)  # the CPU time of every process
    result.update(
        cpu_seconds=float(cpu_seconds),
        images_per_cpu_s=result['steps'] * 2 * args.batch_size / float(cpu_seconds),
    )
    if rank == 0:
        torch.save(capture.grads, args.result + '.grads.pt')
        write_result(
            args.result,
            dict(**result, loss=float(loss), world=world, local_batch=local, threads=threads),
        )
    dist.barrier()
    dist.destroy_process_group()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--nprocs', default='1,2', help='comma-separated process counts; the first is the reference'
    )
    parser.add_argument('--model', default='convnext_atto', help='timm model (random weights)')
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--embed-dim', type=int, default=256)
    parser.add_argument(
        '--batch-size', type=int, default=64, help='global pairs per step, split over the processes'
    )
    parser.add_argument(
        '--grad-cache-chunk',
        type=int,
        default=None,
        help='also use gradient caching with chunks of this many pairs',
    )
    parser.add_argument(
        '--no-gather',
        action='store_true',
        help='local negatives only (each rank its own batch): the sanity '
        'check then shows the loss is no longer the full-batch one',
    )
    parser.add_argument('--iters', type=int, default=5, help='timed steps per run')
    parser.add_argument('--warmup', type=int, default=1, help='untimed first steps')
    parser.add_argument(
        '--tolerance',
        type=float,
        default=1e-4,
        help='relative tolerance of the loss/gradient sanity check',
    )
    add_common_args(parser, repeats=3)
    args = parser.parse_args(argv)
    if args.warmup < 1:
        parser.error('--warmup must be >= 1 (the clock starts at the end of a warm-up step)')
    return args


def compare(reference: dict, other: dict, tolerance: float) -> tuple:
    """(ok, message) for the loss and gradients of two runs."""
    ga = torch.load(reference['result_path'] + '.grads.pt', weights_only=True)
    gb = torch.load(other['result_path'] + '.grads.pt', weights_only=True)
    loss_diff = abs(reference['loss'] - other['loss'])
    grad_rel = float((ga - gb).norm() / ga.norm().clamp(min=1e-12))
    grad_max = float((ga - gb).abs().max())
    ok = loss_diff <= tolerance * max(1.0, abs(reference['loss'])) and grad_rel <= tolerance
    return ok, (
        f'loss {reference["loss"]:.6f} vs {other["loss"]:.6f} (|diff| {loss_diff:.2e}); '
        f'gradients: relative L2 diff {grad_rel:.2e}, max |diff| {grad_max:.2e}'
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker_main(args)
        return 0
    nprocs = [int(n) for n in args.nprocs.split(',') if n.strip()]
    variants = [f'{n}' for n in nprocs]
    argv = list(sys.argv[1:] if argv is None else argv)

    def command(variant, result):
        worker = [__file__, *argv, '--worker', variant, '--result', result]
        if variant == '1':  # one process needs no launcher (the worker sets the env)
            return [sys.executable, *worker]
        return [
            sys.executable,
            '-m',
            'torch.distributed.run',
            f'--nproc_per_node={variant}',
            '--nnodes=1',
            '--master_addr=127.0.0.1',
            f'--master_port={free_port()}',
            *worker,
        ]

    env = {'CUDA_VISIBLE_DEVICES': ''} if args.device == 'cpu' else {}
    env['OMP_NUM_THREADS'] = str(args.threads or 1)
    print(machine_line(args.device, args.threads or 1))
    with tempfile.TemporaryDirectory(prefix='gleamkit_bench_dist_') as keep:
        # result files (and the gradients next to them) stay until the check is done
        results = run_interleaved(variants, command, args.repeats, env=env, work_dir=keep)
        save_results(args.save_json, args, results)
        ref = variants[0]
        rows = []
        for v in variants:
            ips = [r['images_per_s'] for r in results[v]]
            first = results[v][0]
            up = paired_ratio(results, v, ref, 'images_per_s')
            rows.append(
                [
                    v,
                    str(first['local_batch']),
                    str(first['threads']),
                    fmt(median(ips)),
                    f'{min(ips):.1f}-{max(ips):.1f}',
                    f'{up:.3f}',
                    f'{up * int(ref) / int(v):.3f}',
                    fmt(median([r['images_per_cpu_s'] for r in results[v]])),
                ]
            )
        chunks = f', grad cache chunks of {args.grad_cache_chunk}' if args.grad_cache_chunk else ''
        print(
            f'# {args.model}, {args.image_size} px, global batch {args.batch_size} pairs '
            f'({2 * args.batch_size} images), {"local" if args.no_gather else "gathered"} '
            f'SymmetricInfoNCELoss{chunks}'
            f'; {args.iters} timed steps after {args.warmup} warm-up; {args.repeats} '
            f'interleaved rounds; backend {"nccl" if args.device != "cpu" else "gloo"}'
        )
        print(format_table(HEADERS, rows))
        print(
            f'# images/s: global (all processes) per wall-clock second, median over rounds '
            f'(range: min-max); speed-up: median over rounds of the ratio to {ref} '
            f'process(es) in the same round; efficiency: speed-up per process; images/CPU-s: '
            f'per CPU second summed over the processes'
        )
        status = 0
        for v in variants[1:]:
            ok, message = compare(results[ref][0], results[v][0], args.tolerance)
            print(
                f'# sanity {ref} vs {v} processes: {message} -> '
                f'{"equal" if ok else "DIFFERENT"} (tolerance {args.tolerance:g})'
            )
            status |= 0 if ok else 1
    return status


if __name__ == '__main__':
    sys.exit(main())
