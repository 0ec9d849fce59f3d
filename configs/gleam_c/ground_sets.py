# Ground-photo sets -> satellite (SetVL-480K-style cells): the model embeds every photo of a
# cell and averages the embeddings (set_aggregation='mean'). No published recipe: Sample4Geo's
# model and optimiser, 32 cells x 8 random photos a step, 10 epochs with a 0.1-epoch
# warm-up (gleamkit's choice).
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.ground_sets import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_c_convnext_base import *
    from .._base_.schedules.sample4geo_adamw import *

model['set_aggregation'] = 'mean'
max_epochs = 10
warmup_epochs = 0.1
train_cfg.update(max_epochs=max_epochs, val_interval=1)
param_scheduler[0].update(end=warmup_epochs)
param_scheduler[1].update(begin=warmup_epochs, end=max_epochs)
