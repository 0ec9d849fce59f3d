# AdamW + linear warm-up + cosine decay (the Sample4Geo recipe), epoch-based.
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from mmengine.runner import EpochBasedTrainLoop
from torch.optim import AdamW

max_epochs = 8
optim_wrapper = dict(
    type=OptimWrapper,
    optimizer=dict(type=AdamW, lr=1e-3, weight_decay=0.01),
    clip_grad=dict(max_norm=5.0),
    # the temperature is a single scalar: no weight decay on it
    paramwise_cfg=dict(custom_keys={'loss_module.logit_scale': dict(decay_mult=0.0)}),
)
param_scheduler = [
    dict(
        type=LinearLR, start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True
    ),
    dict(
        type=CosineAnnealingLR,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        eta_min=1e-5,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=max_epochs, val_interval=max_epochs)
# val_cfg / test_cfg come with the dataset: its evaluation loops own the gallery
