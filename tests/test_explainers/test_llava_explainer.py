"""HuggingFaceVLMExplainer is not Qwen-only: a tiny LLaVA (CLIP tower, Llama decoder,
fixed-size image processor without a pixel budget) trains and generates the same way."""
import pytest
import torch
from explainer_fixtures import contract_batch

from gleamkit.models.explainers import HuggingFaceVLMExplainer
from gleamkit.models.explainers.vlm_data_preprocessor import IGNORE_INDEX

# peft reads a deprecated transformers attribute: not ours to fix
pytestmark = pytest.mark.filterwarnings('ignore:.*is_gradient_checkpointing:FutureWarning')

TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.fixture(scope='module')
def tiny_llava_dir(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        CLIPImageProcessor,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        ['the two images show the same place', '两张图像是同一地点'] * 4,
        trainers.BpeTrainer(vocab_size=400, show_progress=False,
                            special_tokens=['<|endoftext|>', '<|im_start|>', '<|im_end|>',
                                            '<image>'],
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, chat_template=TEMPLATE,
                                  eos_token='<|im_end|>', pad_token='<|endoftext|>')
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={'shortest_edge': 28},
                                           crop_size={'height': 28, 'width': 28}),
        tokenizer=tok, patch_size=14, vision_feature_select_strategy='default',
        chat_template=TEMPLATE, image_token='<image>', num_additional_image_tokens=1)
    config = LlavaConfig(
        vision_config=dict(model_type='clip_vision_model', hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=2, image_size=28,
                           patch_size=14, projection_dim=32),
        text_config=dict(model_type='llama', vocab_size=len(tok), hidden_size=64,
                         intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2),
        image_token_id=tok.convert_tokens_to_ids('<image>'),
        vision_feature_select_strategy='default', vision_feature_layer=-1)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    path = str(tmp_path_factory.mktemp('tiny_llava'))
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def test_llava_trains_on_answer_tokens_and_generates(tiny_llava_dir):
    explainer = HuggingFaceVLMExplainer(
        tiny_llava_dir, lora=dict(r=4, lora_alpha=8, target_modules='all-linear'),
        generation=dict(max_new_tokens=4))
    trainable = [n for n, p in explainer.named_parameters() if p.requires_grad]
    assert trainable and all('.language_model.' in n and 'lora_' in n for n in trainable)
    assert explainer.pixel_budget == (None, None)
    data = contract_batch(range(2))
    batch = explainer.data_preprocessor(data, training=True)['inputs']
    tok = explainer.processor.tokenizer
    for i, item in enumerate(data['inputs']):
        labels = batch['labels'][i]
        assert labels[labels != IGNORE_INDEX].tolist() == \
            tok(item['answer'], add_special_tokens=False)['input_ids'] + [tok.eos_token_id]
    loss = explainer(batch, mode='loss')['loss']
    loss.backward()
    assert torch.isfinite(loss)
    out = explainer.eval().test_step(contract_batch(range(2)))
    assert all(isinstance(s.pred_text, str) and s.pred_label in (-1, 0, 1) for s in out)


def test_a_pixel_budget_needs_a_processor_that_has_one(tiny_llava_dir):
    with pytest.raises(ValueError, match='no pixel budget'):
        HuggingFaceVLMExplainer(tiny_llava_dir, min_pixels=28 * 28, max_pixels=56 * 56)
