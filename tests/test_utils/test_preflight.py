"""Checks before a run (gleamkit/utils/preflight.py), through prepare_config and
tools/train.py: every dataset a run reads is built first (errors name the config key and
the path), the sampler's batch agrees with the loader's, worker-only options follow
num_workers=0, and a wrong data root is reported before any pretrained model is fetched."""

import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from gleamkit.utils.preflight import check_batch_sizes, check_datasets, follow_worker_count
from gleamkit.utils.runtime import prepare_config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'test_datasets'))
from replicas import make_university1652  # noqa: E402

TINY_MODEL = ['model.backbone.model_name=convnext_atto', 'model.backbone.pretrained=False']


def load(name) -> Config:
    return Config.fromfile(str(ROOT / 'configs' / 'gleam_c' / f'{name}.py'))


def args(**kw) -> Namespace:
    base = dict(
        launcher='none',
        cfg_options=None,
        work_dir=None,
        load_from=None,
        resume=None,
        amp=False,
        no_validate=False,
        config='x.py',
    )
    return Namespace(**{**base, **kw})


@pytest.fixture(scope='module')
def u1652(tmp_path_factory):
    return make_university1652(str(tmp_path_factory.mktemp('data') / 'u1652'))['root']


@pytest.fixture(autouse=True)
def no_gleamkit_data(monkeypatch):
    monkeypatch.delenv('GLEAMKIT_DATA', raising=False)


def test_a_wrong_gallery_root_stops_before_training(u1652, tmp_path):
    cfg = load('university1652_drone2sat')
    missing = str(tmp_path / 'no_such_folder')
    options = {'data_root': u1652, 'val_cfg.gallery_dataloader.dataset.data_root': missing}
    with pytest.raises(FileNotFoundError) as info:
        prepare_config(cfg, args(cfg_options=options), mode='train')
    text = str(info.value)
    assert text.startswith(
        'val_cfg.gallery_dataloader.dataset (University1652Dataset, '
        f'data_root={missing!r}) cannot be loaded'
    )
    assert missing in text


def test_no_data_root_names_the_first_dataset_and_the_fix():
    cfg = load('university1652_drone2sat')
    with pytest.raises(
        ValueError,
        match=r'^train_dataloader.dataset \(University1652Dataset, '
        r'data_root=None\) cannot be loaded: .*GLEAMKIT_DATA',
    ):
        prepare_config(cfg, args(), mode='train')


def test_test_mode_reads_only_test_and_gallery(u1652):
    cfg = load('university1652_drone2sat')
    options = {
        'test_dataloader.dataset.data_root': u1652,
        'test_cfg.gallery_dataloader.dataset.data_root': u1652,
    }
    # train data has no data_root here: a preflight that read it would have failed
    assert cfg.train_dataloader.dataset.data_root is None
    prepare_config(cfg, args(cfg_options=options, load_from='x.pth'), mode='test')
    assert cfg.train_dataloader is None  # evaluation drops the training pieces


def test_no_validate_skips_the_evaluation_datasets(u1652):
    cfg = load('university1652_drone2sat')
    options = {'train_dataloader.dataset.data_root': u1652}
    prepare_config(cfg, args(cfg_options=options, no_validate=True), mode='train')


def test_sampler_and_loader_batch_must_agree():
    cfg = load('vigor_same_area')
    cfg.merge_from_dict({'train_dataloader.batch_size': 32})
    with pytest.raises(
        ValueError,
        match=r'train_dataloader.batch_size=32 but '
        r'train_dataloader.sampler.batch_size=128: they must be equal',
    ):
        check_batch_sizes(cfg)
    cfg = load('vigor_same_area')
    cfg.merge_from_dict({'batch_size': 32})  # mmengine alone: neither follows
    check_batch_sizes(cfg)


def test_num_workers_zero_drops_worker_only_options(u1652):
    cfg = load('university1652_drone2sat')
    cfg.merge_from_dict(
        {'train_dataloader.num_workers': 0, 'train_dataloader.dataset.data_root': u1652}
    )
    loader_cfg = dict(
        cfg.train_dataloader, batch_size=2, sampler=dict(cfg.train_dataloader.sampler, batch_size=2)
    )
    # as reported: torch refuses persistent workers without workers
    with pytest.raises(ValueError, match='persistent_workers option needs num_workers > 0'):
        Runner.build_dataloader(loader_cfg, seed=0)
    cfg.merge_from_dict({'train_dataloader.prefetch_factor': 2})
    follow_worker_count(cfg)
    assert 'persistent_workers' not in cfg.train_dataloader
    assert 'prefetch_factor' not in cfg.train_dataloader
    loader = Runner.build_dataloader(
        dict(
            cfg.train_dataloader,
            batch_size=2,
            sampler=dict(cfg.train_dataloader.sampler, batch_size=2),
        ),
        seed=0,
    )
    assert len(next(iter(loader))['data_samples']) == 2
    # with workers they stay
    assert cfg.val_dataloader.num_workers == 4 and 'persistent_workers' not in cfg.val_dataloader
    cfg = load('university1652_drone2sat')
    follow_worker_count(cfg)
    assert cfg.train_dataloader.persistent_workers is True


def test_every_dataset_is_built_once(u1652, monkeypatch):
    from gleamkit.registry import DATASETS

    built = []
    real = DATASETS.build
    monkeypatch.setattr(DATASETS, 'build', lambda c, *a, **k: built.append(c) or real(c))
    cfg = load('university1652_drone2sat')
    prepare_config(cfg, args(cfg_options={'data_root': u1652}), mode='train')
    # train, val (= test, not read in training) and the gallery
    assert [c['mode'] for c in built] == ['pairs', 'query', 'gallery']


@pytest.mark.slow
def test_tools_train_reports_missing_data_before_the_model_hub(tmp_path):
    """The University-1652 config with its pretrained ConvNeXt-B and no data: the data
    error comes first (issue 10.5), no download is tried."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE='1')
    env.pop('GLEAMKIT_DATA', None)
    run = subprocess.run(
        [
            sys.executable,
            'tools/train.py',
            'configs/gleam_c/university1652_drone2sat.py',
            '--work-dir',
            str(tmp_path / 'work'),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    text = run.stdout + run.stderr
    assert run.returncode != 0
    assert (
        'train_dataloader.dataset (University1652Dataset, data_root=None) cannot be loaded' in text
    ), text[-3000:]
    assert 'huggingface' not in text.lower() and 'hf_hub' not in text


def test_check_datasets_names_the_merged_datasets_roots(tmp_path):
    cfg = load('phase2_fusion')
    cfg.merge_from_dict({'check_datasets': True})
    with pytest.raises(
        ValueError,
        match=r'train_dataloader.dataset \(ConcatDataset, '
        r'data_roots=\[None, None, None, None\]\)',
    ):
        check_datasets(cfg, 'train')


def test_every_protocol_of_the_evaluation_loop_is_checked(u1652):
    """phase2_fusion validates on four benchmarks: the preflight reads each protocol's
    queries and gallery (the loop's keys), in training (val_cfg) and in test (test_cfg)."""
    from gleamkit.utils.preflight import run_dataloaders

    cfg = load('phase2_fusion')
    keys = [key for key, _ in run_dataloaders(cfg, 'train')]
    assert keys == [
        'train_dataloader',
        'val_dataloader',
        'val_cfg.protocols.0.gallery_dataloader',
        'val_cfg.protocols.1.dataloader',
        'val_cfg.protocols.1.gallery_dataloader',
        'val_cfg.protocols.2.dataloader',
        'val_cfg.protocols.2.gallery_dataloader',
        'val_cfg.protocols.3.dataloader',
        'val_cfg.protocols.3.gallery_dataloader',
    ]
    assert [key for key, _ in run_dataloaders(cfg, 'test')][:2] == [
        'test_dataloader',
        'test_cfg.protocols.0.gallery_dataloader',
    ]
    # University-1652 found; the second benchmark's missing root is named by its key
    cfg.merge_from_dict(
        {
            'check_datasets': True,
            'test_dataloader.dataset.data_root': u1652,
            'test_cfg.protocols.0.gallery_dataloader.dataset.data_root': u1652,
        }
    )
    with pytest.raises(
        ValueError,
        match=r'^test_cfg.protocols.1.dataloader.dataset '
        r'\(VIGORDataset, data_root=None\) cannot be loaded',
    ):
        check_datasets(cfg, 'test')
