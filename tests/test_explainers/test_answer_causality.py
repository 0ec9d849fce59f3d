"""Training batches keep the answer causal on every supported architecture: a later answer
token never changes the logits of an earlier position (issue 10.14: PaliGemma's prefix-LM
made the answer part of the bidirectional prefix when its token types were 0)."""

import pytest
import torch
from explainer_fixtures import contract_batch

from gleamkit.models.explainers import HuggingFaceVLMExplainer
from gleamkit.models.explainers.tiny_models import TINY_BUILDERS
from gleamkit.models.explainers.vlm_data_preprocessor import IGNORE_INDEX


@pytest.fixture(scope='module', params=sorted(TINY_BUILDERS))
def explainer(request, tmp_path_factory):
    folder = TINY_BUILDERS[request.param](str(tmp_path_factory.mktemp(request.param)))
    model = HuggingFaceVLMExplainer(folder, lora=None, torch_dtype='float32').eval()
    return request.param, model


def test_future_answer_tokens_never_change_earlier_logits(explainer):
    name, model = explainer
    batch = model.data_preprocessor(contract_batch(range(2)), training=True)['inputs']
    replacement = model.processor.tokenizer('x', add_special_tokens=False)['input_ids'][0]
    with torch.no_grad():
        before = model(batch, mode='tensor')
        for i in range(2):
            answer = (batch['labels'][i] != IGNORE_INDEX).nonzero().flatten().tolist()
            assert len(answer) >= 4, name
            for k in (answer[1], answer[len(answer) // 2], answer[-2]):
                changed = dict(batch, input_ids=batch['input_ids'].clone())
                old = int(changed['input_ids'][i, k])
                changed['input_ids'][i, k] = replacement if old != replacement else replacement + 1
                after = model(changed, mode='tensor')
                # positions before k (prompt and the answer so far) see nothing of token k
                torch.testing.assert_close(
                    after[i, :k],
                    before[i, :k],
                    rtol=0,
                    atol=1e-5,
                    msg=f'{name}: answer token {k} leaks backwards',
                )
                # the change is visible from k on (the test would catch a leak)
                assert not torch.allclose(after[i, k:], before[i, k:], atol=1e-5), name
                # the other sample of the batch is untouched
                torch.testing.assert_close(after[1 - i], before[1 - i], rtol=0, atol=1e-5)


def test_answer_token_types_follow_the_model(explainer):
    """PaliGemma: 0 = the bidirectional prefix, 1 = the causal answer (what its generate()
    gives new tokens); Qwen's mm_token_type_ids mark image tokens (answers are text)."""
    name, model = explainer
    batch = model.data_preprocessor(contract_batch(range(2)), training=True)['inputs']
    supervised = batch['labels'] != IGNORE_INDEX
    real = batch['attention_mask'].bool()
    if name == 'paligemma':
        types = batch['token_type_ids']
        assert (types[supervised] == 1).all()
        first = supervised.float().argmax(dim=1)
        for i in range(2):
            assert (types[i, : first[i]] == 0).all()  # the prompt is the prefix
            assert (types[i, first[i] :][real[i, first[i] :]] == 1).all()  # answer + end of turn
    elif 'mm_token_type_ids' in batch:
        assert (batch['mm_token_type_ids'][supervised] == 0).all()
