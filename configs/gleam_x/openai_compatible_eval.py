# Evaluate a model behind an OpenAI-compatible endpoint on the GLEAM-X test set: a fine-tuned
# GLEAM-X served by `vllm serve` (default below), GPT-4o, Doubao, ... Predict-only (no weights).
#   vllm serve work_dirs/gleam_x_merged --served-model-name gleam-x --limit-mm-per-prompt '{"image": 2}'
#   python tools/test.py configs/gleam_x/openai_compatible_eval.py none   (see docs/gleam_x.md)
# GPT-4o: --cfg-options model.base_url=https://api.openai.com/v1 model.model=gpt-4o \
#   model.api_key_env=OPENAI_API_KEY
from mmengine.config import read_base
from mmengine.runner import TestLoop

from gleamkit.models.explainers import OpenAICompatibleExplainer

with read_base():
    from .._base_.datasets.gleam_x_jsonl import *
    from .._base_.default_runtime import *

model = dict(
    type=OpenAICompatibleExplainer,
    model='gleam-x',
    base_url='http://localhost:8000/v1',
    api_key_env=None,  # a local vLLM needs no key; hosted APIs: the variable's name
    timeout=300.0,
    max_retries=5,
    max_concurrency=8,  # requests in flight per test batch
    generation=dict(temperature=0, max_tokens=1024),
    # every answer is appended here as it arrives: a rerun asks only for what is missing
    # (keyed by model name, prompt, settings and image pixels; delete it to ask afresh)
    cache_file='work_dirs/openai_compatible_eval/answer_cache.jsonl',
    on_error='record',  # a pair that still fails after the retries: counted failed, run goes on
)
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader['batch_size'] = 32
test_cfg = dict(type=TestLoop)
