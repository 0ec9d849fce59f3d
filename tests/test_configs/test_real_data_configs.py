"""The real-data configs of configs/gleam_c, on miniature replicas of the real layouts.

Every config parses; every real-data leaf builds its training, query and gallery datasets
on a replica (data roots overridden the way ``--cfg-options`` does it), yields images of
the sizes Sample4Geo uses, samples batches of distinct places, and its model - with a tiny
random ConvNeXt instead of the hub's ConvNeXt-B, so nothing is downloaded - computes its
loss on a real batch. The schedule reproduces Sample4Geo's warm-up + cosine. End to end,
``tools/test.py`` evaluates a random checkpoint on the University-1652 replica.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from gleamkit.datasets import dataset_field
from gleamkit.registry import DATASETS, MODELS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'test_datasets'))
from replicas import (  # noqa: E402
    make_cvact,
    make_cvusa,
    make_denseuav,
    make_ground_sets,
    make_gta_uav,
    make_street_map,
    make_sues200,
    make_university1652,
    make_vigor,
)

CONFIGS = sorted((ROOT / 'configs' / 'gleam_c').glob('*.py'))
# a tiny timm ConvNeXt: the same pooled head (average pool + head LayerNorm) as ConvNeXt-B
TINY_MODEL = {'model.backbone.model_name': 'convnext_atto', 'model.backbone.pretrained': False}
SQUARE = (384, 384)

# replica name -> (maker, folder under $GLEAMKIT_DATA, as the dataset class names it)
REPLICAS = {
    'university1652': (make_university1652, 'University-Release'),
    'vigor': (make_vigor, 'VIGOR'),
    'cvusa': (make_cvusa, 'CVUSA'),
    'cvact': (make_cvact, 'CVACT'),
    'sues200': (make_sues200, 'SUES-200-512x512'),
    'denseuav': (make_denseuav, 'DenseUAV'),
    'gta_uav': (make_gta_uav, 'GTA-UAV'),
    'ground_sets': (make_ground_sets, 'SetVL-480K'),
    'street_map': (make_street_map, 'MAP'),
}


def leaf(
    replica,
    train,
    query,
    gallery,
    sizes,
    epochs,
    batch,
    warmup=None,
    altitude=None,
    loss='SymmetricInfoNCELoss',
):
    """What a leaf must build on its replica: (count, views) of the training pairs and
    queries, (count, view) of the gallery, image sizes per view, schedule and loss."""
    return dict(
        replica=replica,
        train=train,
        query=query,
        gallery=gallery,
        sizes=sizes,
        epochs=epochs,
        batch=batch,
        warmup=warmup if warmup is not None else (0.1 if epochs <= 10 else 1),
        altitude=altitude,
        loss=loss,
    )


U1652_SIZES = dict(uav=SQUARE, satellite=SQUARE)
VIGOR_SIZES = dict(panorama=(384, 768), satellite=SQUARE)
CV_SIZES = dict(panorama=(140, 768), satellite=SQUARE)
# the replicas' counts (tests/test_datasets/replicas.py): e.g. University-1652 has 3 training
# buildings x 3 drone images, 2 test buildings x 3 drone queries and 2 + 3 distractor tiles
LEAVES = {
    'university1652_drone2sat': leaf(
        'university1652', (9, {'uav'}), (6, {'uav'}), (5, 'satellite'), U1652_SIZES, 1, 128
    ),
    'university1652_sat2drone': leaf(
        'university1652', (9, {'uav'}), (2, {'satellite'}), (6, 'uav'), U1652_SIZES, 1, 128
    ),
    'vigor_same_area': leaf(
        'vigor', (12, {'panorama'}), (8, {'panorama'}), (20, 'satellite'), VIGOR_SIZES, 40, 128
    ),
    'phase1_vigor': leaf(
        'vigor', (12, {'panorama'}), (8, {'panorama'}), (20, 'satellite'), VIGOR_SIZES, 40, 128
    ),
    # cross-area: all 5 panoramas of NewYork + Seattle vs Chicago + SanFrancisco
    'vigor_cross_area': leaf(
        'vigor', (10, {'panorama'}), (10, {'panorama'}), (10, 'satellite'), VIGOR_SIZES, 40, 128
    ),
    'cvusa': leaf(
        'cvusa', (4, {'panorama'}), (3, {'panorama'}), (3, 'satellite'), CV_SIZES, 40, 128
    ),
    'cvact_val': leaf(
        'cvact', (4, {'panorama'}), (2, {'panorama'}), (2, 'satellite'), CV_SIZES, 40, 128
    ),
    'cvact_test': leaf(
        'cvact', (4, {'panorama'}), (3, {'panorama'}), (3, 'satellite'), CV_SIZES, 40, 128
    ),
    # 2 training scenes x 2 frames; 3 test scenes x 2 frames vs all 5 tiles
    **{
        f'sues200_{h}m': leaf(
            'sues200', (4, {'uav'}), (6, {'uav'}), (5, 'satellite'), U1652_SIZES, 10, 40, altitude=h
        )
        for h in (150, 200, 250, 300)
    },
    # 3 places x 3 heights, each with its two same-height tiles; 5 places x 6 tiles
    'denseuav': leaf(
        'denseuav', (18, {'uav'}), (6, {'uav'}), (30, 'satellite'), U1652_SIZES, 10, 40
    ),
    # pos_semipos pairs: d0 x 3 tiles, d1 x 1, d2 x 1; queries: d0, d1 (d2 has no positive)
    'gta_uav_same_area': leaf(
        'gta_uav',
        (5, {'uav'}),
        (2, {'uav'}),
        (4, 'satellite'),
        U1652_SIZES,
        10,
        40,
        loss='WeightedInfoNCELoss',
    ),
    'gta_uav_cross_area': leaf(
        'gta_uav',
        (5, {'uav'}),
        (2, {'uav'}),
        (4, 'satellite'),
        U1652_SIZES,
        10,
        40,
        loss='WeightedInfoNCELoss',
    ),
    # one sample per cell; test cell c04 has no photos
    'ground_sets': leaf(
        'ground_sets',
        (2, {'ground'}),
        (2, {'ground'}),
        (3, 'satellite'),
        dict(ground=SQUARE, satellite=SQUARE),
        10,
        32,
    ),
    'street_map': leaf(
        'street_map',
        (2, {'map'}),
        (2, {'map'}),
        (2, 'satellite'),
        dict(map=SQUARE, satellite=SQUARE),
        10,
        128,
    ),
}


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and do not fight other processes for the
    cores (two threads on a busy machine were 50x slower here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def replicas(tmp_path_factory):
    """Every replica, each in the folder its dataset class expects under $GLEAMKIT_DATA."""
    base = tmp_path_factory.mktemp('gleamkit_data')
    return {
        name: maker(str(base / folder)) | dict(base=str(base))
        for name, (maker, folder) in REPLICAS.items()
    }


def data_root_options(root) -> dict:
    """The documented ``--cfg-options`` keys that point a leaf at another data root."""
    options = {
        f'{loader}.dataset.data_root': root
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    }
    options['val_cfg.gallery_dataloader.dataset.data_root'] = root
    options['test_cfg.gallery_dataloader.dataset.data_root'] = root
    return options


def load(name, **options) -> Config:
    cfg = Config.fromfile(str(ROOT / 'configs' / 'gleam_c' / f'{name}.py'))
    if options:
        cfg.merge_from_dict(options)
    return cfg


def views_of(dataset) -> set:
    return set(dataset.get_field('view'))


def shrunk_batch(samples) -> dict:
    """Collate samples and keep every 4th pixel row and column (same aspect ratio): the
    sizes are checked on the samples; the model only needs to take the batch, faster."""
    batch = pseudo_collate(samples)
    for key, images in batch['inputs'].items():
        batch['inputs'][key] = [image[..., ::4, ::4] for image in images]
    return batch


# ---------------------------------------------------------------------------- parsing
@pytest.mark.parametrize('path', CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_gleam_c_config_parses(path):
    cfg = Config.fromfile(str(path))
    for key in (
        'model',
        'train_dataloader',
        'val_dataloader',
        'test_dataloader',
        'val_evaluator',
        'optim_wrapper',
        'train_cfg',
        'val_cfg',
        'test_cfg',
    ):
        assert key in cfg, f'{path.name} has no {key}'
    assert cfg.default_scope == 'gleamkit'


def test_every_real_data_leaf_is_tested_here():
    """A config whose training set is not the synthetic world belongs in LEAVES (the
    fused phase 2 has a test of its own)."""
    real = set()
    for path in CONFIGS:
        dataset = Config.fromfile(str(path)).train_dataloader.dataset
        if dataset.type.__name__ != 'SyntheticCrossViewDataset' and path.stem != 'phase2_fusion':
            real.add(path.stem)
    assert real == set(LEAVES), f'add these real-data leaf configs to LEAVES: {real - set(LEAVES)}'


@pytest.mark.parametrize('name', sorted(LEAVES))
def test_leaf_follows_its_recipe(name):
    spec, cfg = LEAVES[name], load(name)
    # Sample4Geo's model, as users with internet get it
    backbone = cfg.model.backbone
    assert backbone.model_name == 'convnext_base.fb_in22k_ft_in1k_384'
    assert backbone.pretrained is True and backbone.pooled is True
    assert cfg.model.head.embed_dim is None and cfg.model.head.norm is False
    loss = cfg.model.loss
    assert loss.type.__name__ == spec['loss']
    assert (loss.temperature, loss.label_smoothing) == (0.07, 0.1)
    # optimiser and schedule
    assert cfg.optim_wrapper.type.__name__ == 'MixedPrecisionOptimWrapper'
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.optim_wrapper.clip_grad == dict(type='value', clip_value=100.0)
    assert cfg.train_cfg.max_epochs == spec['epochs']
    assert cfg.train_cfg.max_epochs % cfg.train_cfg.val_interval == 0  # last epoch validated
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end) == (0, spec['warmup'])
    assert (cosine.begin, cosine.end) == (spec['warmup'], spec['epochs'])
    # the sampler's batch is the dataloader's
    train = cfg.train_dataloader
    assert train.batch_size == train.sampler.batch_size == spec['batch']
    assert train.sampler.type.__name__ == 'UniqueLocationSampler'
    # the gallery never shuffles (the loop puts shards back in dataset order); validation
    # and test evaluate the same protocol
    assert cfg.val_cfg.type.__name__ == 'RetrievalValLoop'
    assert cfg.test_cfg.type.__name__ == 'RetrievalTestLoop'
    assert cfg.val_cfg.gallery_dataloader.sampler.shuffle is False
    assert cfg.val_cfg.gallery_dataloader == cfg.test_cfg.gallery_dataloader


# ------------------------------------------------------------------- building on replicas
@pytest.mark.parametrize('name', sorted(LEAVES))
def test_leaf_builds_its_datasets_samplers_and_model_on_a_replica(name, replicas):
    spec = LEAVES[name]
    replica = replicas[spec['replica']]
    cfg = load(name)
    cfg.merge_from_dict({**data_root_options(replica['root']), **TINY_MODEL})

    train = DATASETS.build(cfg.train_dataloader.dataset)
    query = DATASETS.build(cfg.test_dataloader.dataset)
    gallery = DATASETS.build(cfg.test_cfg.gallery_dataloader.dataset)
    assert train.data_root == query.data_root == gallery.data_root == replica['root']
    assert (len(train), views_of(train)) == spec['train']
    assert (len(query), views_of(query)) == spec['query']
    # validation and test share the protocol (queries and gallery)
    assert cfg.val_dataloader.dataset == cfg.test_dataloader.dataset
    assert len(gallery) == spec['gallery'][0]
    assert set(gallery.get_field('reference_view')) == {spec['gallery'][1]}
    assert query.metainfo['gallery_view'] == spec['gallery'][1]
    if spec['altitude'] is not None:
        assert set(train.get_field('altitude')) == {spec['altitude']}
        assert set(query.get_field('altitude')) == {spec['altitude']}

    # images come out at the configured size per view
    sizes = spec['sizes']
    pair = train[0]
    view = pair['data_samples'].view
    assert tuple(pair['inputs']['query'].shape[-2:]) == sizes[view]
    assert tuple(pair['inputs']['reference'].shape) == (3, *sizes['satellite'])
    sample = query[0]
    assert tuple(sample['inputs']['query'].shape[-2:]) == sizes[sample['data_samples'].view]
    tile = gallery[0]
    assert tuple(tile['inputs']['reference'].shape) == (3, *sizes[spec['gallery'][1]])

    # the configured sampler, with a batch the replica can fill: distinct places per batch
    sampler_cfg = dict(cfg.train_dataloader.sampler)
    sampler = sampler_cfg.pop('type')(train, **dict(sampler_cfg, batch_size=2), seed=0)
    order = list(sampler)
    assert len(order) == len(train) // 2 * 2
    locations = train.get_field('location_id')
    for i in range(0, len(order), 2):
        assert locations[order[i]] != locations[order[i + 1]]

    # the model (tiny random backbone) computes the configured loss on a real batch
    model = MODELS.build(cfg.model)
    assert type(model.loss_module).__name__ == spec['loss']
    assert model.backbone.pooled and model.head.embed_dim == model.backbone.out_channels
    batch = model.data_preprocessor(shrunk_batch([train[order[0]], train[order[1]]]), True)
    with torch.no_grad():
        out = model(**batch, mode='loss')
    assert torch.isfinite(out['loss']) and out['loss'] > 0
    assert out['logit_scale'].item() == pytest.approx(1 / 0.07, rel=1e-4)


def test_default_data_root_is_gleamkit_data(replicas, monkeypatch):
    monkeypatch.setenv('GLEAMKIT_DATA', replicas['vigor']['base'])
    cfg = load('vigor_same_area')
    assert cfg.data_root is None and cfg.train_dataloader.dataset.data_root is None
    train = DATASETS.build(cfg.train_dataloader.dataset)
    assert train.data_root == replicas['vigor']['root'] and len(train) == 12


def test_phase2_fusion_balances_views_over_four_datasets(replicas):
    cfg = load('phase2_fusion', **TINY_MODEL)
    for i, name in enumerate(('university1652', 'vigor', 'ground_sets', 'street_map')):
        cfg.merge_from_dict(
            {f'train_dataloader.dataset.datasets.{i}.data_root': replicas[name]['root']}
        )
    fused = DATASETS.build(cfg.train_dataloader.dataset)
    parts = [len(d) for d in fused.datasets]
    assert parts == [9, 12, 2, 2] and len(fused) == 25
    locations, views = dataset_field(fused, 'location_id'), dataset_field(fused, 'view')
    # the location ids of the four datasets lie in their own, disjoint ranges
    starts = [0, 9, 21, 23, 25]
    ranges = [{loc // 10_000_000 for loc in locations[a:b]} for a, b in zip(starts, starts[1:])]
    assert ranges == [{1}, {4}, {8}, {9}]
    assert [set(views[a:b]) for a, b in zip(starts, starts[1:])] == [
        {'uav'},
        {'panorama'},
        {'ground'},
        {'map'},
    ]

    sampler_cfg = dict(cfg.train_dataloader.sampler)
    assert sampler_cfg['views'] == ('uav', 'panorama', 'ground', 'map')
    assert cfg.train_dataloader.batch_size == sampler_cfg['batch_size'] == 128
    sampler = sampler_cfg.pop('type')(fused, **dict(sampler_cfg, batch_size=4), seed=0)
    order = list(sampler)
    assert len(order) == 24  # epoch_size 'mean': 4 views x 25 / 4 samples -> 6 batches of 4
    for i in range(0, len(order), 4):
        batch = order[i : i + 4]
        assert sorted(views[j] for j in batch) == ['ground', 'map', 'panorama', 'uav']
        assert len({locations[j] for j in batch}) == 4

    # one mixed batch - drone, panorama, a set of ground photos, a map - through the model
    samples = [fused[j] for j in order[:4]]
    by_view = {s['data_samples'].view: s for s in samples}
    assert tuple(by_view['panorama']['inputs']['query'].shape) == (3, 384, 768)
    ground = by_view['ground']['inputs']['query']
    assert ground.dim() == 4 and ground.shape[0] <= 4 and tuple(ground.shape[1:]) == (3, 384, 384)
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(shrunk_batch(samples), True)
    with torch.no_grad():
        loss = model(**data, mode='loss')['loss']
    assert torch.isfinite(loss)
    # validation and test: one protocol per benchmark trained on
    assert cfg.val_dataloader.dataset.type.__name__ == 'University1652Dataset'
    for loop in (cfg.val_cfg, cfg.test_cfg):
        assert [p['name'] for p in loop.protocols] == [
            'u1652',
            'vigor',
            'ground_sets',
            'street_map',
        ]
        assert loop.protocols[0].gallery_dataloader.dataset.protocol == 'drone->satellite'
    assert cfg.default_hooks.checkpoint.save_best == 'u1652/R@1'


@pytest.mark.slow
def test_phase2_fusion_tests_every_benchmark_it_trains_on(tmp_path, replicas):
    """tools/test.py on phase2_fusion with the four replicas: each protocol embeds its own
    gallery once and ranks its own queries, its metrics prefixed with its name."""
    cfg = load('phase2_fusion', **TINY_MODEL)
    torch.manual_seed(0)
    checkpoint = tmp_path / 'random_tiny.pth'
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, checkpoint)
    out = tmp_path / 'metrics.json'
    roots = {
        'data_root': 'university1652',
        'vigor_root': 'vigor',
        'ground_sets_root': 'ground_sets',
        'street_map_root': 'street_map',
    }
    options = [f'{k}={v}' for k, v in TINY_MODEL.items()]
    options += [f'{key}={replicas[name]["root"]}' for key, name in roots.items()]
    options += ['test_dataloader.num_workers=0'] + [
        f'test_cfg.protocols.{i}.{loader}.num_workers=0'
        for i in range(4)
        for loader in ('dataloader', 'gallery_dataloader')
        if (i, loader) != (0, 'dataloader')
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    env.pop('GLEAMKIT_DATA', None)  # only the given roots may be read
    run = subprocess.run(
        [
            sys.executable,
            'tools/test.py',
            'configs/gleam_c/phase2_fusion.py',
            str(checkpoint),
            '--work-dir',
            str(tmp_path / 'work'),
            '--out',
            str(out),
            '--cfg-options',
            *options,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    text = run.stdout + run.stderr
    assert run.returncode == 0, text[-4000:]
    metrics = json.loads(out.read_text())
    # (queries, gallery, query view) of each replica, as the benchmark's own leaf tests it
    expected = {
        'u1652': ('university1652_drone2sat', 'uav'),
        'vigor': ('vigor_same_area', 'panorama'),
        'ground_sets': ('ground_sets', 'ground'),
        'street_map': ('street_map', 'map'),
    }
    for name, (leaf_name, view) in expected.items():
        spec = LEAVES[leaf_name]
        assert metrics[f'{name}/num_queries'] == spec['query'][0], name
        assert metrics[f'{name}/gallery_size'] == spec['gallery'][0], name
        assert metrics[f'{name}/{view}/num_queries'] == spec['query'][0], name
        assert 0.0 <= metrics[f'{name}/R@1'] <= 100.0
        assert (
            text.count(f'RetrievalTestLoop ({name}): embedded {spec["gallery"][0]} gallery images')
            == 1
        )
    assert not any(key.startswith('retrieval/') for key in metrics)


# -------------------------------------------------------------------------- schedule
@pytest.mark.parametrize(
    'name, epochs, warmup', [('university1652_drone2sat', 1, 0.1), ('vigor_same_area', 40, 1)]
)
def test_schedule_is_sample4geo_warmup_then_cosine(name, epochs, warmup):
    """Per iteration, as transformers' get_cosine_schedule_with_warmup (Sample4Geo):
    linear to lr over the warm-up, then lr * (1 + cos(pi * progress)) / 2 down to 0."""
    cfg = load(name)
    epoch_length = 50
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = cfg.optim_wrapper.optimizer.type([param], lr=cfg.optim_wrapper.optimizer.lr)
    schedulers = []
    for scheduler_cfg in cfg.param_scheduler:
        scheduler_cfg = dict(scheduler_cfg)
        assert scheduler_cfg.pop('convert_to_iter_based') is True
        schedulers.append(
            scheduler_cfg.pop('type').build_iter_from_epoch(
                optimizer, epoch_length=epoch_length, **scheduler_cfg
            )
        )
    total, warm = epochs * epoch_length, int(warmup * epoch_length)
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]['lr'])
        for scheduler in schedulers:
            scheduler.step()
    assert lrs[0] == pytest.approx(1e-6)  # 1e-3 x start factor 1e-3
    # mmengine's LinearLR reaches the full lr on the warm-up's last iteration (transformers'
    # one iteration later): at most one iteration of difference
    for t in range(warm):
        assert lrs[t] == pytest.approx(1e-3 * (1e-3 + (1 - 1e-3) * t / (warm - 1))), t
    for t in (warm, warm + (total - warm) // 3, (total + warm) // 2, total - 1):
        expected = 1e-3 * (1 + math.cos(math.pi * (t - warm) / (total - warm))) / 2
        assert lrs[t] == pytest.approx(expected, rel=1e-6, abs=1e-12), t


# ----------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_tools_test_on_the_university1652_replica(tmp_path, replicas):
    """A random tiny model, saved as {'state_dict': ...}, through tools/test.py: the
    paper-style table is printed and the metrics JSON written, over the full gallery
    (2 test buildings + 3 distractor tiles - the replica's 951)."""
    name = 'university1652_drone2sat'
    root = replicas['university1652']['root']
    cfg = load(name, **TINY_MODEL)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    checkpoint = tmp_path / 'random_tiny.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)

    out = tmp_path / 'metrics.json'
    options = [f'{k}={v}' for k, v in TINY_MODEL.items()] + [
        f'test_dataloader.dataset.data_root={root}',
        f'test_cfg.gallery_dataloader.dataset.data_root={root}',
        'test_dataloader.num_workers=0',
        'test_cfg.gallery_dataloader.num_workers=0',
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    env.pop('GLEAMKIT_DATA', None)  # only the overridden roots may be read
    run = subprocess.run(
        [
            sys.executable,
            'tools/test.py',
            f'configs/gleam_c/{name}.py',
            str(checkpoint),
            '--work-dir',
            str(tmp_path / 'work'),
            '--out',
            str(out),
            '--cfg-options',
            *options,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    text = run.stdout + run.stderr
    assert run.returncode == 0, text[-4000:]
    assert 'gallery (uav): 5 satellite tiles incl. 3 distractors' in text
    assert '| view' in text and 'R@1' in text and 'AP' in text
    metrics = json.loads(out.read_text())
    assert metrics['retrieval/num_queries'] == 6
    assert metrics['retrieval/gallery_size'] == 5
    assert metrics['retrieval/chance_R@1'] == pytest.approx(20.0)  # 1 true tile of 5
    assert metrics['retrieval/uav/num_queries'] == 6
    for key in ('R@1', 'R@5', 'R@10', 'AP'):
        assert 0.0 <= metrics[f'retrieval/{key}'] <= 100.0
    assert metrics['retrieval/R@5'] == 100.0  # 5 tiles: the true one is always in the top 5
