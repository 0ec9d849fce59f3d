"""A misspelt config key names the component, its key path and the keys accepted."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import EpochBasedTrainLoop

from gleamkit.models import CrossViewRetriever, EmbeddingHead, WeightedInfoNCELoss
from gleamkit.registry import LOSSES, MODELS
from gleamkit.utils.config_keys import (
    UnknownConfigKeyError,
    accepted_keys,
    explain_config_errors,
    unknown_key_error,
)

ROOT = Path(__file__).resolve().parents[2]


def test_registry_build_names_component_accepted_keys_and_closest():
    with pytest.raises(UnknownConfigKeyError) as err:
        MODELS.build(dict(type='EmbeddingHead', in_channels=8, embed_dimm=4))
    msg = str(err.value)
    assert msg.startswith(
        'EmbeddingHead (gleamkit.models.heads.embedding_head) has no config '
        "key 'embed_dimm'. Did you mean 'embed_dim'? Accepted keys: "
        'in_channels, embed_dim, pooling, norm,'
    )
    assert isinstance(err.value, TypeError)  # still a TypeError for existing handlers
    assert err.value.component is EmbeddingHead and err.value.key == 'embed_dimm'


def test_nested_build_blames_the_inner_component():
    cfg = dict(
        type='CrossViewRetriever',
        backbone=dict(type='TimmBackbone', model_name='resnet10t'),
        head=dict(type='EmbeddingHead', embed_dimm=8),
    )
    with pytest.raises(UnknownConfigKeyError) as err:
        MODELS.build(cfg)
    assert err.value.component is EmbeddingHead  # not CrossViewRetriever, which passed it on


def test_accepted_keys_follow_kwargs_up_the_bases():
    keys = accepted_keys(WeightedInfoNCELoss)  # __init__(*args, positive_k, ..., **kwargs)
    assert keys[:3] == ['positive_k', 'semi_positive_weight', 'use_semi_positives']
    assert 'temperature' in keys and 'label_smoothing' in keys
    with pytest.raises(UnknownConfigKeyError, match="Did you mean 'temperature'"):
        LOSSES.build(dict(type='WeightedInfoNCELoss', temprature=0.1))
    assert accepted_keys(lambda **kw: None) is None  # open-ended: no list to offer


def test_config_path_for_a_nested_model_key():
    cfg = Config.fromfile(str(ROOT / 'configs/gleam_c/phase2.py'))
    cfg.merge_from_dict({'model.head.embed_dimm': 32})
    with pytest.raises(UnknownConfigKeyError) as err:
        with explain_config_errors(cfg):
            MODELS.build(cfg.model)
    msg = str(err.value)
    assert msg.startswith(
        'model.head.embed_dimm: EmbeddingHead (gleamkit.models.heads.'
        "embedding_head) has no config key 'embed_dimm'. Did you mean "
        "'embed_dim'?"
    )
    assert msg.endswith('(config ' + str(ROOT / 'configs/gleam_c/phase2.py') + ')')
    assert err.value.path == 'model.head'


def test_config_path_for_a_key_mmengine_passes_to_its_loop():
    cfg = Config.fromfile(str(ROOT / 'configs/gleam_c/phase2.py'))
    cfg.merge_from_dict({'train_cfg.max_epoch': 1})
    try:  # what mmengine's Runner does with train_cfg
        EpochBasedTrainLoop(
            runner=None, dataloader=None, **{k: v for k, v in cfg.train_cfg.items() if k != 'type'}
        )
    except TypeError as raw:
        better = unknown_key_error(raw, cfg)
    assert better.path == 'train_cfg'
    assert str(better).startswith(
        'train_cfg.max_epoch: EpochBasedTrainLoop (mmengine.runner.loops) has no config key '
        "'max_epoch'. Did you mean 'max_epochs'? Accepted keys: runner, dataloader, "
        'max_epochs, val_begin, val_interval, dynamic_intervals.'
    )


def test_unrelated_type_errors_pass_through_unchanged():
    cfg = Config(dict(model=dict(type=CrossViewRetriever)))
    with pytest.raises(TypeError, match='^unsupported operand') as err:
        with explain_config_errors(cfg):
            1 + 'a'  # noqa: B018
    assert not isinstance(err.value, UnknownConfigKeyError)


def test_run_time_errors_are_not_blamed_on_a_config_key():
    # the config holds `mode` (a dataset key) and `views`; a method's keyword error at
    # run time, or a constructor whose type takes the key, is not a config mistake
    cfg = Config(
        dict(
            train_dataloader=dict(
                dataset=dict(type='SyntheticCrossViewDataset', mode='pairs', views=('uav',))
            )
        )
    )
    for raw in (
        TypeError("CrossViewRetriever.forward() got an unexpected keyword argument 'mode'"),
        TypeError("Foo.__init__() got an unexpected keyword argument 'views'"),
    ):
        assert unknown_key_error(raw, cfg) is None


def test_a_key_passed_up_to_a_base_class_is_found_by_its_entry():
    cfg = Config(
        dict(train_dataloader=dict(dataset=dict(type='SyntheticCrossViewDataset', viewz=('uav',))))
    )
    raw = TypeError("BaseDataset.__init__() got an unexpected keyword argument 'viewz'")
    better = unknown_key_error(raw, cfg)
    assert better.path == 'train_dataloader.dataset'
    assert "has no config key 'viewz'. Did you mean 'views'?" in str(better)


def test_a_loop_without_type_is_found_by_the_class_mmengine_chose():
    cfg = Config(dict(train_cfg=dict(by_epoch=True, max_epoch=3)))
    raw = TypeError("EpochBasedTrainLoop.__init__() got an unexpected keyword argument 'max_epoch'")
    assert str(unknown_key_error(raw, cfg)).startswith(
        'train_cfg.max_epoch: EpochBasedTrainLoop (mmengine.runner.loops) has no config key '
        "'max_epoch'. Did you mean 'max_epochs'?"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    'option, expected',
    [
        (
            'train_cfg.max_epoch=1',
            'train_cfg.max_epoch: EpochBasedTrainLoop (mmengine.runner.loops) '
            "has no config key 'max_epoch'. Did you mean 'max_epochs'?",
        ),
        (
            'model.head.embed_dimm=32',
            'model.head.embed_dimm: EmbeddingHead '
            '(gleamkit.models.heads.embedding_head) has no config key '
            "'embed_dimm'. Did you mean 'embed_dim'?",
        ),
    ],
)
def test_train_tool_reports_the_key_path(option, expected, tmp_path):
    world = [
        f'{loader}.dataset.world.num_locations=24'
        for loader in (
            'train_dataloader',
            'val_dataloader',
            'test_dataloader',
            'val_cfg.gallery_dataloader',
            'test_cfg.gallery_dataloader',
        )
    ]
    out = subprocess.run(
        [
            sys.executable,
            'tools/train.py',
            'configs/gleam_c/phase2.py',
            '--work-dir',
            str(tmp_path),
            '--cfg-options',
            option,
            *world,
            *[o.replace('world.num_locations=24', f'cache_dir={tmp_path}') for o in world],
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1'),
    )
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f'gleamkit.utils.config_keys.UnknownConfigKeyError: {expected}'), last
