"""VLMDataPreprocessor: chat formatting, exact answer-token supervision, padding."""

import numpy as np
import pytest
import torch
from explainer_fixtures import ANSWERS, contract_batch

from gleamkit.models.explainers import VLMDataPreprocessor, build_chat_messages
from gleamkit.models.explainers.vlm_data_preprocessor import IGNORE_INDEX


@pytest.fixture(scope='module')
def processor(tiny_vlm_dir):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_vlm_dir)


def make(processor, **kwargs):
    pre = VLMDataPreprocessor(**kwargs)
    pre.set_processor(processor)
    return pre


def test_messages_put_both_images_before_the_prompt():
    msgs = build_chat_messages('Same?', 2, answer='Yes.', system_prompt='Be brief.')
    assert [m['role'] for m in msgs] == ['system', 'user', 'assistant']
    assert [c['type'] for c in msgs[1]['content']] == ['image', 'image', 'text']
    assert msgs[2]['content'] == [dict(type='text', text='Yes.')]


@pytest.mark.parametrize('supervise_end_of_turn', [True, False])
def test_exactly_the_answer_tokens_are_supervised(processor, supervise_end_of_turn):
    pre = make(processor, supervise_end_of_turn=supervise_end_of_turn)
    data = contract_batch(range(4))
    out = pre(data, training=True)
    batch = out['inputs']
    assert out['data_samples'] is data['data_samples']
    tok = processor.tokenizer
    im_end = tok.convert_tokens_to_ids('<|im_end|>')
    image_pad = tok.convert_tokens_to_ids('<|image_pad|>')
    assert batch['input_ids'].shape == batch['labels'].shape == batch['attention_mask'].shape
    for i, item in enumerate(data['inputs']):
        answer_ids = tok(item['answer'], add_special_tokens=False)['input_ids']
        expected = answer_ids + ([im_end] if supervise_end_of_turn else [])
        labels = batch['labels'][i]
        supervised = labels[labels != IGNORE_INDEX].tolist()
        assert supervised == expected
        assert tok.decode(answer_ids) == item['answer']  # Chinese round-trips too
        # contiguous, at the end of the real tokens, and aligned with the input ids
        positions = (labels != IGNORE_INDEX).nonzero().flatten()
        assert positions.tolist() == list(range(positions[0], positions[0] + len(expected)))
        assert batch['input_ids'][i, positions].tolist() == expected
        real = int(batch['attention_mask'][i].sum())
        assert batch['attention_mask'][i, :real].all()  # right padding
        assert positions[-1] == real - (2 if supervise_end_of_turn else 3)  # '\n' after
        # the prompt (with its image tokens) precedes the answer, unsupervised
        prompt_ids = batch['input_ids'][i, : positions[0]].tolist()
        assert tok.decode(prompt_ids).endswith('<|im_start|>assistant\n')
        assert prompt_ids.count(image_pad) > 0
        assert (labels[real:] == IGNORE_INDEX).all()
    # the multimodal token types follow the ids (answers are text)
    assert torch.equal(batch['mm_token_type_ids'] != 0, batch['input_ids'] == image_pad)


def test_generation_batch_is_left_padded_and_ends_with_the_generation_prompt(processor):
    pre = make(processor, system_prompt='You compare aerial images.')
    batch = pre(contract_batch(range(3)), training=False)['inputs']
    assert 'labels' not in batch
    tok = processor.tokenizer
    assert batch['attention_mask'][:, -1].all()
    for row, mask in zip(batch['input_ids'], batch['attention_mask']):
        text = tok.decode(row[mask.bool()])
        assert text.startswith('<|im_start|>system\nYou compare aerial images.<|im_end|>')
        assert text.endswith('<|im_start|>assistant\n')
        assert not any(a in text for a in ANSWERS.values())
    # 2 images per sample, in sample order
    assert batch['image_grid_thw'].shape[0] == 6


def test_max_length_cuts_answers_not_prompts(processor):
    full = make(processor)(contract_batch([0]), training=True)['inputs']
    length = int(full['attention_mask'].sum())
    cut = make(processor, max_length=length - 5)(contract_batch([0]), training=True)['inputs']
    assert cut['input_ids'].shape[1] == length - 5
    assert torch.equal(cut['input_ids'][0], full['input_ids'][0, : length - 5])
    with pytest.raises(ValueError, match='max_length'):
        make(processor, max_length=10)(contract_batch([0]), training=True)


def test_clear_errors(processor):
    with pytest.raises(RuntimeError, match='set_processor'):
        VLMDataPreprocessor()(contract_batch([0]), training=True)
    data = contract_batch([0])
    data['inputs'][0]['answer'] = ''
    with pytest.raises(ValueError, match='answer'):
        make(processor)(data, training=True)
    data['inputs'][0]['images'][0] = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(TypeError, match='uint8'):
        make(processor)(data, training=False)


def test_pseudo_collated_batches_equal_sample_lists(processor):
    from explainer_fixtures import contract_sample
    from mmengine.dataset import pseudo_collate

    samples = [contract_sample(i) for i in range(3)]
    collated = pseudo_collate(samples)  # what the Runner's dataloader yields
    assert isinstance(collated['inputs'], dict)
    pre = make(processor)
    for training in (True, False):
        a = pre(collated, training=training)['inputs']
        b = pre(contract_batch(range(3)), training=training)['inputs']
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)
