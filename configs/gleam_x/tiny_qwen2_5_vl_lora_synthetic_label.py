# GLEAM-X offline demo, label-only: the tiny random-weight Qwen2.5-VL fine-tuned with LoRA to
# answer the verdict sentence alone ("Yes, the two images show the same place." / "是的，……",
# 8-13 tokens) on the built-in bilingual set; trains and evaluates on a laptop CPU, offline.
#   python tools/train.py configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic_label.py
#   python tools/test.py configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic_label.py \
#       work_dirs/tiny_qwen2_5_vl_lora_synthetic_label/epoch_4.pth
from mmengine.config import read_base

from gleamkit.evaluation import GleamXMetric

with read_base():
    from .tiny_qwen2_5_vl_lora_synthetic import *

# a verdict sentence of 8-13 tokens needs no more than 4 epochs (the explanations take 12)
max_epochs = 4
param_scheduler[1]['end'] = max_epochs
train_cfg = dict(train_cfg, max_epochs=max_epochs, val_interval=max_epochs)

for _loader in (train_dataloader, val_dataloader, test_dataloader):
    _loader['dataset']['answer_mode'] = 'label'
# the longest label answer is 13 tokens with the tiny tokenizer (+ the end of turn)
model['generation'] = dict(max_new_tokens=16, do_sample=False)
# the answers are verdict sentences, not explanations: score the verdicts only
val_evaluator = dict(type=GleamXMetric, with_similarity=False, with_text_overlap=False)
test_evaluator = val_evaluator
