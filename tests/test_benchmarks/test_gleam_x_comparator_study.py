"""benchmarks/gleam_x_comparator_study.py: the tiny decoder as a direct comparator
(issue 13.3)."""

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'benchmarks'))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gleam_x_comparator_study as study  # noqa: E402
from test_gleam_x_feature_probe import pairs  # noqa: E402

SIZES = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)


def test_the_decoder_learns_a_comparison_it_can_see():
    """Matches are the query plus a little noise: 300 steps are enough to tell them from
    unrelated pairs it never saw (the machinery learns; the built-in set's ceiling is
    the features')."""
    torch.set_num_threads(1)
    result = study.train_recipe('pairs', pairs(512, dim=16), pairs(128, 16, seed=1), SIZES, 300, 0)
    assert result['train_auc'] > 0.9
    assert result['test_auc'] > 0.8 and result['test_accuracy'] > 0.7


@pytest.mark.parametrize('recipe', ['pairs+easy', 'pairs+pretext'])
def test_every_recipe_trains_and_scores(recipe):
    torch.set_num_threads(1)
    result = study.train_recipe(recipe, pairs(64, dim=8), pairs(32, 8, seed=1), SIZES, 20, 0)
    assert set(result) == {'test_auc', 'test_accuracy', 'train_auc'}
    assert 0.0 <= result['test_auc'] <= 1.0 and 0.0 <= result['test_accuracy'] <= 1.0


def test_the_comparator_has_the_tiny_models_shape():
    model = study.Comparator(16, SIZES)
    assert model.decoder.config.hidden_size == 64 and len(model.decoder.layers) == 2
    out = model(torch.randn(3, 16), torch.randn(3, 16))
    assert out.shape == (3, 2)


def test_text_config_reads_the_tiny_model(tmp_path):
    from gleamkit.models.explainers import build_tiny_qwen2_5_vl

    path = build_tiny_qwen2_5_vl(str(tmp_path / 'tiny'))
    assert study.text_config(path) == SIZES
