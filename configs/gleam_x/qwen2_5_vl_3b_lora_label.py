# GLEAM-X label-only baseline of the paper: the same LoRA fine-tuning, but the target answer is
# one verdict sentence ("Yes, the two images show the same place." / "是的，这两张图像是同一地点。").
#   python tools/train.py configs/gleam_x/qwen2_5_vl_3b_lora_label.py
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.gleam_x_jsonl import *
    from .._base_.default_runtime import *
    from .._base_.models.gleam_x_qwen2_5_vl_3b_lora import *
    from .._base_.schedules.gleam_x_lora import *

for _loader in (train_dataloader, val_dataloader, test_dataloader):
    _loader['dataset']['answer_mode'] = 'label'
model['generation'] = dict(max_new_tokens=32, do_sample=False)
model['data_preprocessor']['max_length'] = 2048

default_hooks['checkpoint'] = checkpoint_hook
default_hooks['logger'] = logger_hook
custom_hooks = lora_hooks
