# The offline bilingual GLEAM-X set, built from gleamkit's built-in world on first use (cached):
# (query of any view, satellite) pairs with English and Chinese explanations ending in a verdict.
from mmengine.dataset import DefaultSampler, pseudo_collate

from gleamkit.datasets import GleamXDataset, LoadExplanationImages, PackExplanationInputs
from gleamkit.evaluation import GleamXMetric

lang = 'both'
answer_mode = 'explanation'
pipeline = [dict(type=LoadExplanationImages), dict(type=PackExplanationInputs)]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    collate_fn=dict(type=pseudo_collate),  # the model's VLMDataPreprocessor collates
    dataset=dict(type=GleamXDataset, synthetic=dict(split='train'), lang=lang,
                 answer_mode=answer_mode, pipeline=pipeline),
    sampler=dict(type=DefaultSampler, shuffle=True),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    collate_fn=dict(type=pseudo_collate),
    dataset=dict(type=GleamXDataset, synthetic=dict(split='test'), lang=lang,
                 answer_mode=answer_mode, pipeline=pipeline),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
test_dataloader = val_dataloader
val_evaluator = dict(type=GleamXMetric)
test_evaluator = val_evaluator
