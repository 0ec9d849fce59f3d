# GLEAM-X, the paper's setting: Qwen2.5-VL-3B-Instruct fine-tuned with LoRA to answer with an
# explanation paragraph that ends in a verdict (targets: GPT-4o / Doubao explanations), in
# English and Chinese. One GPU with bf16 (>= 24 GB with gradient checkpointing).
#   python tools/train.py configs/gleam_x/qwen2_5_vl_3b_lora_explanation.py
#   python tools/test.py configs/gleam_x/qwen2_5_vl_3b_lora_explanation.py \
#       work_dirs/qwen2_5_vl_3b_lora_explanation/epoch_3.pth
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.gleam_x_jsonl import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_x_qwen2_5_vl_3b_lora import *
    from .._base_.schedules.gleam_x_lora import *

default_hooks['checkpoint'] = checkpoint_hook
default_hooks['logger'] = logger_hook
custom_hooks = lora_hooks
