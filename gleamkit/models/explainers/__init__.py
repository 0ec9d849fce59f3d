"""GLEAM-X explainers: match a (query, satellite) pair and explain the verdict."""

from .answer_cache import AnswerCache, image_digest
from .huggingface_vlm_explainer import (
    EXPLAINER_RECORD,
    HuggingFaceVLMExplainer,
    get_pixel_budget,
    merge_lora_adapter,
    read_explainer_record,
    set_pixel_budget,
)
from .openai_compatible_explainer import (
    APIError,
    MalformedResponseError,
    OpenAICompatibleExplainer,
    QuotaExceededError,
    image_to_data_url,
    parse_retry_after,
)
from .pretrained_vision_tower import PretrainedCNNVisionTower, replace_vision_tower
from .tiny_models import (
    TINY_BUILDERS,
    TINY_QWEN2_5_VL,
    build_tiny_idefics3,
    build_tiny_llava,
    build_tiny_paligemma,
    build_tiny_qwen2_5_vl,
    build_tiny_qwen2_vl,
    resolve_tiny_model,
)
from .verdict_scoring import (
    class_probability,
    infer_answer_mode,
    p_match_from_top_logprobs,
    verdict_candidates,
    verification_prompt,
)
from .vlm_data_preprocessor import VLMDataPreprocessor, build_chat_messages

__all__ = [
    'HuggingFaceVLMExplainer',
    'VLMDataPreprocessor',
    'OpenAICompatibleExplainer',
    'build_tiny_qwen2_5_vl',
    'resolve_tiny_model',
    'TINY_QWEN2_5_VL',
    'build_chat_messages',
    'get_pixel_budget',
    'set_pixel_budget',
    'read_explainer_record',
    'merge_lora_adapter',
    'EXPLAINER_RECORD',
    'APIError',
    'QuotaExceededError',
    'MalformedResponseError',
    'parse_retry_after',
    'image_to_data_url',
    'AnswerCache',
    'image_digest',
    'TINY_BUILDERS',
    'build_tiny_qwen2_vl',
    'build_tiny_llava',
    'build_tiny_idefics3',
    'build_tiny_paligemma',
    'verification_prompt',
    'verdict_candidates',
    'infer_answer_mode',
    'class_probability',
    'p_match_from_top_logprobs',
    'PretrainedCNNVisionTower',
    'replace_vision_tower',
]
