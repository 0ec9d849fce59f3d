"""Tiny random-weight VLMs that build offline, for tests and the offline GLEAM-X demo.

Like timm's ``test_*`` models, a tiny model has the real architecture and the real
file layout (``config.json``, ``model.safetensors``, ``tokenizer.json``,
``chat_template.jinja``, ``preprocessor_config.json``) at a size that trains on a
laptop CPU in seconds. Nothing is downloaded: the tokenizer is a byte-level BPE
trained here on a small English + Chinese corpus, the weights are random.

Architectures (:data:`TINY_BUILDERS`): Qwen2.5-VL, Qwen2-VL, LLaVA, Idefics3 and
PaliGemma; the explainer tests run on each of them.

Two ways to get one:

* :func:`build_tiny_qwen2_5_vl` (or another builder) writes one into a directory of
  your choice;
* the name :data:`TINY_QWEN2_5_VL` (``'gleamkit/tiny-qwen2.5-vl'``) given as
  ``model_name_or_path`` to :class:`HuggingFaceVLMExplainer` builds it once into
  gleamkit's cache (``$GLEAMKIT_CACHE`` or ``~/.cache/gleamkit``) and loads it from
  there (:func:`resolve_tiny_model`).
"""

import contextlib
import os
import os.path as osp
import shutil
import uuid
from typing import Optional

__all__ = [
    'build_tiny_qwen2_5_vl',
    'build_tiny_qwen2_vl',
    'build_tiny_llava',
    'build_tiny_idefics3',
    'build_tiny_paligemma',
    'resolve_tiny_model',
    'TINY_QWEN2_5_VL',
    'TINY_MODELS',
    'TINY_BUILDERS',
    'QWEN2_VL_CHAT_TEMPLATE',
    'IMAGE_TAG_CHAT_TEMPLATE',
]

#: Name of the tiny Qwen2.5-VL that :class:`HuggingFaceVLMExplainer` resolves offline.
TINY_QWEN2_5_VL = 'gleamkit/tiny-qwen2.5-vl'

#: Qwen2-VL / Qwen2.5-VL's chat template (as shipped with the Instruct checkpoints):
#: one ``<|vision_start|><|image_pad|><|vision_end|>`` per image block; the processor
#: expands ``<|image_pad|>`` to one token per merged image patch.
QWEN2_VL_CHAT_TEMPLATE = (
    '{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}'
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}'
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    '{% set image_count.value = image_count.value + 1 %}'
    '{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}'
    '<|vision_start|><|image_pad|><|vision_end|>'
    "{% elif content['type'] == 'video' or 'video' in content %}"
    '{% set video_count.value = video_count.value + 1 %}'
    '{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}'
    '<|vision_start|><|video_pad|><|vision_end|>'
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    '{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}'
)

_SPECIAL_TOKENS = [
    '<|endoftext|>',
    '<|im_start|>',
    '<|im_end|>',
    '<|vision_start|>',
    '<|vision_end|>',
    '<|image_pad|>',
    '<|video_pad|>',
]

# What GLEAM-X talks about, in both languages: enough for BPE merges that make
# explanations a few dozen tokens long instead of hundreds of bytes.
_CORPUS_EN = [
    'Image 1 is a drone view, a street map, a panorama or a ground photo of the area.',
    'Image 2 is a satellite image of the area.',
    'Do the two images show the same place? Explain why, then give your verdict.',
    'The road layout, the buildings, the green space and the water match.',
    'The road network and the building footprints are consistent in both images.',
    'The river, the lake and the park appear in the same positions.',
    'The intersection, the roundabout and the parking lot do not correspond.',
    'The dense residential blocks differ from the open farmland in the satellite image.',
    'Taken together, these similarities confirm that they depict the same area.',
    'These differences indicate that the two images do not correspond.',
    'Answer: yes. Answer: no. The images match. The images do not match.',
    'Verdict: same place. Verdict: different places. Same location. Different location.',
]
_CORPUS_ZH = [
    '图像1是该区域的无人机视角、街道地图、全景图或地面照片。',
    '图像2是该区域的卫星图像。',
    '这两张图像是否显示同一地点？请说明理由，然后给出结论。',
    '道路布局、建筑物、绿地和水体相互吻合。',
    '两张图像中的道路网络和建筑轮廓一致。',
    '河流、湖泊和公园出现在相同的位置。',
    '交叉路口、环岛和停车场并不对应。',
    '密集的住宅区与卫星图像中开阔的农田不同。',
    '综合来看，这些相似之处证实它们描绘的是同一区域。',
    '这些差异表明两张图像并不对应。',
    '答案：是。答案：否。两张图像匹配。两张图像不匹配。',
    '结论：同一地点。结论：不同地点。',
]


#: Chat template of the tiny LLaVA, Idefics3 and PaliGemma: one ``<image>`` per image
#: block, which their processors expand to the image's tokens.
IMAGE_TAG_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    '<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}'
)


def _train_tokenizer(
    vocab_size: int,
    special_tokens=_SPECIAL_TOKENS,
    chat_template: str = QWEN2_VL_CHAT_TEMPLATE,
    **special,
):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        show_progress=False,
        # every byte is a token: any text (any language) can be encoded
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator((_CORPUS_EN + _CORPUS_ZH) * 4, trainer)
    kwargs = dict(eos_token='<|im_end|>', pad_token='<|endoftext|>')
    kwargs.update(special)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, chat_template=chat_template, model_max_length=4096, **kwargs
    )


def _tiny_text_config(model_type: str, vocab_size: int, tokenizer, **extra) -> dict:
    """A 2-layer, width-64 decoder config (Llama, Gemma, ...) for the tiny VLMs."""
    config = dict(
        model_type=model_type,
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config.update(extra)
    return config


def _save(model_cls, config, processor, save_dir: str, seed: int) -> str:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config).eval()
    tokenizer = processor.tokenizer
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    os.makedirs(save_dir, exist_ok=True)
    model.save_pretrained(save_dir)
    processor.save_pretrained(save_dir)
    return save_dir


def _build_tiny_qwen(
    config_cls,
    model_cls,
    processor_cls,
    vision_config: dict,
    save_dir: str,
    seed: int,
    vocab_size: int,
    min_pixels: int,
    max_pixels: int,
) -> str:
    """What the tiny Qwen2-VL and Qwen2.5-VL share: tokenizer, text decoder, processor, save."""
    from transformers import Qwen2VLImageProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tokenizer = _train_tokenizer(vocab_size)
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in _SPECIAL_TOKENS}
    config = config_cls(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            max_window_layers=2,
            # head_dim 16 -> 8 rotary frequencies split over (time, height, width)
            rope_parameters=dict(rope_type='default', mrope_section=[2, 3, 3], rope_theta=10000.0),
            bos_token_id=ids['<|endoftext|>'],
            eos_token_id=ids['<|im_end|>'],
            pad_token_id=ids['<|endoftext|>'],
        ),
        vision_config=vision_config,
        image_token_id=ids['<|image_pad|>'],
        video_token_id=ids['<|video_pad|>'],
        vision_start_token_id=ids['<|vision_start|>'],
        vision_end_token_id=ids['<|vision_end|>'],
        tie_word_embeddings=False,
    )
    processor = processor_cls(
        image_processor=Qwen2VLImageProcessor(min_pixels=min_pixels, max_pixels=max_pixels),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(min_pixels=min_pixels, max_pixels=max_pixels),
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )
    return _save(model_cls, config, processor, save_dir, seed)


def build_tiny_qwen2_5_vl(
    save_dir: str,
    seed: int = 0,
    vocab_size: int = 1024,
    min_pixels: int = 56 * 56,
    max_pixels: int = 112 * 112,
) -> str:
    """Write a tiny random-weight Qwen2.5-VL (model + processor) to ``save_dir``.

    Architecture: text decoder hidden 64, 2 layers, 4 heads (2 KV heads); vision
    tower depth 2, hidden 32, patch 14, 2x2 patch merging into the text width.
    ``AutoModelForImageTextToText.from_pretrained(save_dir)`` and
    ``AutoProcessor.from_pretrained(save_dir)`` load it with ``HF_HUB_OFFLINE=1``.

    Args:
        save_dir: Output directory (created).
        seed: Seed of the random weights (the tokenizer is deterministic).
        vocab_size: Target BPE vocabulary size (special tokens included).
        min_pixels, max_pixels: The processor's default pixel budget: with the
            defaults an image becomes 4 to 16 tokens after merging.

    Returns:
        ``save_dir``.
    """
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
    )

    vision_config = dict(
        depth=2,
        hidden_size=32,
        intermediate_size=64,
        num_heads=2,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        window_size=56,
        out_hidden_size=64,
        fullatt_block_indexes=[1],
    )
    return _build_tiny_qwen(
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        vision_config,
        save_dir,
        seed,
        vocab_size,
        min_pixels,
        max_pixels,
    )


def build_tiny_qwen2_vl(
    save_dir: str,
    seed: int = 0,
    vocab_size: int = 1024,
    min_pixels: int = 56 * 56,
    max_pixels: int = 112 * 112,
) -> str:
    """Write a tiny random-weight Qwen2-VL (model + processor) to ``save_dir``.

    Like :func:`build_tiny_qwen2_5_vl` with Qwen2-VL's vision tower (depth 2,
    width 32, no window attention).
    """
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

    vision_config = dict(
        depth=2,
        embed_dim=32,
        hidden_size=64,
        mlp_ratio=2,
        num_heads=2,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
    )
    return _build_tiny_qwen(
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLProcessor,
        vision_config,
        save_dir,
        seed,
        vocab_size,
        min_pixels,
        max_pixels,
    )


def build_tiny_llava(save_dir: str, seed: int = 0, vocab_size: int = 1024) -> str:
    """Write a tiny random-weight LLaVA (CLIP tower, Llama decoder) to ``save_dir``.

    A fixed-size image processor (28x28 pixels, 4 patches + CLS), no pixel budget.
    """
    from transformers import (
        CLIPImageProcessor,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = _train_tokenizer(
        vocab_size,
        ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>'],
        IMAGE_TAG_CHAT_TEMPLATE,
    )
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={'shortest_edge': 28}, crop_size={'height': 28, 'width': 28}
        ),
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy='default',
        chat_template=IMAGE_TAG_CHAT_TEMPLATE,
        image_token='<image>',
        num_additional_image_tokens=1,
    )
    config = LlavaConfig(
        vision_config=dict(
            model_type='clip_vision_model',
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=28,
            patch_size=14,
            projection_dim=32,
        ),
        text_config=_tiny_text_config('llama', len(tokenizer), tokenizer),
        image_token_id=tokenizer.convert_tokens_to_ids('<image>'),
        vision_feature_select_strategy='default',
        vision_feature_layer=-1,
    )
    return _save(LlavaForConditionalGeneration, config, processor, save_dir, seed)


def build_tiny_idefics3(save_dir: str, seed: int = 0, vocab_size: int = 1024) -> str:
    """Write a tiny random-weight Idefics3 (SigLIP tower, pixel shuffle, Llama decoder).

    Images are resized to 56x56 without splitting: 16 patches, 4 tokens after the
    2x2 pixel shuffle.
    """
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
    )

    tokenizer = _train_tokenizer(
        vocab_size,
        [
            '<|endoftext|>',
            '<|im_start|>',
            '<|im_end|>',
            '<image>',
            '<fake_token_around_image>',
            '<global-img>',
            '<end_of_utterance>',
        ],
        IMAGE_TAG_CHAT_TEMPLATE,
    )
    image_processor = Idefics3ImageProcessor(
        do_image_splitting=False, size={'longest_edge': 56}, max_image_size={'longest_edge': 56}
    )
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=4,
        chat_template=IMAGE_TAG_CHAT_TEMPLATE,
    )
    config = Idefics3Config(
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=56,
            patch_size=14,
        ),
        text_config=_tiny_text_config('llama', len(tokenizer), tokenizer),
        scale_factor=2,
        image_token_id=tokenizer.convert_tokens_to_ids('<image>'),
        tie_word_embeddings=False,
    )
    return _save(Idefics3ForConditionalGeneration, config, processor, save_dir, seed)


def build_tiny_paligemma(save_dir: str, seed: int = 0, vocab_size: int = 1024) -> str:
    """Write a tiny random-weight PaliGemma (SigLIP tower, Gemma decoder) to ``save_dir``.

    PaliGemma is a prefix-LM: the prompt (``token_type_ids == 0``) attends both
    ways, the answer (``token_type_ids == 1``) causally. Images are 28x28: 4 tokens.
    """
    from transformers import (
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipImageProcessor,
    )

    tokenizer = _train_tokenizer(
        vocab_size,
        ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>', '<bos>'],
        IMAGE_TAG_CHAT_TEMPLATE,
        bos_token='<bos>',
    )
    image_processor = SiglipImageProcessor(size={'height': 28, 'width': 28})
    image_processor.image_seq_length = 4
    # the processor adds PaliGemma's <loc>/<seg> tokens: the vocabulary is sized after it
    processor = PaliGemmaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=IMAGE_TAG_CHAT_TEMPLATE
    )
    config = PaliGemmaConfig(
        vision_config=dict(
            model_type='siglip_vision_model',
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=28,
            patch_size=14,
            projection_dim=64,
        ),
        text_config=_tiny_text_config(
            'gemma', len(processor.tokenizer), tokenizer, bos_token_id=tokenizer.bos_token_id
        ),
        image_token_id=processor.image_token_id,
        projection_dim=64,
        hidden_size=64,
    )
    return _save(PaliGemmaForConditionalGeneration, config, processor, save_dir, seed)


#: Offline names -> (builder, keyword arguments).
TINY_MODELS = {TINY_QWEN2_5_VL: (build_tiny_qwen2_5_vl, dict(seed=0))}

#: Every architecture the explainers are tested on -> its tiny builder.
TINY_BUILDERS = {
    'qwen2_5_vl': build_tiny_qwen2_5_vl,
    'qwen2_vl': build_tiny_qwen2_vl,
    'llava': build_tiny_llava,
    'idefics3': build_tiny_idefics3,
    'paligemma': build_tiny_paligemma,
}


def _cache_root() -> str:
    return os.environ.get('GLEAMKIT_CACHE') or osp.join(osp.expanduser('~'), '.cache', 'gleamkit')


def resolve_tiny_model(name: str, cache_dir: Optional[str] = None) -> Optional[str]:
    """Return the local directory of the tiny model ``name``, building it once.

    Returns ``None`` when ``name`` is not one of :data:`TINY_MODELS`. The model is
    built into a temporary sibling directory and renamed into place, so concurrent
    processes (several ranks, several test workers) never see a half-written model.
    """
    if name not in TINY_MODELS:
        return None
    builder, kwargs = TINY_MODELS[name]
    root = cache_dir or _cache_root()
    target = osp.join(root, name.replace('/', '--'))
    if osp.isfile(osp.join(target, 'config.json')):
        return target
    os.makedirs(root, exist_ok=True)
    tmp = f'{target}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    try:
        builder(tmp, **kwargs)
        try:
            os.rename(tmp, target)
        except OSError:  # another process got there first: keep theirs
            if not osp.isfile(osp.join(target, 'config.json')):
                raise
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
    return target
