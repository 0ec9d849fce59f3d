"""Retrieve, then verify: GeoLocalizer.localize(rerank=k) with scripted and tiny explainers."""

import math

import numpy as np
import pytest
import torch
from mmengine.config import Config

from gleamkit.apis import GeoLocalizer
from gleamkit.apis.verification import fuse_score


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    from gleamkit.synthetic import SyntheticWorld
    from gleamkit.synthetic.geotiff import export_geotiff

    root = tmp_path_factory.mktemp('verify')
    w = SyntheticWorld(num_locations=12, num_distractors=0, image_size=32)
    export_geotiff(w, str(root / 'region.tif'))
    cfg = Config(
        dict(
            model=dict(
                type='CrossViewRetriever',
                backbone=dict(type='TimmBackbone', model_name='resnet10t', pretrained=False),
                adapter=dict(type='ViewSpecificNorm'),
                head=dict(type='EmbeddingHead', embed_dim=16),
            ),
            verification=dict(fusion_weight=0.8),
        )
    )
    loc = GeoLocalizer(cfg, device='cpu', seed=3)
    loc.build_gallery(
        root / 'region.tif',
        root / 'gallery',
        tile_m=150,
        stride_m=150,
        batch_size=32,
        progress=False,
    )
    return dict(root=root, cfg=cfg, loc=loc)


class ScriptedExplainer:
    """P(match) = 1 for tiles whose mean pixel is closest to a target, else 0.1."""

    match_threshold = 0.5

    def __init__(self, fail=None):
        self.fail, self.calls = fail, []

    def score_batch(self, pairs, batch_size=8):
        self.calls.append(pairs)
        if self.fail == 'timeout':
            raise TimeoutError('the explainer timed out after 2 s')
        if self.fail == 'garbage':
            return ['yes'] * len(pairs)
        means = [float(np.asarray(p[1]).mean()) for p in pairs]
        return [1.0 if m == min(means) else 0.1 for m in means]

    def explain_batch(self, pairs, batch_size=8):
        return [
            dict(text='They depict the same area.', label=1, p_match=p)
            for p in self.score_batch(pairs)
        ]


def query_image():
    return np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def test_fusion_formula():
    assert fuse_score(0.4, 0.9, 0.25) == pytest.approx(0.75 * 0.4 + 0.25 * 0.8)
    assert fuse_score(0.4, 0.9, 0.0) == 0.4
    with pytest.raises(ValueError, match='fusion_weight=1.5'):
        fuse_score(0.4, 0.9, 1.5)


def test_rerank_reorders_the_top_k_by_fused_score(world):
    loc = GeoLocalizer(world['cfg'], device='cpu', seed=3, explainer=ScriptedExplainer())
    loc.load_gallery(world['root'] / 'gallery')
    plain = loc.localize(query_image(), topk=6)
    result = loc.localize(query_image(), topk=6, rerank=4, language='zh')
    assert loc.fusion_weight == 0.8  # from the config
    assert result.verification['status'] == 'ok' and result.verification['rerank'] == 4
    head = result.tiles[:4]
    assert sorted(t.tile_id for t in head) == sorted(t.tile_id for t in plain.tiles[:4])
    assert [t.tile_id for t in result.tiles[4:]] == [t.tile_id for t in plain.tiles[4:]]
    for t in head:
        assert t.fused_score == pytest.approx(0.2 * t.score + 0.8 * (2 * t.p_match - 1))
        assert t.verdict == ('match' if t.p_match >= 0.5 else 'no match')
    assert [t.fused_score for t in head] == sorted((t.fused_score for t in head), reverse=True)
    assert head[0].p_match == 1.0 and [t.rank for t in result.tiles] == list(range(1, 7))
    assert {t.retrieval_rank for t in head} == {1, 2, 3, 4}
    assert result.tiles[4].p_match is None and result.tiles[4].fused_score is None
    assert (result.lat, result.lon) == pytest.approx((head[0].lat, head[0].lon), abs=1e-9) or (
        result.num_support > 1
    )
    prompt = loc.explainer.calls[-1][0][2]
    assert '无人机' in prompt and '是或否' in prompt  # the label-only question, in Chinese


def test_the_report_shows_the_verdicts(world, tmp_path):
    from PIL import Image

    from gleamkit.visualization import draw_localization_report
    from gleamkit.visualization.localization_report import tile_caption

    loc = GeoLocalizer(world['cfg'], device='cpu', seed=3, explainer=ScriptedExplainer())
    loc.load_gallery(world['root'] / 'gallery')
    result = loc.localize(query_image(), topk=5, rerank=3)
    moved = [t for t in result.tiles[:3] if t.retrieval_rank != t.rank]
    assert moved  # the scripted verdicts re-order the head
    t = moved[0]
    assert tile_caption(t) == (
        f'#{t.rank}  {t.score:.3f}\n{t.verdict}  P={t.p_match:.2f}\n'
        f'fused {t.fused_score:.2f} (was #{t.retrieval_rank})'
    )
    assert tile_caption(result.tiles[4]) == f'#5  {result.tiles[4].score:.3f}'  # not verified
    tiles = [np.full((32, 32, 3), 40 * k, np.uint8) for k in range(5)]
    out = draw_localization_report(result, [query_image()], tiles, str(tmp_path / 'r.png'))
    with Image.open(out) as img:
        assert img.size[0] > 800 and img.size[1] > 400


@pytest.mark.parametrize('fail, what', [('timeout', 'timed out'), ('garbage', 'no usable')])
def test_a_failing_explainer_keeps_the_retrieval_answer(world, fail, what):
    loc = GeoLocalizer(world['cfg'], device='cpu', seed=3, explainer=ScriptedExplainer(fail))
    loc.load_gallery(world['root'] / 'gallery')
    plain = loc.localize(query_image(), topk=5)
    result = loc.localize(query_image(), topk=5, rerank=3)
    assert result.verification['status'] == 'failed' and what in result.verification['message']
    assert [t.tile_id for t in result.tiles] == [t.tile_id for t in plain.tiles]
    assert (result.lat, result.lon) == (plain.lat, plain.lon)
    assert all(t.p_match is None for t in result.tiles)


def test_no_explainer_is_a_failed_verification_not_a_crash(world):
    loc = GeoLocalizer(world['cfg'], device='cpu', seed=3)
    loc.load_gallery(world['root'] / 'gallery')
    result = loc.localize(query_image(), topk=3, rerank=2)
    assert result.verification['status'] == 'failed'
    assert 'no explainer' in result.verification['message']


def test_tiny_explainer_verifies_and_explains(world, tmp_path):
    from gleamkit.models.explainers import build_tiny_qwen2_5_vl

    torch.set_num_threads(1)
    model_dir = build_tiny_qwen2_5_vl(str(tmp_path / 'tiny'))
    explainer = dict(
        type='HuggingFaceVLMExplainer',
        model_name_or_path=model_dir,
        lora=None,
        generation=dict(max_new_tokens=4),
    )
    loc = GeoLocalizer(world['cfg'], device='cpu', seed=3, explainer=explainer, fusion_weight=0.3)
    loc.load_gallery(world['root'] / 'gallery')
    result = loc.localize(query_image(), topk=4, rerank=2, explain=True, language='en')
    assert result.verification['status'] == 'ok', result.verification
    for t in result.tiles[:2]:
        assert 0.0 <= t.p_match <= 1.0 and isinstance(t.explanation, str)
        assert math.isclose(t.fused_score, 0.7 * t.score + 0.3 * (2 * t.p_match - 1))
    assert result.to_dict()['tiles'][0]['p_match'] == result.tiles[0].p_match


def test_the_explainer_checkpoint_is_loaded(world, tmp_path):
    """GeoLocalizer(explainer_checkpoint=...) (tools/localize.py --explainer-checkpoint)
    loads the weights tools/train.py wrote for the explainer's config."""
    from gleamkit.apis.verification import load_explainer
    from gleamkit.models.explainers import build_tiny_qwen2_5_vl

    torch.set_num_threads(1)
    model_dir = build_tiny_qwen2_5_vl(str(tmp_path / 'tiny'))
    explainer = dict(
        type='HuggingFaceVLMExplainer',
        model_name_or_path=model_dir,
        generation=dict(max_new_tokens=4),
    )
    state = load_explainer(dict(explainer)).state_dict()
    key = next(k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point())
    state[key] = state[key] + 0.25
    # the P(match) threshold its validation chose (ValidationThresholdHook) comes along
    hub = dict(runtime_info={'gleam_x/validation_threshold': 0.3}, resumed_keys={})
    torch.save(dict(state_dict=state, message_hub=hub), tmp_path / 'epoch_4.pth')
    loc = GeoLocalizer(
        world['cfg'],
        device='cpu',
        seed=3,
        explainer=explainer,
        explainer_checkpoint=tmp_path / 'epoch_4.pth',
    )
    assert torch.equal(loc.explainer.state_dict()[key], state[key])
    assert loc.explainer.match_threshold == 0.3
    loc.load_gallery(world['root'] / 'gallery')
    result = loc.localize(query_image(), topk=3, rerank=2)
    assert result.verification['status'] == 'ok'
    for t in result.tiles[:2]:  # verdicts cut at the validation threshold
        assert t.verdict == ('match' if t.p_match >= 0.3 else 'no match')
