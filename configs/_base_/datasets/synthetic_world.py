# The built-in world (no download): train pairs, test queries of every view, and a
# satellite gallery of the test places plus distractor tiles.
from mmengine.dataset import DefaultSampler

from gleamkit.datasets import PackCrossViewInputs, SyntheticCrossViewDataset, UniqueLocationSampler
from gleamkit.engine import RetrievalTestLoop, RetrievalValLoop
from gleamkit.evaluation import CrossViewRetrievalMetric

# 3,700 training places (each seen a handful of times: a CNN memorises a few hundred
# places long before it learns to match views), a test strip of 300 unseen places
# (cross-area), and a gallery of their 300 tiles + 300 distractor tiles (chance R@1 1/600).
# Every dataset below is written from `world`: `--cfg-options world.num_locations=300
# world.image_size=32` (or `world = dict(...)` in a child config) reaches all four.
world = dict(
    seed=0,
    num_locations=4000,
    num_distractors=300,
    image_size=64,
    difficulty=0.5,
    test_fraction=0.075,
)
query_views = ('uav', 'map', 'panorama', 'ground')
batch_size = 64
# a ground query is a set of 3 photos of the place (other street points, headings and
# light), as GLEAM's ground data (SetVL-480K) has sets of photos per cell; one photo
# (ground_set_size=1) is the single-image protocol (docs/synthetic_world.md)
ground_set_size = 3

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=0,
    dataset=dict(
        type=SyntheticCrossViewDataset,
        world=world,
        split='train',
        mode='pairs',
        views=query_views,
        ground_set_size=ground_set_size,
        pipeline=[dict(type=PackCrossViewInputs)],
    ),
    # no two images of one place in a batch: they would be false negatives
    sampler=dict(type=UniqueLocationSampler, batch_size=batch_size),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    dataset=dict(
        type=SyntheticCrossViewDataset,
        world=world,
        split='test',
        mode='query',
        views=query_views,
        ground_set_size=ground_set_size,
        pipeline=[dict(type=PackCrossViewInputs)],
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
test_dataloader = val_dataloader

gallery_dataloader = dict(
    batch_size=128,
    num_workers=0,
    dataset=dict(
        type=SyntheticCrossViewDataset,
        world=world,
        split='test',
        mode='gallery',
        with_distractors=True,
        pipeline=[dict(type=PackCrossViewInputs)],
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
# the evaluation loops embed the gallery before every validation / test
val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)
test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)

val_evaluator = dict(type=CrossViewRetrievalMetric, topk=(1, 5, 10))
test_evaluator = val_evaluator
