# GLEAM-X offline demo: the tiny random-weight Qwen2.5-VL fine-tuned with LoRA on the built-in
# bilingual set; runs on a laptop CPU in minutes, nothing downloaded.
#   python tools/train.py configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic.py
#   python tools/test.py configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic.py \
#       work_dirs/tiny_qwen2_5_vl_lora_synthetic/epoch_12.pth
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.gleam_x_synthetic import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_x_tiny_qwen2_5_vl_lora import *
    from .._base_.schedules.gleam_x_lora import *

# a random model has no language to adapt: its output layer is trained with the adapter
# (saved in it, peft modules_to_save); the Qwen2.5-VL-3B configs keep the LoRA-only recipe
model['lora']['modules_to_save'] = ['lm_head']
# room for the whole explanation, closing verdict included: the references are 233-673 tokens
# with the tiny tokenizer (+ the end of turn); with 64 every answer was cut off (unparseable)
model['generation'] = dict(max_new_tokens=704, do_sample=False)
# 12 epochs: until the closing verdict sentence is learnt (unparseable answers on the test
# split: 12.7% after 4 epochs, 5.2% after 8, 0.6% after 12; under 10 minutes on 2 CPU cores)
max_epochs = 12
optim_wrapper['optimizer']['lr'] = 1e-2
optim_wrapper['accumulative_counts'] = 1
param_scheduler = [
    dict(type=LinearLR, start_factor=0.1, by_epoch=False, begin=0, end=10),
    dict(
        type=CosineAnnealingLR,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        eta_min=1e-4,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=max_epochs, val_interval=max_epochs)

default_hooks['checkpoint'] = checkpoint_hook
default_hooks['logger'] = logger_hook
custom_hooks = lora_hooks
