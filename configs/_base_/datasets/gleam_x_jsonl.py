# GLEAM-X pairs from JSONL files (docs/gleam_x_data.md): data/gleam_x/{train,val,test}.jsonl,
# image paths relative to each file's folder. English and Chinese samples ('both').
from mmengine.dataset import DefaultSampler, pseudo_collate

from gleamkit.datasets import GleamXDataset, LoadExplanationImages, PackExplanationInputs
from gleamkit.evaluation import GleamXMetric

data_root = 'data/gleam_x'
lang = 'both'
answer_mode = 'explanation'  # 'label': the label-only baseline
pipeline = [dict(type=LoadExplanationImages), dict(type=PackExplanationInputs)]

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    collate_fn=dict(type=pseudo_collate),  # the model's VLMDataPreprocessor collates
    dataset=dict(
        type=GleamXDataset,
        data_root=data_root,
        ann_file='train.jsonl',
        lang=lang,
        answer_mode=answer_mode,
        pipeline=pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=True),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    collate_fn=dict(type=pseudo_collate),
    dataset=dict(
        type=GleamXDataset,
        data_root=data_root,
        ann_file='val.jsonl',
        lang=lang,
        answer_mode=answer_mode,
        pipeline=pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
test_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    collate_fn=dict(type=pseudo_collate),
    dataset=dict(
        type=GleamXDataset,
        data_root=data_root,
        ann_file='test.jsonl',
        lang=lang,
        answer_mode=answer_mode,
        pipeline=pipeline,
    ),
    sampler=dict(type=DefaultSampler, shuffle=False),
)
# GleamXMetric: matching accuracy (+ per view / language) and Sentence-BERT similarity
# (English: all-MiniLM-L6-v2; Chinese needs a multilingual model, downloaded once)
val_evaluator = dict(
    type=GleamXMetric,
    sbert_model=dict(en='all-MiniLM-L6-v2', zh='paraphrase-multilingual-MiniLM-L12-v2'),
    allow_download=True,
)
# test scores P(match) at the balanced threshold chosen on val.jsonl (recorded by
# ValidationThresholdHook, saved in the checkpoint), never at one chosen on test
test_evaluator = dict(val_evaluator, match_threshold='validation')
