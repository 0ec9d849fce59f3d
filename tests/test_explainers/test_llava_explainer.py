"""HuggingFaceVLMExplainer is not Qwen-only: a tiny LLaVA (CLIP tower, Llama decoder,
fixed-size image processor without a pixel budget) trains and generates the same way."""

import pytest
import torch
from explainer_fixtures import contract_batch

from gleamkit.models.explainers import HuggingFaceVLMExplainer
from gleamkit.models.explainers.vlm_data_preprocessor import IGNORE_INDEX

# peft reads a deprecated transformers attribute: not ours to fix
pytestmark = pytest.mark.filterwarnings('ignore:.*is_gradient_checkpointing:FutureWarning')


@pytest.fixture(scope='module')
def tiny_llava_dir(tmp_path_factory):
    from gleamkit.models.explainers.tiny_models import build_tiny_llava

    return build_tiny_llava(str(tmp_path_factory.mktemp('tiny_llava')))


def test_llava_trains_on_answer_tokens_and_generates(tiny_llava_dir):
    explainer = HuggingFaceVLMExplainer(
        tiny_llava_dir,
        lora=dict(r=4, lora_alpha=8, target_modules='all-linear'),
        generation=dict(max_new_tokens=4),
    )
    trainable = [n for n, p in explainer.named_parameters() if p.requires_grad]
    assert trainable and all('.language_model.' in n and 'lora_' in n for n in trainable)
    assert explainer.pixel_budget == (None, None)
    data = contract_batch(range(2))
    batch = explainer.data_preprocessor(data, training=True)['inputs']
    tok = explainer.processor.tokenizer
    for i, item in enumerate(data['inputs']):
        labels = batch['labels'][i]
        assert labels[labels != IGNORE_INDEX].tolist() == tok(
            item['answer'], add_special_tokens=False
        )['input_ids'] + [tok.eos_token_id]
    loss = explainer(batch, mode='loss')['loss']
    loss.backward()
    assert torch.isfinite(loss)
    out = explainer.eval().test_step(contract_batch(range(2)))
    assert all(isinstance(s.pred_text, str) and s.pred_label in (-1, 0, 1) for s in out)


def test_a_pixel_budget_needs_a_processor_that_has_one(tiny_llava_dir):
    with pytest.raises(ValueError, match='no pixel budget'):
        HuggingFaceVLMExplainer(tiny_llava_dir, min_pixels=28 * 28, max_pixels=56 * 56)
