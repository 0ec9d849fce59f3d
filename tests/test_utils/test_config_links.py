"""Linked config variables (gleamkit/utils/config_links.py): one override of a top-level
variable reaches every field written from it, on the shipped configs and on a child config
of one's own; images and datasets built from the result show it took effect."""

import sys
import textwrap
from pathlib import Path

import pytest
from mmengine.config import Config

from gleamkit.registry import DATASETS
from gleamkit.utils import config_links
from gleamkit.utils.config_links import find_links, merge_linked_options

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'test_datasets'))
from replicas import make_university1652  # noqa: E402

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def load(name) -> Config:
    return Config.fromfile(str(ROOT / 'configs' / 'gleam_c' / f'{name}.py'))


def datasets(cfg) -> dict:
    found = {key: cfg[key].dataset for key in LOADERS}
    if cfg.get('val_cfg'):  # the configs: the evaluation loops' galleries
        found['gallery'] = cfg.val_cfg.gallery_dataloader.dataset
        found['test_gallery'] = cfg.test_cfg.gallery_dataloader.dataset
    else:  # the hand-written bases below: a hook's dataloader
        found['gallery'] = cfg.custom_hooks[0].dataloader.dataset
    return found


@pytest.fixture
def messages(monkeypatch):
    logged = []
    monkeypatch.setattr(config_links, 'print_log', lambda msg, **kw: logged.append(msg))
    return logged


def test_world_override_reaches_all_four_datasets(messages):
    cfg = load('phase2')
    before = datasets(cfg)['gallery'].world.num_locations
    assert before == 4000
    # mmengine alone: the top-level world changes, no dataset does (issue 10.3)
    plain = load('phase2')
    plain.merge_from_dict({'world.num_locations': 300})
    assert all(d.world.num_locations == 4000 for d in datasets(plain).values())

    merge_linked_options(
        cfg, {'world.num_locations': 300, 'world.num_distractors': 20, 'world.image_size': 32}
    )
    for key, dataset in datasets(cfg).items():
        assert (
            dataset.world.num_locations,
            dataset.world.num_distractors,
            dataset.world.image_size,
        ) == (300, 20, 32), key
        assert dataset.world.seed == 0 and dataset.world.difficulty == 0.5  # the rest kept
    line = next(m for m in messages if m.startswith('linked: world.num_locations=300'))
    for target in (
        'train_dataloader.dataset.world.num_locations',
        'val_dataloader.dataset.world.num_locations',
        'val_cfg.gallery_dataloader.dataset.world.num_locations',
        'test_cfg.gallery_dataloader.dataset.world.num_locations',
    ):
        assert target in line


def test_world_override_builds_the_smaller_world():
    cfg = load('phase1')
    merge_linked_options(
        cfg,
        {
            'world.num_locations': 40,
            'world.num_distractors': 7,
            'world.image_size': 16,
            'world.test_fraction': 0.25,
        },
    )
    gallery = DATASETS.build(cfg.val_cfg.gallery_dataloader.dataset)
    # 10 test places (40 x 0.25) + 7 distractor tiles, 16 px
    assert len(gallery) == 17
    assert tuple(gallery[0]['inputs']['reference'].shape) == (3, 16, 16)


def test_data_root_once_reaches_every_dataset_and_builds(tmp_path, messages):
    root = make_university1652(str(tmp_path / 'u1652'))['root']
    cfg = load('university1652_drone2sat')
    merge_linked_options(cfg, {'data_root': root})
    assert {key: d.data_root for key, d in datasets(cfg).items()} == dict.fromkeys(
        ('train_dataloader', 'val_dataloader', 'test_dataloader', 'gallery', 'test_gallery'), root
    )
    train = DATASETS.build(cfg.train_dataloader.dataset)
    gallery = DATASETS.build(cfg.test_cfg.gallery_dataloader.dataset)
    assert (len(train), len(gallery)) == (9, 5)


def test_a_field_set_on_the_command_line_keeps_its_value():
    cfg = load('university1652_drone2sat')
    merge_linked_options(
        cfg, {'data_root': '/a', 'val_cfg.gallery_dataloader.dataset.data_root': '/gallery'}
    )
    roots = {key: d.data_root for key, d in datasets(cfg).items()}
    assert roots == dict(
        train_dataloader='/a',
        val_dataloader='/a',
        test_dataloader='/a',
        gallery='/gallery',
        test_gallery='/a',
    )


def test_phase2_fusion_roots():
    cfg = load('phase2_fusion')
    merge_linked_options(cfg, {'data_root': '/u1652', 'vigor_root': '/vigor'})
    parts = [d.data_root for d in cfg.train_dataloader.dataset.datasets]
    assert parts == ['/u1652', '/vigor', None, None]
    assert cfg.val_dataloader.dataset.data_root == '/u1652'
    # every benchmark's protocol follows its root (validation and test)
    for loop in (cfg.val_cfg, cfg.test_cfg):
        u1652, vigor, ground, street_map = loop.protocols
        assert u1652.gallery_dataloader.dataset.data_root == '/u1652'
        assert vigor.dataloader.dataset.data_root == '/vigor'
        assert vigor.gallery_dataloader.dataset.data_root == '/vigor'
        assert ground.gallery_dataloader.dataset.data_root is None


def test_batch_size_reaches_loader_and_sampler_not_evaluation():
    cfg = load('vigor_same_area')
    merge_linked_options(cfg, {'batch_size': 32})
    assert cfg.train_dataloader.batch_size == cfg.train_dataloader.sampler.batch_size == 32
    # evaluation batches are their own literals (128), not written from batch_size
    assert cfg.val_dataloader.batch_size == cfg.val_cfg.gallery_dataloader.batch_size == 128


def test_image_size_reaches_every_pipeline_and_the_images(tmp_path):
    root = make_university1652(str(tmp_path / 'u1652'))['root']
    cfg = load('university1652_drone2sat')
    merge_linked_options(
        cfg, {'data_root': root, 'image_sizes.uav': [96, 64], 'image_sizes.satellite': [80, 80]}
    )
    for key, dataset in datasets(cfg).items():
        resize = next(t for t in dataset.pipeline if t['type'].__name__ == 'ResizeViews')
        assert resize['sizes'] == {'uav': [96, 64], 'satellite': [80, 80]}, key
    pair = DATASETS.build(cfg.train_dataloader.dataset)[0]
    assert tuple(pair['inputs']['query'].shape) == (3, 96, 64)
    assert tuple(pair['inputs']['reference'].shape) == (3, 80, 80)
    tile = DATASETS.build(cfg.test_cfg.gallery_dataloader.dataset)[0]
    assert tuple(tile['inputs']['reference'].shape) == (3, 80, 80)


def test_max_epochs_reaches_train_cfg_and_schedule():
    cfg = load('university1652_drone2sat')
    merge_linked_options(cfg, {'max_epochs': 10, 'warmup_epochs': 1})
    assert cfg.train_cfg.max_epochs == 10
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end, cosine.begin, cosine.end) == (0, 1, 1, 10)


def write_child(tmp_path, body: str) -> Path:
    """A base with a variable written into three datasets, and a child config."""
    (tmp_path / 'base.py').write_text(
        textwrap.dedent("""
        data_root = None
        world = dict(num_locations=4000, image_size=64)
        pipeline = [dict(type='Resize', size=world['image_size'])]
        train_dataloader = dict(batch_size=8, dataset=dict(type='A', data_root=data_root,
                                world=world, pipeline=pipeline))
        val_dataloader = dict(dataset=dict(type='A', data_root=data_root, world=world,
                                           pipeline=pipeline))
        test_dataloader = val_dataloader
        custom_hooks = [dict(type='H', dataloader=dict(dataset=dict(
            type='A', data_root=data_root, world=dict(world, split='gallery'))))]
        """)
    )
    child = tmp_path / 'child.py'
    child.write_text(
        'from mmengine.config import read_base\n\nwith read_base():\n'
        '    from .base import *\n\n' + textwrap.dedent(body)
    )
    return child


def test_a_child_config_that_reassigns_a_variable(tmp_path, messages):
    child = write_child(
        tmp_path,
        """
        data_root = '/data/mine'
        world['image_size'] = 32
        val_dataloader['dataset']['data_root'] = '/data/val'  # set after: kept
        """,
    )
    cfg = Config.fromfile(str(child))
    assert cfg.train_dataloader.dataset.data_root is None  # mmengine alone
    merge_linked_options(cfg)
    roots = {key: d.data_root for key, d in datasets(cfg).items()}
    # test_dataloader = val_dataloader in the base: test follows data_root, not later
    # edits of val_dataloader (a Runner field, not a variable)
    assert roots == dict(
        train_dataloader='/data/mine',
        val_dataloader='/data/val',
        test_dataloader='/data/mine',
        gallery='/data/mine',
    )
    for key, dataset in datasets(cfg).items():
        assert dataset.world.image_size == 32, key
    # dict(world, split=...) keeps its own key
    assert cfg.custom_hooks[0].dataloader.dataset.world.split == 'gallery'
    # world['image_size'] was read into the pipeline when the base ran
    assert cfg.train_dataloader.dataset.pipeline[0]['size'] == 32
    assert any('data_root=' in m and 'train_dataloader.dataset.data_root' in m for m in messages)


def test_loops_over_loaders_are_followed(tmp_path):
    child = write_child(
        tmp_path,
        """
        for _loader in (val_dataloader, test_dataloader):
            _loader['dataset']['world'] = dict(num_locations=10, image_size=8)
        del _loader
        """,
    )
    cfg = Config.fromfile(str(child))
    merge_linked_options(cfg, {'world.num_locations': 300})
    # the loop's own worlds are not written from `world` any more
    assert cfg.val_dataloader.dataset.world.num_locations == 10
    assert cfg.test_dataloader.dataset.world.num_locations == 10
    assert cfg.train_dataloader.dataset.world.num_locations == 300
    assert cfg.custom_hooks[0].dataloader.dataset.world.num_locations == 300


def test_fields_changed_by_code_not_followed_are_left_alone(tmp_path):
    child = write_child(
        tmp_path,
        """
        train_dataloader.get('dataset').update(data_root='/elsewhere')
        """,
    )
    cfg = Config.fromfile(str(child))
    merge_linked_options(cfg, {'data_root': '/new'})
    assert cfg.train_dataloader.dataset.data_root == '/elsewhere'
    assert cfg.val_dataloader.dataset.data_root == '/new'


def test_runner_fields_are_not_variables(tmp_path):
    """A leaf that turns validation off (val_evaluator = None) keeps its test evaluator,
    though the base wrote test_evaluator = val_evaluator."""
    (tmp_path / 'base.py').write_text(
        textwrap.dedent("""
        val_evaluator = dict(type='M', topk=(1, 5))
        test_evaluator = val_evaluator
        val_dataloader = dict(batch_size=4)
        test_dataloader = val_dataloader
        """)
    )
    child = tmp_path / 'child.py'
    child.write_text(
        'from mmengine.config import read_base\n\nwith read_base():\n'
        '    from .base import *\n\nval_evaluator = None\n'
    )
    cfg = Config.fromfile(str(child))
    merge_linked_options(cfg, {'val_dataloader.batch_size': 2})
    assert cfg.val_evaluator is None and cfg.test_evaluator == dict(type='M', topk=(1, 5))
    assert cfg.test_dataloader.batch_size == 4


def test_links_found_in_the_shipped_bases():
    found = {
        ('.'.join(map(str, link.target)), '.'.join(map(str, link.source)))
        for link in find_links(str(ROOT / 'configs' / 'gleam_c' / 'cvusa.py'))
    }
    for loader in (
        'train_dataloader',
        'val_dataloader',
        'val_cfg.gallery_dataloader',
        'test_cfg.gallery_dataloader',
    ):
        assert (f'{loader}.dataset.data_root', 'data_root') in found
        assert (f'{loader}.dataset.pipeline.1.sizes', 'image_sizes') in found
    assert ('train_dataloader.sampler.batch_size', 'batch_size') in found


def test_a_config_without_a_file_only_merges():
    cfg = Config(dict(data_root=None, train_dataloader=dict(dataset=dict(data_root=None))))
    merge_linked_options(cfg, {'data_root': '/x'})
    assert cfg.data_root == '/x' and cfg.train_dataloader.dataset.data_root is None
