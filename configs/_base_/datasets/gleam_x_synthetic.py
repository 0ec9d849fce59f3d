# The offline bilingual GLEAM-X set, built from gleamkit's built-in world on first use (cached):
# (query of any view, satellite) pairs with English and Chinese explanations ending in a verdict.
from mmengine.dataset import DefaultSampler, pseudo_collate

from gleamkit.datasets import GleamXDataset, LoadExplanationImages, PackExplanationInputs
from gleamkit.evaluation import GleamXMetric

# both splits must name the same set (it is cached by these arguments)
num_pairs = 512
image_size = 128
lang = 'both'
answer_mode = 'explanation'
pipeline = [dict(type=LoadExplanationImages), dict(type=PackExplanationInputs)]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    collate_fn=dict(type=pseudo_collate),  # the model's VLMDataPreprocessor collates
    dataset=dict(
        type=GleamXDataset,
        lang=lang,
        synthetic=dict(split='train', num_pairs=num_pairs, image_size=image_size),
        answer_mode=answer_mode,
        pipeline=pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=True),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    collate_fn=dict(type=pseudo_collate),
    dataset=dict(
        type=GleamXDataset,
        lang=lang,
        synthetic=dict(split='test', num_pairs=num_pairs, image_size=image_size),
        answer_mode=answer_mode,
        pipeline=pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
test_dataloader = val_dataloader
val_evaluator = dict(type=GleamXMetric)
test_evaluator = val_evaluator
