# LoRA fine-tuning schedule of GLEAM-X (the usual Qwen2.5-VL recipe): AdamW lr 1e-4,
# linear warm-up then cosine decay, 3 epochs, effective batch 16 per GPU (4 x 4 accumulated).
from mmengine.hooks import CheckpointHook, LoggerHook
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from mmengine.runner import EpochBasedTrainLoop, TestLoop, ValLoop
from torch.optim import AdamW

from gleamkit.engine.hooks import LoRACheckpointHook, ValidationThresholdHook

max_epochs = 3
optim_wrapper = dict(
    type=OptimWrapper,
    optimizer=dict(type=AdamW, lr=1e-4, weight_decay=0.0, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=1.0),
    accumulative_counts=4,
)
param_scheduler = [
    dict(type=LinearLR, start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type=CosineAnnealingLR,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        eta_min=0.0,
        convert_to_iter_based=True,
    ),
]
# generation over the whole validation set is slow: validate once, at the end
train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)
# multi-GPU (tools/dist_train.sh): plain DDP; every LoRA weight is used in every step
model_wrapper_cfg = dict(
    type=MMDistributedDataParallel, broadcast_buffers=False, find_unused_parameters=False
)

# mmengine's checkpoints hold the LoRA weights + optimizer state (a few MB, --resume works);
# LoRACheckpointHook writes the peft adapter next to them (work_dir/adapters/epoch_N) and the
# final one to work_dir/adapter
checkpoint_hook = dict(
    type=CheckpointHook, interval=1, max_keep_ckpts=2, save_best='gleam_x/accuracy', rule='greater'
)
logger_hook = dict(type=LoggerHook, interval=10)
# ValidationThresholdHook records the P(match) threshold chosen on validation in the checkpoint
# (test evaluators with match_threshold='validation' apply it; load_explainer sets it too)
lora_hooks = [
    dict(type=LoRACheckpointHook, out_dir='adapters', max_keep=2, final_dir='adapter'),
    dict(type=ValidationThresholdHook),
]
