# GLEAM-X: Qwen2.5-VL-3B-Instruct + LoRA on the language model's attention (q/k/v/o).
# Vision tower and projector frozen; bf16 on GPUs that support it (fp32 on CPU).
from gleamkit.models.explainers import HuggingFaceVLMExplainer, VLMDataPreprocessor

model = dict(
    type=HuggingFaceVLMExplainer,
    # hub name (downloaded once by transformers) or a local folder with the weights
    model_name_or_path='Qwen/Qwen2.5-VL-3B-Instruct',
    lora=dict(r=16, lora_alpha=32, lora_dropout=0.05, target_modules='attention'),
    freeze_vision_tower=True,
    freeze_projector=True,
    torch_dtype='auto',
    attn_implementation='sdpa',
    gradient_checkpointing=True,
    # The pixel budget: 64..512 visual tokens per image (one token per 28x28 pixels).
    # Recorded with the adapter and checked when it is loaded: inference uses the same.
    min_pixels=64 * 28 * 28,
    max_pixels=512 * 28 * 28,
    generation=dict(max_new_tokens=512, do_sample=False),
    data_preprocessor=dict(type=VLMDataPreprocessor, max_length=3072),
)
