"""The built-in-world configs: the main job, its from-scratch twin and phase 1."""

from mmengine.config import Config


def load(name):
    return Config.fromfile(f'configs/gleam_c/{name}.py')


def test_scratch_twin_differs_from_the_main_job_only_in_the_model():
    main, scratch = load('phase2'), load('phase2_scratch')
    assert main.model.backbone.type.__name__ == 'PackagedPretrainedBackbone'
    assert main.model.backbone.norm_eval is True
    assert main.model.data_preprocessor.mean == [127.5] * 3
    assert scratch.model.backbone.type.__name__ == 'TimmBackbone'
    assert scratch.model.backbone.model_name == 'resnet18'
    assert scratch.model.backbone.pretrained is False
    for key in (
        'train_dataloader',
        'val_dataloader',
        'optim_wrapper',
        'param_scheduler',
        'train_cfg',
        'val_cfg',
        'test_cfg',
        'val_evaluator',
    ):
        assert main[key] == scratch[key], key


def test_phase1_checkpoint_fits_phase2():
    # `phase2.py --load-from <phase-1 checkpoint>` needs the same architecture
    assert load('phase1').model == load('phase2').model
    assert load('phase1').train_dataloader.dataset.views == ('panorama',)


def test_main_job_world_and_schedule():
    cfg = load('phase2')
    world = cfg.train_dataloader.dataset.world
    assert world == cfg.val_dataloader.dataset.world == cfg.val_cfg.gallery_dataloader.dataset.world
    assert world == cfg.test_cfg.gallery_dataloader.dataset.world
    assert (world.num_locations, world.num_distractors, world.test_fraction) == (4000, 300, 0.075)
    assert cfg.train_cfg.max_epochs == cfg.train_cfg.val_interval == 2
    pipeline = [t.type.__name__ for t in cfg.train_dataloader.dataset.pipeline]
    assert pipeline == [
        'PairedRandomFlip',
        'PairedRandomRotate90',
        'ViewColorJitter',
        'PackCrossViewInputs',
    ]
    # ground queries are sets of 3 photos, in training and in the test
    assert cfg.train_dataloader.dataset.ground_set_size == 3
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.ground_set_size == 3


def test_fast_gpu_config_switches():
    cfg = load('phase2_fast_gpu')
    # same augmentations and panorama transform as the main job; only the packed keys differ
    main_pipeline = load('phase2').train_dataloader.dataset.pipeline
    assert cfg.train_dataloader.dataset.pipeline[:-1] == main_pipeline[:-1]
    assert 'sample_idx' not in cfg.train_dataloader.dataset.pipeline[-1].meta_keys
    assert cfg.optim_wrapper.type.__name__ == 'MixedPrecisionOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'auto'
    assert cfg.model.backbone.channels_last is True and cfg.compile is True
    for loader in (
        cfg.train_dataloader,
        cfg.val_dataloader,
        cfg.val_cfg.gallery_dataloader,
        cfg.test_cfg.gallery_dataloader,
    ):
        assert (loader.num_workers, loader.persistent_workers, loader.pin_memory) == (8, True, True)
    assert cfg.model == dict(
        load('phase2').model,
        backbone=dict(load('phase2').model.backbone, channels_last=True),
        data_preprocessor=dict(load('phase2').model.data_preprocessor, non_blocking=True),
    )


def test_a_leaf_that_writes_custom_hooks_keeps_its_gallery(tmp_path):
    """The gallery is the evaluation loop's: `custom_hooks = [...]` in a leaf (the mmpretrain
    way) replaces the hooks only."""
    main, mining = load('phase2'), load('phase2_hard_negatives')
    assert [h.type.__name__ for h in mining.custom_hooks] == ['HardNegativeMiningHook']
    for loop in ('val_cfg', 'test_cfg'):
        assert mining[loop] == main[loop]
        assert mining[loop].gallery_dataloader.dataset.mode == 'gallery'
    leaf = tmp_path / 'leaf.py'
    leaf.write_text(
        'from mmengine.config import read_base\n\n'
        'with read_base():\n'
        '    from gleamkit.configs.gleam_c.phase2 import *\n\n'
        "custom_hooks = [dict(type='EMAHook')]\n"
    )
    cfg = Config.fromfile(str(leaf))
    assert cfg.custom_hooks == [dict(type='EMAHook')]
    assert cfg.val_cfg == main.val_cfg and cfg.test_cfg == main.test_cfg
    assert cfg.val_cfg.type.__name__ == 'RetrievalValLoop'
