"""Print the versions a gleamkit bug report needs.

Run ``python -m gleamkit.utils.collect_env`` and paste the output into the issue.
``--torch-build`` adds ``torch.__config__.show()`` (long). The last lines list what
importing gleamkit changes in mmengine, each checked live
(:func:`gleamkit.utils.mmengine_changes`).

Every probe is guarded: a package that is missing shows as ``not installed``, one
that is installed but fails to import shows its version and the import error, and
nothing here raises. Heavy imports happen inside the probes, not at module import.
"""

import argparse
import contextlib
import importlib
import importlib.metadata
import io
import os
import platform
import subprocess
import sys
import warnings
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

__all__ = ['collect_env', 'format_env', 'main']

NOT_INSTALLED = 'not installed'

#: (label, import name, distribution names that may provide it), in report order.
PACKAGES: Tuple[Tuple[str, str, Tuple[str, ...]], ...] = (
    ('TorchVision', 'torchvision', ('torchvision',)),
    ('MMEngine', 'mmengine', ('mmengine', 'mmengine-lite')),
    ('MMPretrain', 'mmpretrain', ('mmpretrain',)),
    ('MMCV', 'mmcv', ('mmcv', 'mmcv-lite', 'mmcv-full')),
    ('timm', 'timm', ('timm',)),
    ('transformers', 'transformers', ('transformers',)),
    ('peft', 'peft', ('peft',)),
    ('faiss', 'faiss', ('faiss-cpu', 'faiss-gpu', 'faiss-gpu-cu12', 'faiss-gpu-cu11', 'faiss')),
    ('numpy', 'numpy', ('numpy',)),
    ('Pillow', 'PIL', ('pillow', 'Pillow', 'pillow-simd')),
    (
        'OpenCV',
        'cv2',
        (
            'opencv-python',
            'opencv-python-headless',
            'opencv-contrib-python',
            'opencv-contrib-python-headless',
        ),
    ),
)


def _distribution(dist_names: Sequence[str]) -> Optional[Tuple[str, str]]:
    """Return ``(name, version)`` of the first installed distribution, or None."""
    for name in dist_names:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        except Exception:  # broken metadata must not break the report
            continue
    return None


@contextlib.contextmanager
def _quiet():
    """Silence warnings and stray prints of imported packages (they are not versions)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter('ignore')
        yield


def _import(name: str):
    """Import ``name`` quietly; return ``(module, None)`` or ``(None, error)``."""
    try:
        with _quiet():
            return importlib.import_module(name), None
    except Exception as error:  # ImportError, but also OSError/RuntimeError of broken builds
        return None, error


def package_version(import_name: str, dist_names: Sequence[str] = ()) -> str:
    """Describe the installed version of a package without ever raising.

    Args:
        import_name: Module to import (its ``__version__`` is the version shown).
        dist_names: Distributions that may provide it; shown in parentheses when it is
            not the obvious one (e.g. ``mmcv-lite``), and used when the import fails.

    Returns:
        e.g. ``'2.2.0 (mmcv-lite)'``, ``'not installed'`` or
        ``'1.15.1 (faiss-cpu), import failed: ImportError: ...'``.
    """
    dist = _distribution(dist_names)
    module, error = _import(import_name)
    provider = ''
    if dist is not None and dist[0].lower() not in (import_name.lower(), 'pillow'):
        provider = f' ({dist[0]})'
    if module is None:
        if dist is None and isinstance(error, ModuleNotFoundError):
            return NOT_INSTALLED
        version = dist[1] if dist is not None else 'unknown version'
        return f'{version}{provider}, import failed: {type(error).__name__}: {error}'
    version = getattr(module, '__version__', None) or (dist[1] if dist else 'unknown version')
    return f'{version}{provider}'


def _guard(probe: Callable[[], object]) -> str:
    """Run a probe; report its exception instead of raising it."""
    try:
        with _quiet():
            return str(probe())
    except Exception as error:
        return f'n/a ({type(error).__name__}: {error})'


def _cpu_flags() -> List[str]:
    """The CPU features that decide bf16 speed (Linux /proc/cpuinfo; empty elsewhere)."""
    wanted = ('avx512_bf16', 'amx_bf16', 'amx_tile', 'avx512f', 'avx2')
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    flags = set(line.split(':', 1)[1].split())
                    return [flag for flag in wanted if flag in flags]
    except OSError:
        pass
    return []


def _bf16_cpu(torch) -> str:
    """How bf16 runs on this CPU, which decides whether bf16 autocast pays off.

    ``native``: the CPU has bf16 instructions (AVX512-BF16 or AMX), where bf16 matmuls
    ran several times faster than fp32. ``converted``: oneDNN supports bf16 through plain
    AVX512 conversions (a 2048^2 matmul ran 5x slower than fp32 on such a CPU).
    ``emulated``: neither.
    """
    details = []
    onednn = None
    with contextlib.suppress(Exception):
        onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        details.append(f'oneDNN bf16: {"yes" if onednn else "no"}')
    flags = _cpu_flags()
    if flags:
        details.append('CPU flags: ' + ', '.join(flags))
    with contextlib.suppress(Exception):
        details.append(f'capability: {torch.backends.cpu.get_cpu_capability()}')
    try:
        with _quiet(), torch.autocast('cpu', dtype=torch.bfloat16):
            out = torch.ones(2, 2) @ torch.ones(2, 2)
        autocast = 'autocast ok' if out.dtype == torch.bfloat16 else f'autocast gave {out.dtype}'
    except Exception as error:
        autocast = f'autocast failed: {type(error).__name__}'
    details.append(autocast)
    if {'avx512_bf16', 'amx_bf16'} & set(flags):
        state = 'native'
    elif onednn and not flags and not sys.platform.startswith('linux'):
        state = 'supported (bf16 instructions unknown on this OS)'
    elif onednn:
        state = 'converted (no bf16 instructions; matmuls usually slower than fp32)'
    else:
        state = 'emulated (slow)'
    return f'{state} [{"; ".join(details)}]'


def _torch_info(env: Dict[str, str]) -> None:
    """Add torch, CUDA, cuDNN, devices, distributed backends and bf16 support."""
    torch, error = _import('torch')
    if torch is None:
        env['PyTorch'] = package_version('torch', ('torch',))
        return
    env['PyTorch'] = getattr(torch, '__version__', 'unknown version')
    env['torch threads'] = _guard(torch.get_num_threads)
    cuda_available = _guard(torch.cuda.is_available)
    env['CUDA available'] = cuda_available
    env['CUDA version (torch built with)'] = _guard(lambda: torch.version.cuda or 'none (CPU)')
    if getattr(torch.version, 'hip', None):
        env['HIP version'] = str(torch.version.hip)
    env['cuDNN'] = _guard(
        lambda: (
            torch.backends.cudnn.version()
            if torch.backends.cudnn.is_available()
            else 'not available'
        )
    )
    if cuda_available == 'True':
        groups: Dict[str, List[str]] = OrderedDict()
        for index in range(torch.cuda.device_count()):
            name = _guard(lambda index=index: torch.cuda.get_device_name(index))
            groups.setdefault(name, []).append(str(index))
        for name, indices in groups.items():
            env[f'GPU {",".join(indices)}'] = name
        env['CUDA_VISIBLE_DEVICES'] = os.environ.get('CUDA_VISIBLE_DEVICES', '(unset)')
    else:
        env['GPUs'] = 'none'
    mps = getattr(torch.backends, 'mps', None)
    if mps is not None and sys.platform == 'darwin':
        env['MPS available'] = _guard(mps.is_available)

    def backends():
        import torch.distributed as dist

        if not dist.is_available():
            return 'not available'
        names = [
            name
            for name, check in (
                ('gloo', dist.is_gloo_available),
                ('nccl', dist.is_nccl_available),
                ('mpi', dist.is_mpi_available),
            )
            if check()
        ]
        return ', '.join(names) or 'none'

    env['torch.distributed backends'] = _guard(backends)
    env['bf16 on CPU'] = _guard(lambda: _bf16_cpu(torch))


def _faiss_gpus(faiss_version: str) -> str:
    """GPUs faiss can use (0 for faiss-cpu builds)."""
    if faiss_version == NOT_INSTALLED:
        return NOT_INSTALLED
    faiss, _ = _import('faiss')
    if faiss is None:
        return 'n/a (faiss does not import)'
    if not hasattr(faiss, 'get_num_gpus'):
        return '0 (no GPU support in this build)'
    return _guard(faiss.get_num_gpus)


def _gleamkit_version() -> str:
    """gleamkit's version (from gleamkit.version) and, in a git checkout, its commit."""
    version_module, error = _import('gleamkit.version')
    if version_module is None:
        return f'unknown (import failed: {type(error).__name__}: {error})'
    version = getattr(version_module, '__version__', 'unknown')
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(version_module.__file__)))
    try:
        commit = subprocess.run(
            ['git', 'rev-parse', '--short', 'HEAD'],
            cwd=package_dir,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except Exception:  # not a checkout, or no git
        commit = ''
    return f'{version}+{commit}' if commit else version


def _mmengine_extras(env: Dict[str, str], torch_build: bool) -> None:
    """Add what mmengine's own collect_env knows and we do not (compiler, CUDA_HOME, NVCC)."""
    module, _ = _import('mmengine.utils.dl_utils')
    if module is None or not hasattr(module, 'collect_env'):
        return
    try:
        with _quiet():
            base = module.collect_env()
    except Exception as error:
        env['mmengine collect_env'] = f'failed ({type(error).__name__}: {error})'
        return
    for key in ('GCC', 'MSVC', 'CUDA_HOME', 'NVCC', 'MUSA available'):
        if key in base and base[key] not in (None, False):
            env[key] = str(base[key])
    if torch_build and 'PyTorch compiling details' in base:
        env['PyTorch compiling details'] = '\n' + str(base['PyTorch compiling details'])


def _gleamkit_changes(env: Dict[str, str]) -> None:
    """Add what importing gleamkit changes in mmengine, each checked live."""
    _import('gleamkit.registry')  # as any run does: attaches gleamkit's registries
    module, error = _import('gleamkit.utils.mmengine_changes')
    if module is None:
        env['gleamkit changes to mmengine'] = f'n/a ({type(error).__name__}: {error})'
        return
    try:
        with _quiet():
            changes = module.mmengine_changes()
    except Exception as error:
        env['gleamkit changes to mmengine'] = f'n/a ({type(error).__name__}: {error})'
        return
    for change in changes:
        state = 'active' if change.active else 'NOT active'
        env[f'gleamkit change [{change.what}]'] = f'{state} ({change.where}; {change.when})'


def collect_env(torch_build: bool = False) -> 'OrderedDict[str, str]':
    """Collect the environment of a gleamkit installation.

    Args:
        torch_build: Also include ``torch.__config__.show()``.

    Returns:
        Ordered ``{label: description}``; every value is a string and missing optional
        packages read ``'not installed'``.
    """
    env: OrderedDict[str, str] = OrderedDict()
    env['gleamkit'] = _gleamkit_version()
    env['Python'] = sys.version.replace('\n', ' ')
    env['Python executable'] = sys.executable
    env['Platform'] = _guard(platform.platform)
    env['Machine'] = platform.machine() or 'unknown'
    cpus = os.cpu_count()
    usable = None
    with contextlib.suppress(Exception):
        usable = len(os.sched_getaffinity(0))
    env['CPU count'] = f'{cpus}' + (f' ({usable} usable)' if usable not in (None, cpus) else '')
    _torch_info(env)
    for label, import_name, dist_names in PACKAGES:
        env[label] = package_version(import_name, dist_names)
        if label == 'faiss':
            env['faiss GPUs'] = _faiss_gpus(env[label])
    _mmengine_extras(env, torch_build)
    _gleamkit_changes(env)
    return env


def format_env(env: Dict[str, str]) -> str:
    """Format :func:`collect_env`'s result as ``label: value`` lines."""
    return '\n'.join(f'{key}: {value}' for key, value in env.items())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point: print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--torch-build',
        action='store_true',
        help='include torch.__config__.show() (how PyTorch was built)',
    )
    args = parser.parse_args(argv)
    print(format_env(collect_env(torch_build=args.torch_build)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
