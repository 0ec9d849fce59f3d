# GLEAM-X offline: the tiny random-weight Qwen2.5-VL (built on first use into gleamkit's cache,
# no download) with a LoRA adapter on every linear layer of its language model.
from gleamkit.models.explainers import HuggingFaceVLMExplainer, VLMDataPreprocessor

model = dict(
    type=HuggingFaceVLMExplainer,
    model_name_or_path='gleamkit/tiny-qwen2.5-vl',  # gleamkit.models.explainers.TINY_QWEN2_5_VL
    lora=dict(r=16, lora_alpha=32, lora_dropout=0.0, target_modules='all-linear'),
    torch_dtype='float32',
    min_pixels=56 * 56,
    max_pixels=112 * 112,
    generation=dict(max_new_tokens=64, do_sample=False),
    data_preprocessor=dict(type=VLMDataPreprocessor),
)
