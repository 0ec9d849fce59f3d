"""HardNegativeMiningHook with a model whose embeddings are known: the mined table
must equal the brute-force answer, in one process, on a Runner and on 2 ranks.

Run as a script, this file is one rank of the torchrun test (see the bottom).
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from torch.utils.data import DataLoader

from gleamkit.datasets.samplers import SimilarityNeighbourSampler, UniqueLocationSampler
from gleamkit.engine.hooks import HardNegativeMiningHook

REPO = Path(__file__).resolve().parents[2]
DIM = 8


class PlaceDataset:
    """Place p is in city p // 4 (GPS) and looks like places p % groups (embeddings)."""

    def __init__(self, num_places=16, views=('uav', 'map'), groups=4, order=None):
        self.views, self.groups = views, groups
        order = range(num_places) if order is None else order
        self.infos = [
            dict(location_id=p, view=v, lat=5.0 * (p // 4) + 0.001 * (p % 4), lon=7.0 * (p // 4))
            for p in order
            for v in views
        ]

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, i):
        return dict(self.infos[i])

    def __getitem__(self, i):
        info = self.infos[i]
        return dict(
            inputs=dict(
                query=torch.tensor([info['location_id'], self.views.index(info['view'])]),
                reference=torch.tensor([info['location_id']]),
                index=torch.tensor(i),
            )
        )


def embeddings(num_places=16, num_views=2, groups=4, seed=0):
    """(query (P, V, D), reference (P, D)): a group direction plus a little noise."""
    rng = np.random.default_rng(seed)
    base = np.eye(DIM)[np.arange(num_places) % groups]
    norm = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    ref = norm(base + 0.1 * rng.normal(size=(num_places, DIM)))
    query = norm(base[:, None] + 0.1 * rng.normal(size=(num_places, num_views, DIM)))
    return query.astype(np.float32), ref.astype(np.float32)


def expected_table(query, ref, similarity, k):
    """Brute force: each place's top-k other places by mean pair similarity."""
    q, r = query.astype(np.float64).mean(1), ref.astype(np.float64)
    a, b = {'cross': (q, r), 'reference': (r, r), 'query': (q, q)}[similarity]
    sim = a @ b.T
    np.fill_diagonal(sim, -np.inf)
    order = np.argsort(-sim, axis=1, kind='stable')[:, :k]
    return order, np.take_along_axis(sim, order, 1)


class LookupModel(BaseModel):
    """Embeds an image by looking its place (and view) up; records what it saw."""

    def __init__(self, query, ref):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.query, self.ref = torch.from_numpy(query), torch.from_numpy(ref)
        self.seen = dict(query=[], reference=[])
        self.trained = []  # the places of each training batch

    def forward(self, inputs, data_samples=None, mode='tensor'):
        index = [int(i) for i in inputs['index']]
        if mode == 'loss':
            self.trained.append([int(r[0]) for r in inputs['reference']])
            return dict(loss=self.weight.sum() * 0.0)
        out = dict(query=None, reference=None)
        if inputs.get('query') is not None:
            q = torch.stack(inputs['query'])
            out['query'] = self.query[q[:, 0], q[:, 1]]
            self.seen['query'] += index
        if inputs.get('reference') is not None:
            out['reference'] = self.ref[torch.stack(inputs['reference'])[:, 0]]
            self.seen['reference'] += index
        return out


class ListLogger:
    def __init__(self):
        self.lines = []

    def info(self, msg):
        self.lines.append(msg)

    warning = info


def setup(
    num_places=16,
    views=('uav', 'map'),
    groups=4,
    batch_size=4,
    neighbours=3,
    epoch=0,
    **sampler_kwargs,
):
    ds = PlaceDataset(num_places, views, groups)
    sampler = SimilarityNeighbourSampler(
        ds,
        batch_size=batch_size,
        neighbours=neighbours,
        neighbour_pool=neighbours,
        seed=0,
        **sampler_kwargs,
    )
    loader = DataLoader(ds, batch_size=batch_size, sampler=sampler, collate_fn=pseudo_collate)
    query, ref = embeddings(num_places, len(views), groups)
    model = LookupModel(query, ref)
    runner = SimpleNamespace(
        model=model,
        train_loop=SimpleNamespace(dataloader=loader),
        epoch=epoch,
        seed=0,
        logger=ListLogger(),
    )
    return ds, sampler, model, runner


def batch_places(ds, sampler):
    idx = list(sampler)
    return [
        [ds.infos[i]['location_id'] for i in idx[j : j + sampler.batch_size]]
        for j in range(0, len(idx), sampler.batch_size)
    ]


# --------------------------------------------------------------------- one process
@pytest.mark.parametrize('similarity', ['cross', 'reference', 'query'])
def test_mined_table_equals_brute_force(similarity):
    ds, sampler, model, runner = setup()
    model.train()
    hook = HardNegativeMiningHook(similarity=similarity, topk=5, batch_size=3, progress=False)
    table = hook.mine(runner)
    want, want_scores = expected_table(model.query.numpy(), model.ref.numpy(), similarity, 5)
    # in place order = first appearance = location id here
    assert table.location_ids == list(range(16))
    np.testing.assert_array_equal(table.neighbours, want)
    np.testing.assert_allclose(table.scores, want_scores, rtol=1e-5)
    # each place's top 3 are the places that look like it (same p % 4), in other cities
    for p in range(16):
        assert sorted(table.neighbours[p, :3] % 4) == [p % 4] * 3
    # the sampler got it (its pool is 3 columns)
    np.testing.assert_array_equal(sampler.neighbour_table, want[:, :3])
    assert sampler.neighbour_source == f'similarity ({similarity})'
    # every query image embedded once, every tile once (first sample of each place)
    if similarity != 'reference':
        assert sorted(model.seen['query']) == list(range(32))
    else:
        assert model.seen['query'] == []
    if similarity != 'query':
        assert sorted(model.seen['reference']) == list(range(0, 32, 2))
    else:
        assert model.seen['reference'] == []
    assert model.training  # put back in training mode
    (line,) = runner.logger.lines
    assert f'top-5 {similarity} neighbours of 16 places' in line
    assert f'mean neighbour similarity {want_scores.mean():.4f}' in line
    assert f'(top-1 {want_scores[:, 0].mean():.4f})' in line


def test_batches_follow_gps_then_the_mined_table():
    ds, sampler, model, runner = setup()
    hook = HardNegativeMiningHook(interval=2, start_epoch=1, progress=False)
    hook.before_train(runner)
    hook.before_train_epoch(runner)  # epoch 0: not yet, GPS neighbours (Sample4Geo)
    assert hook.last_mined_epoch is None and sampler.neighbour_source == 'gps'
    for places in batch_places(ds, sampler):
        assert len({p // 4 for p in places}) == 1  # one city
    runner.epoch = 1
    sampler.set_epoch(1)
    hook.before_train_epoch(runner)
    assert hook.last_mined_epoch == 1
    for places in batch_places(ds, sampler):
        assert len({p % 4 for p in places}) == 1 and len(set(places)) == 4  # look-alikes


def test_schedule():
    hook = HardNegativeMiningHook(interval=3, start_epoch=2)
    due = []
    for epoch in range(10):
        if hook.is_due(epoch):
            due.append(epoch)
            hook.last_mined_epoch = epoch
    assert due == [2, 5, 8]
    # a run resumed at epoch 6 has lost its table: mine at once, then on the schedule
    resumed = HardNegativeMiningHook(interval=3, start_epoch=2)
    due = []
    for epoch in range(6, 12):
        if resumed.is_due(epoch):
            due.append(epoch)
            resumed.last_mined_epoch = epoch
    assert due == [6, 8, 11]
    # default: Sample4Geo - the first `interval` epochs on GPS neighbours
    assert HardNegativeMiningHook(interval=4).start_epoch == 4
    with pytest.raises(ValueError, match='similarity'):
        HardNegativeMiningHook(similarity='tiles')


def test_a_sampler_without_set_neighbours_is_refused():
    ds = PlaceDataset()
    loader = DataLoader(ds, batch_size=4, sampler=UniqueLocationSampler(ds, 4, seed=0))
    runner = SimpleNamespace(train_loop=SimpleNamespace(dataloader=loader))
    with pytest.raises(TypeError, match='UniqueLocationSampler.*SimilarityNeighbourSampler'):
        HardNegativeMiningHook().before_train(runner)


def test_separate_mining_dataset_is_mapped_by_location_id():
    ds, sampler, model, runner = setup(initial='random')
    # the same places in another order, one view only (as an evaluation set might be)
    order = [7, 3, 12, 0, 15, 1, 9, 4, 2, 14, 6, 11, 5, 10, 13, 8]
    mining = DataLoader(
        PlaceDataset(order=order, views=('uav',)), batch_size=5, collate_fn=pseudo_collate
    )
    hook = HardNegativeMiningHook(dataloader=mining, similarity='reference', progress=False)
    table = hook.mine(runner)
    assert table.location_ids == order
    want, _ = expected_table(model.query.numpy(), model.ref.numpy(), 'reference', 3)
    got = np.asarray(table.location_ids)[table.neighbours]  # as location ids
    np.testing.assert_array_equal(got, want[order])
    np.testing.assert_array_equal(sampler.neighbour_table, want)  # sampler place = id here


@pytest.mark.slow
def test_on_a_runner(tmp_path):
    """mmengine's Runner: the hook reaches the sampler through the train loop, mines
    before epochs 1 and 2, and the batches of those epochs are look-alike groups."""
    from mmengine.runner import Runner

    ds = PlaceDataset()
    query, ref = embeddings()
    model = LookupModel(query, ref)
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        experiment_name=f'hnm_{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=ds,
            batch_size=4,
            collate_fn=dict(type='pseudo_collate'),
            sampler=dict(
                type=SimilarityNeighbourSampler, batch_size=4, neighbours=3, neighbour_pool=3
            ),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=3),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.0)),
        default_hooks=dict(checkpoint=None, logger=dict(type='LoggerHook', interval=100)),
        custom_hooks=[dict(type=HardNegativeMiningHook, interval=1, start_epoch=1, progress=False)],
        randomness=dict(seed=0),
        log_level='WARNING',
        default_scope='gleamkit',
    )
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, HardNegativeMiningHook))
    assert hook.last_mined_epoch == 2
    assert runner.train_loop.dataloader.sampler.neighbour_source == 'similarity (cross)'
    assert len(model.trained) == 3 * 8
    epochs = [model.trained[8 * e : 8 * e + 8] for e in range(3)]
    assert all(len({p // 4 for p in b}) == 1 for b in epochs[0])  # GPS cities
    for epoch in epochs[1:]:
        assert all(len({p % 4 for p in b}) == 1 for b in epoch)  # look-alikes
    assert epochs[1] != epochs[2]  # a new order every epoch


@pytest.mark.slow
def test_with_cross_view_retriever_on_the_synthetic_world(tmp_path):
    """The real model and data path (CrossViewDataPreprocessor, one side at a time): the
    scores are the brute-force similarities of the model's own embeddings."""
    from gleamkit.datasets import PackCrossViewInputs, SyntheticCrossViewDataset
    from gleamkit.registry import MODELS

    torch.manual_seed(0)
    ds = SyntheticCrossViewDataset(
        world=dict(seed=0, num_locations=24, num_distractors=0, image_size=32),
        cache_dir=str(tmp_path),
        views=('uav', 'map', 'panorama'),
        pipeline=[dict(type=PackCrossViewInputs)],
    )
    sampler = SimilarityNeighbourSampler(ds, batch_size=4, neighbours=2, seed=0)
    loader = DataLoader(ds, batch_size=4, sampler=sampler, collate_fn=pseudo_collate)
    with DefaultScope.overwrite_default_scope('gleamkit'):  # whatever ran before
        model = MODELS.build(
            dict(
                type='CrossViewRetriever',
                backbone=dict(type='TimmBackbone', model_name='resnet10t'),
                head=dict(type='EmbeddingHead', embed_dim=16),
                adapter=dict(type='ViewEmbeddingAdapter'),
            )
        )
    runner = SimpleNamespace(
        model=model,
        train_loop=SimpleNamespace(dataloader=loader),
        epoch=2,
        seed=0,
        logger=ListLogger(),
    )
    table = HardNegativeMiningHook(similarity='cross', batch_size=5, progress=False).mine(runner)
    places = sampler.num_places
    assert table.neighbours.shape == (places, 4)  # the sampler's pool: 2 x neighbours
    assert not (table.neighbours == np.arange(places)[:, None]).any()

    # brute force: embed every pair, average the queries of each place
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([ds[i] for i in range(len(ds))]), False)
        out = model(**data, mode='tensor')
    query = torch.zeros(places, 16).index_add_(
        0, torch.from_numpy(sampler.place_of_sample), out['query']
    )
    query /= torch.from_numpy(np.bincount(sampler.place_of_sample)).float()[:, None]
    sim = (query @ out['reference'][torch.from_numpy(sampler.place_first_index)].T).numpy()
    np.testing.assert_allclose(
        np.take_along_axis(sim, table.neighbours, 1), table.scores, atol=1e-4
    )
    np.fill_diagonal(sim, -np.inf)
    np.testing.assert_allclose(-np.sort(-sim, axis=1)[:, :4], table.scores, atol=1e-4)


# ---------------------------------------------------------------------- two ranks
@pytest.mark.slow
def test_two_ranks_compute_the_same_table(tmp_path, free_port):
    out = tmp_path / 'ranks.json'
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]),
    )
    cmd = [
        sys.executable,
        '-m',
        'torch.distributed.run',
        '--nproc_per_node=2',
        '--nnodes=1',
        '--master_addr=127.0.0.1',
        f'--master_port={free_port}',
        __file__,
        str(out),
    ]
    proc = subprocess.run(
        cmd, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=150
    )
    assert proc.returncode == 0, f'torchrun failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
    ranks = json.loads(out.read_text())
    assert [r['rank'] for r in ranks] == [0, 1]

    query, ref = embeddings(32, 2, groups=8)
    want, want_scores = expected_table(query, ref, 'cross', 7)
    for r in ranks:
        np.testing.assert_array_equal(r['table'], want)
        np.testing.assert_allclose(r['scores'], want_scores, rtol=1e-5)
        np.testing.assert_array_equal(r['sampler_table'], want[:, :3])  # its pool
    assert ranks[0]['scores'] == ranks[1]['scores']  # bit for bit
    # each rank embedded its own share: every item once over the two ranks
    seen = [r['seen'] for r in ranks]
    assert not set(seen[0]['query']) & set(seen[1]['query'])
    assert sorted(seen[0]['query'] + seen[1]['query']) == list(range(64))
    assert sorted(seen[0]['reference'] + seen[1]['reference']) == list(range(0, 64, 2))
    # the ranks' samplers agree: each global batch = two whole look-alike groups
    shares = [r['shares'] for r in ranks]
    assert len(shares[0]) == len(shares[1]) == 64 // 8
    for s0, s1 in zip(*shares):
        assert len(set(s0 + s1)) == 8
        assert len({p % 8 for p in s0}) == len({p % 8 for p in s1}) == 1
    assert sorted(p for s in shares for b in s for p in b) == sorted(list(range(32)) * 2)


def _worker(out_path):
    import torch.distributed as dist
    from mmengine.dist import all_gather_object, get_dist_info

    dist.init_process_group(backend='gloo')
    rank, world = get_dist_info()
    # 32 places in 8 cities and 8 look-alike groups of 4; 4 samples per rank and batch
    ds, sampler, model, runner = setup(num_places=32, groups=8, epoch=4)
    hook = HardNegativeMiningHook(similarity='cross', topk=7, batch_size=3, progress=rank == 0)
    table = hook.mine(runner)
    sampler.set_epoch(4)
    result = dict(
        rank=rank,
        table=table.neighbours.tolist(),
        scores=table.scores.tolist(),
        sampler_table=sampler.neighbour_table.tolist(),
        seen=model.seen,
        shares=batch_places(ds, sampler),
    )
    results = all_gather_object(result)
    if rank == 0:
        Path(out_path).write_text(json.dumps(results))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    _worker(sys.argv[1])
