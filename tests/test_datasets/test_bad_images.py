"""Issue 10.11: an image that cannot be read while training. Default: stop, naming
the file and tools/misc/check_dataset.py; ``on_corrupt='skip'``: serve another
sample, count the file and report it at the end of the epoch, also when the
samples are loaded by dataloader worker processes."""

import os.path as osp

import pytest
import torch
from replicas import write_image

from gleamkit.datasets import CrossViewPairListDataset, LoadCrossViewImages, PackCrossViewInputs
from gleamkit.datasets.checks import BadImageError
from gleamkit.datasets.pair_list import write_pair_list
from gleamkit.engine.hooks import SkippedImageReportHook

PIPELINE = [dict(type=LoadCrossViewImages), dict(type=PackCrossViewInputs)]


def make_list(root, corrupt=('q/a2.jpg',)):
    """4 places x 2 drone images each; the files in ``corrupt`` are not images."""
    rows = []
    for place in 'ABCD':
        write_image(osp.join(root, 'sat', f'{place}.png'), 1)
        for k in (1, 2):
            name = f'q/{place.lower()}{k}.jpg'
            write_image(osp.join(root, name), 2)
            rows.append(dict(query=name, satellite=f'sat/{place}.png', view='uav'))
    for name in corrupt:
        with open(osp.join(root, name), 'w') as f:
            f.write('not an image')
    return write_pair_list(osp.join(root, 'pairs.csv'), rows)


@pytest.mark.slow
def test_default_stops_naming_the_file_and_the_checker(tmp_path):
    ds = CrossViewPairListDataset(
        ann_file=make_list(str(tmp_path)), mode='pairs', pipeline=PIPELINE
    )
    ds[0]
    with pytest.raises(
        BadImageError,
        match=r'sample 1 cannot be loaded: corrupt image '
        r'.*a2\.jpg \(.*\)\. List every bad image of the config with python '
        r"tools/misc/check_dataset\.py CONFIG.*on_corrupt='skip'",
    ):
        ds[1]


def test_skip_serves_another_image_of_the_same_place(tmp_path):
    ds = CrossViewPairListDataset(
        ann_file=make_list(str(tmp_path)), mode='pairs', pipeline=PIPELINE, on_corrupt='skip'
    )
    out = ds[1]  # a2.jpg is corrupt: a1.jpg (same place A) replaces it
    meta = out['data_samples'].metainfo
    assert meta['query_path'].endswith('a1.jpg')
    assert meta['location_id'] == ds.get_data_info(1)['location_id']
    ((path, kind, _),) = meta['skipped_bad_images']
    assert path.endswith('a2.jpg') and kind == 'corrupt'
    ds[1]
    assert dict(ds.bad_images_skipped) == {path: 2}
    assert 'skipped_bad_images' not in ds[0]['data_samples'].metainfo


def test_skip_falls_back_to_another_place_when_the_place_has_none(tmp_path):
    ds = CrossViewPairListDataset(
        ann_file=make_list(str(tmp_path), ('q/b1.jpg', 'q/b2.jpg')),
        mode='pairs',
        pipeline=PIPELINE,
        on_corrupt='skip',
    )
    out = ds[2]
    assert out['data_samples'].metainfo['query_path'].rsplit('/', 1)[1][0] in 'acd'
    assert len(out['data_samples'].metainfo['skipped_bad_images']) >= 2  # b1 then b2


def test_skip_is_refused_for_evaluation(tmp_path):
    with pytest.raises(ValueError, match=r"on_corrupt='skip' is for training"):
        CrossViewPairListDataset(ann_file=make_list(str(tmp_path)), mode='query', on_corrupt='skip')
    with pytest.raises(ValueError, match=r"on_corrupt='ignore', expected one of"):
        CrossViewPairListDataset(
            ann_file=make_list(str(tmp_path)), mode='pairs', on_corrupt='ignore'
        )


class _Runner:
    epoch, iter = 0, 0


@pytest.mark.slow
@pytest.mark.parametrize('num_workers', [0, 2])
def test_hook_counts_skips_made_in_worker_processes(tmp_path, num_workers):
    from mmengine.dataset import pseudo_collate

    ds = CrossViewPairListDataset(
        ann_file=make_list(str(tmp_path), ('q/a2.jpg', 'q/c1.jpg')),
        mode='pairs',
        pipeline=PIPELINE,
        on_corrupt='skip',
    )
    loader = torch.utils.data.DataLoader(
        ds, batch_size=3, num_workers=num_workers, collate_fn=pseudo_collate
    )
    hook = SkippedImageReportHook()
    runner = _Runner()
    for epoch in range(2):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        for i, batch in enumerate(loader):
            hook.after_train_iter(runner, i, batch)
        hook.after_train_epoch(runner)
    assert [h['samples'] for h in hook.history] == [2, 2]
    files = {osp.basename(p): n for p, n in hook.history[0]['files'].items()}
    assert files == {'a2.jpg': 1, 'c1.jpg': 1}
    # the parent's dataset object saw the skips only when it loaded the samples itself
    assert sum(ds.bad_images_skipped.values()) == (4 if num_workers == 0 else 0)


@pytest.fixture()
def isolated_mmengine_globals():
    """Undo the global instances the Runner registers (its 'mmengine' default scope
    would otherwise change how registries resolve names in later tests)."""
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.registry import DefaultScope
    from mmengine.visualization import Visualizer

    managers = (DefaultScope, MessageHub, MMLogger, Visualizer)
    saved = {manager: dict(manager._instance_dict) for manager in managers}
    yield
    for manager, instances in saved.items():
        manager._instance_dict.clear()
        manager._instance_dict.update(instances)


@pytest.mark.slow
def test_runner_epoch_reports_skipped_files(tmp_path, isolated_mmengine_globals):
    """A real mmengine training run, 2 dataloader workers: the log names the file."""
    from mmengine.dataset import pseudo_collate
    from mmengine.logging import MMLogger
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Tiny(BaseModel):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, inputs, data_samples=None, mode='loss'):
            x = torch.stack([q.float().mean() for q in inputs['query']])
            return dict(loss=((x - self.w) ** 2).mean())

    hook = SkippedImageReportHook()
    runner = Runner(
        model=Tiny(),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(
            dataset=CrossViewPairListDataset(
                ann_file=make_list(str(tmp_path / 'data')),
                mode='pairs',
                pipeline=PIPELINE,
                on_corrupt='skip',
            ),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            num_workers=2,
            collate_fn=pseudo_collate,
        ),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        custom_hooks=[hook],
        default_hooks=dict(checkpoint=None),
        experiment_name=f'bad_images_{id(tmp_path)}',
    )
    runner.train()
    assert hook.history == [
        dict(epoch=0, samples=1, files={osp.join(str(tmp_path / 'data'), 'q/a2.jpg'): 1})
    ]
    log = open(MMLogger.get_current_instance().log_file).read()
    assert (
        'SkippedImageReportHook: epoch 1: 1 samples were replaced because 1 image files '
        'could not be read'
    ) in log
    assert 'a2.jpg' in log and 'tools/misc/check_dataset.py' in log


def test_ground_photo_sets_name_the_bad_member(tmp_path):
    from replicas import make_ground_sets

    from gleamkit.datasets import (
        GroundImageSetDataset,
        LoadImageSet,
        PackImageSetInputs,
        ResizeImageSet,
    )

    g = make_ground_sets(str(tmp_path / 'SetVL-480K'))
    bad = osp.join(g['root'], 'ground', 'c01', 'c01_001.jpg')
    with open(bad, 'wb') as f:
        f.write(b'\xff\xd8 truncated')
    pipeline = [
        dict(type=LoadImageSet),
        dict(type=ResizeImageSet, size=(8, 8)),
        dict(type=PackImageSetInputs),
    ]
    ds = GroundImageSetDataset(data_root=g['root'], split='train', mode='query', pipeline=pipeline)
    with pytest.raises(BadImageError, match=r'corrupt image .*c01_001\.jpg.*check_dataset'):
        ds[1]
    ds = GroundImageSetDataset(
        data_root=g['root'], split='train', mode='pairs', pipeline=pipeline, on_corrupt='skip'
    )
    out = ds[1]  # cell c01's set holds the bad photo: the other cell's set replaces it
    assert out['data_samples'].metainfo['skipped_bad_images'][0][0] == bad
    assert out['inputs']['query'].shape[0] == 5  # c00's five photos


@pytest.mark.slow
def test_hook_gathers_the_skips_of_every_rank(tmp_path, free_port):
    """2 ranks (torchrun, gloo), each skipping one file in its half of the data:
    the epoch report of every rank holds both."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    ann = make_list(str(tmp_path / 'data'), ('q/a2.jpg', 'q/c1.jpg'))  # index 1 and 4
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'torch.distributed.run',
            '--nproc_per_node=2',
            f'--master_port={free_port}',
            str(root / 'tests/dist_workers/skipped_image_report_worker.py'),
            ann,
            str(tmp_path / 'history'),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rank in (0, 1):
        history = json.loads((tmp_path / f'history.{rank}.json').read_text())
        assert len(history) == 1 and history[0]['samples'] == 2
        assert sorted(osp.basename(p) for p in history[0]['files']) == ['a2.jpg', 'c1.jpg']
