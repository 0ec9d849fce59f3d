"""Run the tutorials' code blocks and commands, in order, as a reader would.

``python`` blocks run in this process (a block that starts with ``# <file>.py`` is saved
as that file instead); ``bash`` blocks run in a shell in the same folder, with the
checkout as ``$GLEAMKIT``. Training and test commands (``tools/train.py``,
``tools/test.py``, ``tools/dist_*.sh``) get ``--cfg-options`` that shrink the built-in
world and the model (:data:`TINY`), so a tutorial's real command runs in seconds. A
block right after ``<!-- docs-test: skip REASON -->`` is not run (installs, downloads).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts subprocesses / runs (see CONTRIBUTING.md)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / 'docs'
TUTORIALS = sorted((DOCS / 'tutorials').glob('*.md'))
BLOCK = re.compile(r'(<!-- docs-test: skip[^>]*-->\s*)?```(python|bash)\n(.*?)```', re.S)
FILE_HEADER = re.compile(r'#\s*([\w/]+\.py)\b')

_WORLD = dict(seed=1, num_locations=48, num_distractors=8, image_size=32, difficulty=0.3)
TINY = [
    f'{loader}.dataset.world.{key}={value}'
    for loader in (
        'train_dataloader',
        'val_dataloader',
        'test_dataloader',
        'val_cfg.gallery_dataloader',
        'test_cfg.gallery_dataloader',
    )
    for key, value in _WORLD.items()
] + [
    'train_dataloader.batch_size=8',
    'train_dataloader.sampler.batch_size=8',
    'val_dataloader.batch_size=16',
    'test_dataloader.batch_size=16',
    'model.backbone.type=TimmBackbone',
    'model.backbone.model_name=resnet10t',
    'model.backbone.norm_eval=False',
    'model.head.embed_dim=32',
    'train_cfg.max_epochs=1',
    'train_cfg.val_interval=1',
    'default_hooks.logger.interval=1',
]

# `python .../tools/train.py ...` and `bash .../tools/dist_train.sh ...` get TINY appended
_SHELL_PRELUDE = r"""
set -euo pipefail
python() {
  case "${1:-}" in
    *tools/train.py|*tools/test.py) command python "$@" --cfg-options $DOCS_TINY ;;
    *) command python "$@" ;;
  esac
}
bash() {
  case "${1:-}" in
    *tools/dist_train.sh|*tools/dist_test.sh) command bash "$@" --cfg-options $DOCS_TINY ;;
    *) command bash "$@" ;;
  esac
}
"""


def blocks(page: Path):
    """``(language, code, skipped)`` of each fenced python/bash block, in order."""
    return [(lang, code, bool(skip)) for skip, lang, code in BLOCK.findall(page.read_text())]


def run_shell(code: str, cwd: Path, name: str, port: int):
    cache = cwd / 'world_cache'
    tiny = TINY + [
        f'{loader}.dataset.cache_dir={cache}'
        for loader in (
            'train_dataloader',
            'val_dataloader',
            'test_dataloader',
            'val_cfg.gallery_dataloader',
            'test_cfg.gallery_dataloader',
        )
    ]
    env = dict(
        os.environ,
        GLEAMKIT=str(ROOT),
        PYTHONPATH=str(ROOT),
        PYTHON=sys.executable,
        PATH=f'{Path(sys.executable).parent}{os.pathsep}{os.environ["PATH"]}',
        DOCS_TINY=' '.join(tiny),
        OMP_NUM_THREADS='1',
        PORT=str(port),
    )
    out = subprocess.run(
        ['bash', '-c', _SHELL_PRELUDE + code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, (
        f'{name} failed:\n{code}\n--- stdout\n{out.stdout[-3000:]}'
        f'\n--- stderr\n{out.stderr[-5000:]}'
    )
    return out


@pytest.mark.parametrize('page', TUTORIALS, ids=[p.name for p in TUTORIALS])
def test_tutorial_code_blocks_run(page, tmp_path, monkeypatch, free_port):
    found = blocks(page)
    assert any(lang == 'python' for lang, _, _ in found), f'{page} has no python code blocks'
    monkeypatch.chdir(tmp_path)
    namespace = {'__name__': f'tutorial_{page.stem}'}
    monkeypatch.syspath_prepend(str(tmp_path))
    # pages may save files of the same name (my_adapters.py): import this page's own
    for lang, code, _ in found:
        header = FILE_HEADER.match(code) if lang == 'python' else None
        if header:
            module = header.group(1)[: -len('.py')].replace('/', '.')
            monkeypatch.delitem(sys.modules, module, raising=False)
    try:
        _run_blocks(page, found, tmp_path, namespace, free_port)
    finally:
        for name, module in list(sys.modules.items()):
            if str(getattr(module, '__file__', None) or '').startswith(str(tmp_path)):
                del sys.modules[name]


def _run_blocks(page, found, tmp_path, namespace, free_port):
    for i, (lang, code, skipped) in enumerate(found, start=1):
        name = f'{page.name}[block {i}]'
        if skipped:
            continue
        if lang == 'bash':
            run_shell(code, tmp_path, name, free_port)
            continue
        header = FILE_HEADER.match(code)
        if header:  # a file the reader saves, imported by later blocks
            target = tmp_path / header.group(1)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(code)
            continue
        exec(compile(code, name, 'exec'), namespace)


def test_shell_prelude_adds_the_tiny_options_to_tool_commands(tmp_path, free_port):
    # a stand-in for tools/train.py that prints its arguments
    fake = tmp_path / 'tools' / 'train.py'
    fake.parent.mkdir()
    fake.write_text('import sys; print(sys.argv[1:])\n')
    out = run_shell(
        'python tools/train.py cfg.py --work-dir w\npython -c "print(7)"',
        tmp_path,
        'prelude',
        free_port,
    )
    first, second = out.stdout.strip().splitlines()
    assert first.startswith(
        "['cfg.py', '--work-dir', 'w', '--cfg-options', 'train_dataloader.dataset.world.seed=1'"
    )
    assert "'model.backbone.model_name=resnet10t'" in first and second == '7'


_DDP_WORKER = """
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from my_losses import SoftMarginTripletLoss


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(12, 8)
        self.loss = SoftMarginTripletLoss(alpha=10.0)

    def forward(self, q, r):
        embed = lambda x: torch.nn.functional.normalize(self.net(x), dim=1)  # noqa: E731
        return self.loss(embed(q), embed(r))


g = torch.Generator().manual_seed(1)
q, r = torch.randn(8, 12, generator=g), torch.randn(8, 12, generator=g)
if sys.argv[2] == 'ddp':
    dist.init_process_group('gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    model = DistributedDataParallel(Encoder())
    per = 8 // world
    model(q[rank * per:(rank + 1) * per], r[rank * per:(rank + 1) * per]).backward()
    grads = {n: p.grad for n, p in model.module.named_parameters()}
else:
    rank, model = 0, Encoder()
    model(q, r).backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
if rank == 0:
    torch.save(grads, sys.argv[1])
if sys.argv[2] == 'ddp':
    dist.barrier()
    dist.destroy_process_group()
"""


def test_tutorial_loss_under_ddp_has_the_full_batch_gradient(tmp_path, free_port):
    """The claim of new_loss_and_adapter.md section 2, for its own loss."""
    import torch

    page = DOCS / 'tutorials' / 'new_loss_and_adapter.md'
    source = next(
        code
        for lang, code, _ in blocks(page)
        if lang == 'python' and code.startswith('# my_losses.py')
    )
    (tmp_path / 'my_losses.py').write_text(source)
    (tmp_path / 'worker.py').write_text(_DDP_WORKER)
    env = dict(os.environ, PYTHONPATH=f'{ROOT}{os.pathsep}{tmp_path}', OMP_NUM_THREADS='1')
    for cmd in (
        [sys.executable, 'worker.py', 'single.pt', 'single'],
        [
            sys.executable,
            '-m',
            'torch.distributed.run',
            '--nproc_per_node=2',
            f'--master_port={free_port}',
            'worker.py',
            'ddp.pt',
            'ddp',
        ],
    ):
        out = subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, out.stderr[-3000:]
    single, ddp = torch.load(tmp_path / 'single.pt'), torch.load(tmp_path / 'ddp.pt')
    for name in single:
        assert float(single[name].abs().max()) > 0
        torch.testing.assert_close(ddp[name], single[name], rtol=1e-5, atol=1e-7)
    # without gathering each process sees only its own 3 negatives per row: different
    (tmp_path / 'my_losses.py').write_text(source.replace('gather=True', 'gather=False'))
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    local = torch.load(tmp_path / 'ddp.pt')
    assert not torch.allclose(local['net.weight'], single['net.weight'], rtol=1e-3)
