"""Verdicts as probabilities: candidates, P(match) by hand, the API's logprobs route."""

import json
import math

import numpy as np
import pytest
import torch
from explainer_fixtures import ScriptedServer

from gleamkit.datasets.gleam_x.prompts import LABEL_ANSWERS
from gleamkit.models.explainers import (
    HuggingFaceVLMExplainer,
    OpenAICompatibleExplainer,
    class_probability,
    infer_answer_mode,
    p_match_from_top_logprobs,
    verdict_candidates,
    verification_prompt,
)
from gleamkit.models.explainers.verdict_scoring import split_closing_verdict
from gleamkit.synthetic.captions.phrases import PHRASES


def pair_images(seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (48, 48, 3), dtype=np.uint8),
        rng.integers(0, 256, (48, 48, 3), dtype=np.uint8),
    )


def test_candidates_are_the_training_data_words():
    assert verdict_candidates('en', 'label') == {1: ('Yes',), 0: ('No',)}
    assert verdict_candidates('zh', 'label') == {1: ('是的',), 0: ('不是',)}
    for lang in ('en', 'zh'):
        for label, (word,) in verdict_candidates(lang, 'label').items():
            assert LABEL_ANSWERS[lang][label].startswith(word)
        cands = verdict_candidates(lang, 'explanation')
        assert cands == {1: tuple(PHRASES[lang]['match']), 0: tuple(PHRASES[lang]['no_match'])}
    with pytest.raises(ValueError, match="lang='fr'"):
        verdict_candidates('fr', 'label')


def test_prompts_and_answer_mode():
    assert 'Answer yes or no' in verification_prompt('en', 'label')
    assert '街道地图' in verification_prompt('zh', 'explanation', view='map')
    for lang in ('en', 'zh'):
        assert infer_answer_mode(verification_prompt(lang, 'label', 'ground'), lang) == 'label'
        assert infer_answer_mode(verification_prompt(lang), lang) == 'explanation'


def test_class_probability_by_hand():
    # match: two candidates with p 0.2 and 0.1 (0.3); no match: 0.1 -> 0.75
    p = class_probability([math.log(0.2), math.log(0.1)], [math.log(0.1)])
    assert p == pytest.approx(0.75)
    assert class_probability([-math.inf], [0.0]) == 0.0
    assert class_probability([-math.inf], [-math.inf]) == 0.5


def test_split_closing_verdict():
    body = 'Image 1 shows two roads. Image 2 shows two roads.'
    no = PHRASES['en']['no_match'][0]
    assert split_closing_verdict(f'{body} {no}', 'en') == (body, True)
    assert split_closing_verdict(f'{body} So they are the same place.', 'en') == (body, True)
    assert split_closing_verdict(body, 'en') == (body, False)
    zh = '图像1有两条道路。'
    assert split_closing_verdict(zh + PHRASES['zh']['match'][1], 'zh') == (zh, True)


@pytest.fixture(scope='module')
def explainer(tiny_vlm_dir):
    torch.manual_seed(0)
    return HuggingFaceVLMExplainer(
        tiny_vlm_dir, lora=None, generation=dict(max_new_tokens=6), match_threshold=0.4
    )


def hand_log_prob(explainer, query, sat, prompt, answer):
    """log p(answer | prompt) computed here from the model's logits, token by token."""
    processor = explainer.processor
    messages = [
        dict(
            role='user',
            content=[dict(type='image'), dict(type='image'), dict(type='text', text=prompt)],
        )
    ]
    head = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    from PIL import Image

    batch = processor(
        text=[head + answer],
        images=[[Image.fromarray(query), Image.fromarray(sat)]],
        return_tensors='pt',
    )
    n = len(processor.tokenizer(answer, add_special_tokens=False)['input_ids'])
    with torch.no_grad():
        logits = explainer.model(**batch).logits[0].float()
    ids = batch['input_ids'][0]
    logp = torch.log_softmax(logits, -1)
    total = len(ids)
    return float(sum(logp[t - 1, ids[t]] for t in range(total - n, total)))


@pytest.mark.parametrize('lang', ['en', 'zh'])
def test_label_p_match_equals_a_hand_computation(explainer, lang):
    query, sat = pair_images()
    prompt = verification_prompt(lang, 'label')
    yes, no = (verdict_candidates(lang, 'label')[k][0] for k in (1, 0))
    a = hand_log_prob(explainer, query, sat, prompt, yes)
    b = hand_log_prob(explainer, query, sat, prompt, no)
    expected = math.exp(a) / (math.exp(a) + math.exp(b))
    (p,) = explainer.score_batch([(query, sat, prompt, lang)])
    assert p == pytest.approx(expected, abs=1e-5)
    assert 0.0 < p < 1.0


def test_explanation_score_is_read_where_the_verdict_stands(explainer):
    query, sat = pair_images(1)
    prompt = verification_prompt('en')
    body = 'Image 1 shows two roads and a park. Image 2 shows two roads and a lake.'
    texts = [
        body,  # no verdict written: the candidates are appended
        f'{body} {PHRASES["en"]["match"][0]}',  # its verdict is replaced by the candidates
        f'{body} Therefore they are the same place.',
    ]
    scores = explainer.score_batch([(query, sat, prompt, 'en')] * 3, texts=texts)
    assert scores[1] == pytest.approx(scores[0], abs=1e-6)
    assert scores[2] == pytest.approx(scores[0], abs=1e-6)
    # the same, by hand: logsumexp over each class's closing sentences
    cands = verdict_candidates('en', 'explanation')
    logps = {
        k: [hand_log_prob(explainer, query, sat, prompt, f'{body} {c}') for c in cands[k]]
        for k in (1, 0)
    }
    prefix = hand_log_prob(explainer, query, sat, prompt, body)
    # the body's log-prob is shared by every candidate and cancels in the ratio
    assert scores[0] == pytest.approx(
        class_probability([x - prefix for x in logps[1]], [x - prefix for x in logps[0]]),
        abs=1e-4,
    )


def test_explain_batch_and_predict_carry_p_match(explainer):
    from explainer_fixtures import contract_batch

    query, sat = pair_images(2)
    (result,) = explainer.explain_batch([(query, sat, verification_prompt('zh', 'label'), 'zh')])
    assert set(result) == {'text', 'label', 'p_match', 'scored_label'}
    assert result['scored_label'] == int(result['p_match'] >= 0.4)
    data = explainer.data_preprocessor(contract_batch(range(2)), training=False)
    samples = explainer(**data, mode='predict')
    for s in samples:
        assert 0.0 <= s.p_match <= 1.0 and s.scored_label == int(s.p_match >= 0.4)


# --------------------------------------------------------------------------- the API route
def reply_with_logprobs(tokens):
    """A chat completion whose answer is ``tokens``: [(token, logprob, {alt: logprob})]."""
    content = [
        dict(
            token=t,
            logprob=lp,
            top_logprobs=[dict(token=a, logprob=alp) for a, alp in alts.items()],
        )
        for t, lp, alts in tokens
    ]
    text = ''.join(t for t, _, _ in tokens)
    return json.dumps(
        dict(
            choices=[
                dict(
                    index=0,
                    finish_reason='stop',
                    message=dict(role='assistant', content=text),
                    logprobs=dict(content=content),
                )
            ]
        )
    ).encode()


LABEL_TOKENS = [
    ('Yes', math.log(0.6), {'Yes': math.log(0.6), 'No': math.log(0.3), 'Maybe': math.log(0.1)}),
    (',', 0.0, {}),
    (' same place.', 0.0, {}),
]
EXPLANATION_TOKENS = [
    ('Roads line up.', 0.0, {}),
    (' These', 0.0, {' These': 0.0}),
    (
        ' consistent',
        math.log(0.5),
        {
            ' consistent': math.log(0.5),
            ' differences': math.log(0.25),
            ' features': math.log(0.25),
        },
    ),
    (' features confirm that they depict the same area.', 0.0, {}),
]


def test_top_logprobs_by_hand():
    p, why = p_match_from_top_logprobs(
        [
            dict(
                token=t,
                logprob=lp,
                top_logprobs=[dict(token=a, logprob=v) for a, v in alts.items()],
            )
            for t, lp, alts in LABEL_TOKENS
        ],
        verdict_candidates('en', 'label'),
    )
    assert why == '' and p == pytest.approx(0.6 / 0.9)
    p, _ = p_match_from_top_logprobs(
        [
            dict(
                token=t,
                logprob=lp,
                top_logprobs=[dict(token=a, logprob=v) for a, v in alts.items()],
            )
            for t, lp, alts in EXPLANATION_TOKENS
        ],
        verdict_candidates('en', 'explanation'),
    )
    assert p == pytest.approx(0.5 / 0.75)  # ' features' continues no candidate
    p, why = p_match_from_top_logprobs(
        [dict(token='Perhaps.', logprob=0.0, top_logprobs=[])], verdict_candidates('en', 'label')
    )
    assert p is None and 'none of the verdict candidates' in why


def api(url, **kwargs):
    return OpenAICompatibleExplainer(
        model='gleam-x-lora',
        base_url=url,
        api_key_env=None,
        timeout=2.0,
        max_retries=0,
        progress=False,
        **kwargs,
    )


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ('http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(var, raising=False)


def test_api_reads_p_match_from_logprobs():
    query, sat = pair_images()
    script = [
        (200, {}, reply_with_logprobs(LABEL_TOKENS)),
        (200, {}, reply_with_logprobs(EXPLANATION_TOKENS)),
    ]
    with ScriptedServer(script) as srv:
        explainer = api(srv.url, match_threshold=0.7)
        label = explainer.explain(query, sat, verification_prompt('en', 'label'), 'en')
        expl = explainer.explain(query, sat, verification_prompt('en'), 'en')
    assert label['p_match'] == pytest.approx(2 / 3) and label['scored_label'] == 0
    assert expl['p_match'] == pytest.approx(2 / 3) and expl['label'] == 1
    body = srv.requests[0]['json']
    assert body['logprobs'] is True and body['top_logprobs'] == 20


def test_api_without_logprobs_says_so_once(monkeypatch):
    from explainer_fixtures import completion

    import gleamkit.models.explainers.openai_compatible_explainer as module

    query, sat = pair_images()
    refusal = json.dumps(dict(error=dict(message='logprobs are not supported', code=None)))
    script = [(400, {}, refusal.encode()), (200, {}, completion()), (200, {}, completion())]
    messages = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: messages.append(msg))
    with ScriptedServer(script) as srv:
        explainer = api(srv.url)
        results = [explainer.explain(query, sat, 'Same place?', 'en') for _ in range(2)]
    assert [r['p_match'] for r in results] == [None, None]
    assert all(r['label'] == 1 and r['scored_label'] is None for r in results)
    assert len(messages) == 1 and srv.url in messages[0] and 'gleam-x-lora' in messages[0]
    assert 'logprobs' in srv.requests[0]['json'] and 'logprobs' not in srv.requests[1]['json']
