"""What the benchmarks share: in-memory cross-view data, peak memory, fresh-process
runs interleaved over repeats, and the printed table.

Every measurement runs in a fresh Python process. On CPU the only honest peak
memory of a PyTorch process is its resident set: tracemalloc does not see
torch's C++ allocator, and ``torch.profiler``'s memory view slows the step it
measures. ``ru_maxrss`` (the kernel's high-water mark of the resident set) only
grows, so one variant per process is the only way to attribute a peak to it. On
CUDA the figure is ``torch.cuda.max_memory_allocated`` (tensors only, reset when
training starts).

The variants of one benchmark run in interleaved rounds (round 1: A, B, C;
round 2: A, B, C; ...), so that load from other programs on shared cores slows
them all alike; tables give medians over the rounds and ratios between medians
of the same run.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.utils.data import Dataset  # noqa: E402

MIB = 2**20
# ImageNet mean/std on the 0-255 scale: CrossViewDataPreprocessor's default.
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


# ----------------------------------------------------------------------------- data
def make_pairs(num: int, image_size: int, seed: int = 0):
    """``num`` random (query, satellite) uint8 image pairs, ``(num, 3, S, S)`` each."""
    gen = torch.Generator().manual_seed(seed)
    shape = (num, 3, image_size, image_size)
    query = torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)
    reference = torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)
    return query, reference


class InMemoryCrossViewDataset(Dataset):
    """One (query, satellite) pair per location, held in memory.

    Samples follow gleamkit's contract (what ``PackCrossViewInputs`` makes):
    ``dict(inputs=dict(query=CHW uint8, reference=CHW uint8),
    data_samples=CrossViewDataSample(metainfo=dict(view=..., location_id=...)))``.
    ``get_field`` lets ``UniqueLocationSampler`` read the locations without images.

    Config keys: ``num_locations``, ``image_size``, ``view`` (query view), ``seed``.
    """

    metainfo = dict(name='in-memory', reference_view='satellite')

    def __init__(
        self, num_locations: int = 512, image_size: int = 64, view: str = 'uav', seed: int = 0
    ):
        self.view = view
        self.query, self.reference = make_pairs(num_locations, image_size, seed)

    def __len__(self) -> int:
        return self.query.shape[0]

    def get_field(self, key: str) -> list:
        if key == 'location_id':
            return list(range(len(self)))
        if key == 'view':
            return [self.view] * len(self)
        raise KeyError(f'InMemoryCrossViewDataset has no field {key!r}')

    def __getitem__(self, idx: int) -> dict:
        from gleamkit.structures import CrossViewDataSample

        sample = CrossViewDataSample(metainfo=dict(view=self.view, location_id=int(idx)))
        return dict(
            inputs=dict(query=self.query[idx], reference=self.reference[idx]), data_samples=sample
        )


class PairTensorDataset(Dataset):
    """The same pairs as :class:`InMemoryCrossViewDataset`, the way Sample4Geo's
    datasets return them: ``(query, reference, label)`` tensors."""

    def __init__(self, num_locations: int = 512, image_size: int = 64, seed: int = 0):
        self.query, self.reference = make_pairs(num_locations, image_size, seed)

    def __len__(self) -> int:
        return self.query.shape[0]

    def __getitem__(self, idx: int):
        return self.query[idx], self.reference[idx], idx


def cross_view_batch(num: int, image_size: int, view: str = 'uav', seed: int = 0) -> dict:
    """A collated batch of ``num`` pairs as the Runner's dataloader yields it."""
    from mmengine.dataset import pseudo_collate

    dataset = InMemoryCrossViewDataset(num, image_size, view, seed)
    return pseudo_collate([dataset[i] for i in range(num)])


# --------------------------------------------------------------------------- memory
def current_rss_mib() -> float:
    with open('/proc/self/statm') as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf('SC_PAGE_SIZE') / MIB


def peak_rss_mib() -> float:
    """The process's resident-set high-water mark (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MemoryProbe:
    """Peak memory of what runs between :meth:`start` and :meth:`stop`.

    CUDA: ``max_memory_allocated`` (peak) and its rise over the memory allocated
    at ``start``. CPU: the process's peak RSS and its rise over the RSS at
    ``start`` (model, optimizer and data already built): activations, gradients,
    optimizer state and allocator slack of the training steps.
    """

    def __init__(self, device: str):
        self.device = torch.device(device)
        self.base = 0.0

    def start(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device) / MIB
        else:
            self.base = current_rss_mib()

    def stop(self) -> dict:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device) / MIB
        else:
            peak = peak_rss_mib()
        return dict(peak_mib=peak, increase_mib=max(0.0, peak - self.base))


def synchronize(device: str) -> None:
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def runqueue_wait_s() -> Optional[float]:
    """Seconds the main thread has been runnable but waiting for a core (Linux
    ``/proc/self/schedstat``, second field, ns); ``None`` where unavailable."""
    try:
        with open('/proc/self/schedstat') as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class StepClock:
    """The wall-clock and process-CPU time at the end of every step.

    Wall-clock images/s is what a user waits for, but on shared cores it moves
    with the neighbours' load. The CPU time this process spent per image moves
    much less (with one torch thread and no loader workers it is the work the
    step did, whoever else runs), so the tables give both, and the share of the
    wall-clock time the main thread was ready to run but waited for a core.
    """

    def __init__(self):
        self.wall: List[float] = []
        self.cpu: List[float] = []
        self.waited: List[Optional[float]] = []

    def tick(self) -> None:
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())
        self.waited.append(runqueue_wait_s())

    def __len__(self) -> int:
        return len(self.wall)

    def throughput(self, warmup: int, images_per_step: int) -> dict:
        """Images per wall-clock second and per CPU second of this process over the
        steps after ``warmup``, from the end of the last warm-up step to the end of
        the last step (data loading and everything between steps counts)."""
        if len(self.wall) <= warmup or warmup < 1:
            raise ValueError(
                f'need warmup >= 1 and more steps than warmup, got '
                f'{len(self.wall)} steps and warmup={warmup}'
            )
        steps = len(self.wall) - warmup
        seconds = self.wall[-1] - self.wall[warmup - 1]
        cpu_seconds = self.cpu[-1] - self.cpu[warmup - 1]
        images = steps * images_per_step
        waited = None
        if self.waited[-1] is not None and self.waited[warmup - 1] is not None:
            waited = (self.waited[-1] - self.waited[warmup - 1]) / seconds
        return dict(
            images_per_s=images / seconds,
            images_per_cpu_s=images / cpu_seconds,
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            steps=steps,
            waited_share=waited,
        )


def make_timing_hook(device: str, on_start: Optional[Callable] = None):
    """An mmengine hook that records the end of every training iteration (after
    all other hooks: it is registered with the lowest priority)."""
    from mmengine.hooks import Hook

    class StepTimerHook(Hook):
        priority = 'LOWEST'

        def __init__(self):
            self.clock = StepClock()

        def before_train(self, runner) -> None:
            if on_start is not None:
                on_start()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            synchronize(device)
            self.clock.tick()

    return StepTimerHook()


# ------------------------------------------------------------------------- workers
def add_common_args(parser, repeats: int) -> None:
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda' (default: cpu)")
    parser.add_argument(
        '--repeats',
        type=int,
        default=repeats,
        help='interleaved rounds; each variant runs once per round in a '
        f'fresh process (default: {repeats})',
    )
    parser.add_argument(
        '--threads', type=int, default=None, help="torch threads per process (default: torch's own)"
    )
    parser.add_argument('--save-json', help="also write every run's raw numbers here")
    # internal: the parent process runs each variant through these
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--result', help=argparse.SUPPRESS)


def set_threads(threads: Optional[int]) -> None:
    if threads:
        torch.set_num_threads(threads)


def write_result(path: str, result: dict) -> None:
    with open(path, 'w') as f:
        json.dump(result, f)


def run_interleaved(
    variants: Sequence[str],
    command: Callable[[str, str], List[str]],
    repeats: int,
    timeout: float = 1800,
    env: Optional[dict] = None,
    work_dir: Optional[str] = None,
) -> Dict[str, List[dict]]:
    """Run ``command(variant, result_path)`` for every variant in each of ``repeats``
    rounds (fresh process each) and collect the JSON each writes to ``result_path``
    (plus ``result_path`` itself under ``'result_path'``). Result files go to
    ``work_dir`` when given (kept), else to a temporary folder."""
    results: Dict[str, List[dict]] = {v: [] for v in variants}
    run_env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]
        ),
    )
    run_env.update(env or {})
    with tempfile.TemporaryDirectory(prefix='gleamkit_bench_') as tmp:
        tmp = work_dir or tmp
        for round_idx in range(repeats):
            for index, variant in enumerate(variants):
                path = os.path.join(tmp, f'round{round_idx}_variant{index}.json')
                cmd = command(variant, path)
                start = time.perf_counter()
                out = subprocess.run(
                    cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=run_env
                )
                if out.returncode != 0 or not os.path.isfile(path):
                    raise RuntimeError(
                        f'variant {variant!r} failed (exit {out.returncode}): {" ".join(cmd)}'
                        f'\n--- stdout\n{out.stdout[-4000:]}\n--- stderr\n{out.stderr[-4000:]}'
                    )
                with open(path) as f:
                    result = json.load(f)
                result['result_path'] = path
                results[variant].append(result)
                print(
                    f'[round {round_idx + 1}/{repeats}] {variant}: '
                    f'{result.get("images_per_s", float("nan")):.1f} images/s '
                    f'({time.perf_counter() - start:.0f} s with start-up)',
                    file=sys.stderr,
                    flush=True,
                )
    return results


# -------------------------------------------------------------------------- tables
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float('nan')


def waited_percent(runs: Sequence[dict]) -> str:
    """Median share of wall-clock spent waiting for a core, as a table cell."""
    shares = [r['waited_share'] for r in runs if r.get('waited_share') is not None]
    return f'{100 * median(shares):.0f}' if shares else '-'


def paired_ratio(results: Dict[str, List[dict]], variant: str, baseline: str, key: str) -> float:
    """Median over rounds of ``variant / baseline``, each ratio taken within one round
    (the two ran back to back, under about the same load)."""
    return median([a[key] / b[key] for a, b in zip(results[variant], results[baseline])])


def save_results(path: Optional[str], args, results: Dict[str, List[dict]]) -> None:
    """Every run's raw numbers (``--save-json``), for later analysis."""
    if not path:
        return
    options = {k: v for k, v in vars(args).items() if k not in ('worker', 'result')}
    with open(path, 'w') as f:
        json.dump(
            dict(
                options={k: str(v) for k, v in options.items()}, machine=cpu_name(), results=results
            ),
            f,
            indent=1,
        )


def fmt(value: Optional[float], digits: int = 1) -> str:
    if value is None:
        return '-'
    return f'{value:.{digits}f}'


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (pastes into docs/performance.md as is)."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return '| ' + ' | '.join(str(c).ljust(w) for c, w in zip(cells, widths)) + ' |'

    sep = '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    return '\n'.join([line(headers), sep, *(line(r) for r in rows)])


def machine_line(device: str, threads: Optional[int] = None) -> str:
    """What ran the benchmark (printed above every table)."""
    if torch.device(device).type == 'cuda':
        where = torch.cuda.get_device_name(0)
    else:
        where = cpu_name()
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    return (
        f'# {where}; {os.cpu_count()} logical CPUs; torch {torch.__version__}; '
        f'Python {platform.python_version()}; torch threads/process '
        f'{threads or torch.get_num_threads()}; load average at start {load:.2f}'
    )


def cpu_name() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'CPU'
