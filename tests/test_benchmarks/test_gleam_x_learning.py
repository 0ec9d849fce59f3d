"""benchmarks/gleam_x_learning.py: its ROC AUC, its per-language / per-view table and its
P(match) from the teacher-forced verdict sentences (issue 13.3)."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'benchmarks'))

import gleam_x_learning as bench  # noqa: E402


@pytest.fixture(scope='module')
def tiny_vlm_dir(tmp_path_factory):
    from gleamkit.models.explainers import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(str(tmp_path_factory.mktemp('tiny_qwen2_5_vl')))


def test_roc_auc_by_hand():
    # positives 0.9, 0.4 vs negatives 0.1, 0.4: 3 pairs ordered, 1 tie -> 3.5 / 4
    assert bench.roc_auc([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.4]) == pytest.approx(0.875)
    assert bench.roc_auc([1, 1, 0], [0.2, 0.3, 0.9]) == 0.0
    assert np.isnan(bench.roc_auc([1, 1], [0.2, 0.3]))


def test_score_table_splits_by_language_and_view():
    samples = [
        dict(lang='en', view='uav', label=1),
        dict(lang='en', view='map', label=0),
        dict(lang='zh', view='uav', label=0),
        dict(lang='zh', view='map', label=1),
    ]
    table = bench.score_table(samples, np.array([0.8, 0.6, 0.3, 0.7]))
    assert set(table) == {'all', 'lang=en', 'lang=zh', 'view=uav', 'view=map'}
    assert table['all'] == dict(n=4, auc=1.0, accuracy=0.75, predicted_match=0.75)
    assert table['lang=en']['accuracy'] == 0.5  # 0.6 on a no-match pair reads as "match"
    assert table['view=map']['auc'] == 1.0


def test_p_match_follows_what_a_fine_tuned_model_learnt(tiny_vlm_dir):
    """After a short fine-tune on a visible cue (a white satellite tile = match) with the
    label-only sentences, P(match) ranks fresh pairs perfectly in both languages."""
    from gleamkit.datasets.gleam_x.prompts import build_prompt, label_answer
    from gleamkit.models.explainers import HuggingFaceVLMExplainer
    from gleamkit.structures.explanation_data_sample import ExplanationDataSample

    torch.manual_seed(0)
    torch.set_num_threads(1)  # tiny ops: threads only wait for each other on shared cores
    explainer = HuggingFaceVLMExplainer(
        tiny_vlm_dir,
        torch_dtype='float32',
        min_pixels=56 * 56,
        max_pixels=56 * 56,
        lora=dict(r=16, lora_alpha=32, target_modules='all-linear', modules_to_save=['lm_head']),
    )
    rng = np.random.default_rng(0)

    def pairs(n):
        out = []
        for i in range(n):
            label, lang = i % 2, ('en', 'zh')[(i // 2) % 2]
            out.append(
                dict(
                    query=rng.integers(0, 256, (56, 56, 3), dtype=np.uint8),
                    satellite=np.full((56, 56, 3), 255 if label else 0, np.uint8),
                    label=label,
                    lang=lang,
                    view='uav',
                    label_prompt=build_prompt('uav', lang, 'label'),
                )
            )
        return out

    params = [p for p in explainer.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=3e-3)
    explainer.train()
    for _ in range(40):
        batch = pairs(8)
        data = dict(
            inputs=[
                dict(
                    images=[p['query'], p['satellite']],
                    prompt=p['label_prompt'],
                    answer=label_answer(p['label'], p['lang']),
                )
                for p in batch
            ],
            data_samples=[ExplanationDataSample(metainfo=dict(lang=p['lang'])) for p in batch],
        )
        loss = explainer(**explainer.data_preprocessor(data, True), mode='loss')['loss']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test = pairs(16)
    p_match = bench.score_p_match(explainer, test, batch_size=8)
    assert p_match.shape == (16,) and ((0 <= p_match) & (p_match <= 1)).all()
    table = bench.score_table(test, p_match)
    # the ranking is exact in both languages; the 0.5 threshold is nearly calibrated
    assert table['lang=en']['auc'] == table['lang=zh']['auc'] == 1.0
    assert table['all']['accuracy'] >= 0.75
