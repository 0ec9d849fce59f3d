# Sample4Geo's optimisation (Skyy93/Sample4Geo train_{university,vigor,cvusa,cvact}.py):
# AdamW lr 1e-3 (torch's default weight decay 0.01, on every parameter), linear warm-up then
# cosine decay to 0 per iteration (transformers' get_cosine_schedule_with_warmup), mixed
# precision, gradients clipped to [-100, 100] element-wise, 128 pairs per step. The lr is
# for 128 pairs per step summed over all GPUs (the loss all-gathers the embeddings): with N
# GPUs give each N times fewer pairs, e.g. 4 GPUs x 32 (see docs/training_real_data.md).
#
# Epochs differ per benchmark (Sample4Geo: University-1652 1 epoch with 0.1 warm-up epoch;
# VIGOR, CVUSA, CVACT 40 epochs with 1 warm-up epoch, validation every 4); the values here
# are the 40-epoch recipe. train_cfg and both schedulers are written from max_epochs and
# warmup_epochs: `max_epochs = 10` in a leaf config or `--cfg-options max_epochs=10` reaches
# them (tools/train.py follows the links; a changed train_cfg.max_epochs alone scales the
# schedule to the run). tools/train.py converts the schedule to whole iterations with at
# least two per phase, so a 0.1-epoch warm-up reaches lr 1e-3 for any epoch length
# (docs/training_real_data.md, "Changing a config").
from mmengine.optim import CosineAnnealingLR, LinearLR
from torch.optim import AdamW

from gleamkit.engine.loops import ResumableEpochBasedTrainLoop
from gleamkit.engine.optimizers import MixedPrecisionOptimWrapper

max_epochs = 40
warmup_epochs = 1
optim_wrapper = dict(
    # bf16 autocast where supported (no loss scaling needed), else fp16 with a grad scaler
    type=MixedPrecisionOptimWrapper,
    dtype='auto',
    optimizer=dict(type=AdamW, lr=1e-3, weight_decay=0.01),
    # Sample4Geo's trainer.py: torch.nn.utils.clip_grad_value_(params, 100)
    clip_grad=dict(type='value', clip_value=100.0),
)
param_scheduler = [
    # from lr * 1e-3 (transformers' warm-up starts at 0; mmengine needs a factor > 0)
    dict(
        type=LinearLR,
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True,
    ),
    dict(
        type=CosineAnnealingLR,
        eta_min=0.0,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True,
    ),
]
# resumable in the middle of an epoch: real-data epochs are long, so save iter_N.pth too
# (`tools/train.py --checkpoint-every 500`, or default_hooks.iter_checkpoint.interval=500)
train_cfg = dict(type=ResumableEpochBasedTrainLoop, max_epochs=max_epochs, val_interval=4)
# val_cfg / test_cfg come with the dataset: its evaluation loops own the gallery
