"""The demo's callbacks without a browser: what the page would show for good and bad
queries, checked against the API's own answer."""

import numpy as np
import pytest
from demo_fixtures import BlockingExplainer, GarbageExplainer, ScriptedExplainer
from PIL import Image

from gleamkit.datasets.gleam_x import build_prompt
from gleamkit.demo import DemoBackend, check_explanations, read_upload
from gleamkit.demo.demo_app import answer_outputs, build_demo_app, results_markdown


@pytest.fixture(scope='module')
def backend(demo_gallery):
    return DemoBackend.from_gallery(str(demo_gallery['gallery']), explainer=ScriptedExplainer())


def test_starts_from_the_gallery_record_and_offers_the_built_in_places(backend, demo_gallery):
    assert backend.localizer.checkpoint == str(demo_gallery['checkpoint'])
    assert backend.georeference_problem is None
    assert backend.raster.endswith('region.tif')
    assert backend.builtin_places() == list(range(12))  # from the raster's gleamkit_world tag
    assert backend.world.kwargs == demo_gallery['world'].kwargs


@pytest.mark.parametrize('lang', ['en', 'zh'])
def test_built_in_query_shows_the_api_answer_on_the_map_with_a_verdict(backend, lang):
    world = backend.world
    expected = backend.localizer.localize(
        world.render(4, 'uav'),
        view='uav',
        topk=5,
        true_latlon=(world.locations[4].lat, world.locations[4].lon),
    )
    backend.explainer.calls.clear()
    answer = backend.answer_builtin(4, 'uav', 5, lang, True)
    assert answer.ok and answer.result.tiles == expected.tiles
    top = expected.tiles[0]
    assert f'top-1 tile **{top.tile_id}** (score {top.score:.3f})' in answer.status
    assert f'true position {expected.error_m:.0f} m away' in answer.status
    assert [row[:3] for row in answer.table] == [
        [t.rank, t.tile_id, round(t.score, 4)] for t in expected.tiles
    ]
    assert answer.table[0][5:] == ['match', '0.810'] and answer.table[1][5:] == ['', '']
    table = results_markdown(answer)
    assert table.splitlines()[0] == '| rank | tile | score | lat | lon | GLEAM-X | P(match) |'
    assert all(f'{t.score:.4f}' in table for t in expected.tiles)
    # GLEAM-X saw the query and the top-1 tile's pixels with the training prompt
    (pairs,) = backend.explainer.calls
    (query, tile, prompt, pair_lang) = pairs[0]
    assert np.array_equal(query, world.render(4, 'uav'))
    assert np.array_equal(tile, answer.tiles[0][0]) and tile.shape == (32, 32, 3)
    assert prompt == build_prompt('uav', lang) and pair_lang == lang
    assert f'GLEAM-X verdict for #1 {top.tile_id}: match' in answer.verdict
    assert 'P(match) = 0.810' in answer.verdict
    assert ('(同一地点)' in answer.verdict) == (lang == 'zh')
    # the map: the region image under the footprints, not a blank canvas
    picture = answer.map_image
    assert picture.dtype == np.uint8 and picture.ndim == 3 and min(picture.shape[:2]) > 300
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 1000
    assert [c for _, c in answer.tiles][0] == f'#1 {top.tile_id}  score {top.score:.3f}'
    outputs = answer_outputs(answer)
    assert len(outputs) == 7 and outputs[0] == answer.status and outputs[4] == table


def test_uploads_good_empty_and_not_an_image(backend, tmp_path):
    image = backend.world.render(7, 'uav')
    good = tmp_path / 'drone.png'
    Image.fromarray(image).save(good)
    answer = backend.answer_upload(str(good), 'uav', 3, 'en', False)
    expected = backend.localizer.localize(image, view='uav', topk=3)
    assert answer.ok and answer.result.tiles == expected.tiles
    assert answer.status.startswith(f'**drone.png** [uav]: top-1 tile **{expected.top1.tile_id}**')
    assert answer.verdict == 'GLEAM-X verification is switched off for this query.'
    assert backend.explainer.calls == [] or all(len(c) == 1 for c in backend.explainer.calls)

    text = tmp_path / 'notes.png'
    text.write_text('these are my holiday notes, not a picture')
    bad = backend.answer_upload(str(text), 'uav', 3, 'en', True)
    assert not bad.ok and bad.status.startswith('**Error:** The upload notes.png is not an image')
    assert 'Upload a PNG, JPEG or TIFF file.' in bad.status and bad.table == []

    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    assert backend.answer_upload(str(empty), 'uav', 3, 'en', True).status == (
        '**Error:** The upload empty.jpg is empty (0 bytes): it is not an image.'
    )
    for nothing in (None, ''):
        assert backend.answer_upload(nothing, 'uav', 3, 'en', True).status.startswith(
            '**Error:** No image uploaded'
        )
    big = tmp_path / 'big.png'
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(big)
    with pytest.raises(ValueError, match=r'big.png is 0.0 MiB; the demo takes images up to 0 MiB'):
        read_upload(str(big), max_bytes=10)
    # the backend still answers after the bad ones
    assert backend.answer_upload(str(good), 'uav', 3, 'en', False).result.tiles == expected.tiles


def test_unknown_place_view_and_language_are_named(backend):
    assert backend.answer_builtin(99, 'uav', 5, 'en', True).status.startswith(
        '**Error:** Place 99 is not a query place of the built-in world'
    )
    assert backend.answer_builtin('x', 'uav', 5, 'en', True).status == (
        "**Error:** Pick a place of the built-in world (got 'x')."
    )
    image = backend.world.render(1, 'uav')
    assert "unknown view 'drone'" in backend.answer(image, 'drone').status
    assert "unknown language 'fr'" in backend.answer(image, 'uav', lang='fr').status


def test_explainer_that_times_out_leaves_the_retrieval_on_the_page(backend):
    stuck = BlockingExplainer()
    slow = DemoBackend(
        backend.localizer, explainer=stuck, explain_timeout_s=0.5, world=backend.world
    )
    answer = slow.answer_builtin(2, 'uav', 5, 'en', True)
    assert slow._late_explainer.is_alive()  # answered while the explainer still hangs
    assert answer.ok and len(answer.table) == 5
    assert answer.verdict.startswith('**GLEAM-X did not answer** (no answer within 0.5 s)')
    assert 'Note: GLEAM-X timed out (no answer within 0.5 s).' in answer.status
    # while the late call still runs, GLEAM-X is not asked again; retrieval still answers
    busy = slow.answer_builtin(3, 'uav', 5, 'en', True)
    assert busy.ok and busy.verdict.startswith('**GLEAM-X is still busy**')
    assert stuck.calls == 1
    stuck.release.set()
    slow._late_explainer.join(10)
    again = slow.answer_builtin(3, 'uav', 5, 'en', True)
    assert again.verdict.startswith(f'**GLEAM-X verdict for #1 {again.result.top1.tile_id}: match')


def test_heat_maps_explain_the_top1_score(backend):
    """The real decomposition: its similarity is the top-1 tile's retrieval score."""
    answer = backend.answer_builtin(6, 'uav', 5, 'en', False)
    top = answer.result.top1
    captions = [c for _, c in answer.heatmaps]
    assert captions == [
        f'query (similarity {top.score:.3f})',
        f'tile {top.tile_id} (similarity {top.score:.3f})',
    ], answer.status
    for picture, _ in answer.heatmaps:
        assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.std() > 5


def test_heat_maps_are_shown_when_gleamkit_visualization_has_them(backend, monkeypatch):
    import gleamkit.visualization as visualization

    seen = []

    def similarity_heatmaps(model, query_img, tile_img, query_view, point=None):
        seen.append((model, query_img.shape, tile_img.shape, query_view))
        return dict(
            query=np.full((32, 32, 3), 200, np.uint8),
            tile=np.full((32, 32, 3), 50, np.uint8),
            similarity=0.5,
            point_map=None,
        )

    monkeypatch.setattr(visualization, 'similarity_heatmaps', similarity_heatmaps, raising=False)
    answer = backend.answer_builtin(6, 'uav', 5, 'en', False)
    top = answer.result.top1.tile_id
    assert seen == [(backend.localizer.model, (32, 32, 3), (32, 32, 3), 'uav')]
    assert [c for _, c in answer.heatmaps] == [
        'query (similarity 0.500)',
        f'tile {top} (similarity 0.500)',
    ]
    assert 'similarity_heatmaps' not in answer.status

    def broken(*args, **kwargs):
        raise RuntimeError('no spatial features')

    monkeypatch.setattr(visualization, 'similarity_heatmaps', broken)
    answer = backend.answer_builtin(6, 'uav', 5, 'en', False)
    assert answer.ok and answer.heatmaps == []
    assert 'The heat map could not be computed (RuntimeError: no spatial features).' in (
        answer.status
    )


@pytest.mark.parametrize(
    'reply, shown',
    [
        (None, 'ValueError: expected a list of 1 result dicts, got None'),
        ([], 'ValueError: expected a list of 1 result dicts, got list of length 0'),
        (['match'], "ValueError: result 0 is str 'match', not a dict"),
        (RuntimeError('HTTP 500 from the endpoint'), 'RuntimeError: HTTP 500 from the endpoint'),
    ],
)
def test_explainer_garbage_is_reported_not_raised(backend, reply, shown):
    odd = DemoBackend(backend.localizer, explainer=GarbageExplainer(reply), world=backend.world)
    answer = odd.answer_builtin(2, 'uav', 5, 'en', True)
    assert answer.ok and len(answer.table) == 5
    assert answer.verdict.startswith('**GLEAM-X returned no usable answer**')
    assert shown in answer.verdict


def test_explainer_item_garbage_is_flagged_per_field():
    checked = check_explanations(
        [
            dict(text=7, label=1),
            dict(text='they match', label=3),
            dict(text='same area', label=1, p_match=float('nan')),
            dict(text='No, different place.', label=0, p_match=0.2, scored_label=0),
            dict(text=None, label=-1, error='quota'),
        ],
        5,
    )
    assert [c['error'] for c in checked] == [
        'its text is int, not a string',
        'its label is 3, expected 1, 0 or -1',
        'its p_match is nan, not a probability',
        None,
        'quota',
    ]
    assert [c['label'] for c in checked] == [1, -1, 1, 0, -1]
    assert [c['p_match'] for c in checked] == [None, None, None, 0.2, None]
    assert checked[3]['scored_label'] == 0 and checked[2]['scored_label'] is None


def test_unparseable_text_shows_no_verdict(backend):
    mumble = DemoBackend(
        backend.localizer,
        explainer=GarbageExplainer([dict(text='@@ ## road', label=-1)]),
        world=backend.world,
    )
    answer = mumble.answer_builtin(2, 'uav', 5, 'en', True)
    assert ': no verdict**' in answer.verdict
    assert '(no verdict could be read from the explanation)' in answer.verdict
    assert (
        'Explanation (English): @@ ## road' in answer.verdict and 'P(match)' not in answer.verdict
    )


def test_non_georeferenced_gallery_is_reported_and_the_page_still_builds(backend):
    from gleamkit.index.tile_metadata import TileMetadata

    loc = backend.localizer
    real = loc.gallery.metadata
    try:
        loc.gallery.metadata = TileMetadata(
            {'id': real.columns['id'], 'position': real.columns['position']}
        )
        flat = DemoBackend(loc, world=backend.world)
        assert 'is not georeferenced: its tiles have no lat/lon' in flat.georeference_problem
        answer = flat.answer_builtin(3, 'uav', 5, 'en', True)
        assert not answer.ok and answer.status.startswith('**Error:** the gallery ')
        assert 'Tiles cannot be placed on a map.' in answer.status
        build_demo_app(flat)  # the page is served with the warning in its header
    finally:
        loc.gallery.metadata = real


def test_failure_inside_a_callback_is_shown_on_the_page(backend):
    from gleamkit.demo.demo_app import _safe

    def broken(*args):
        raise MemoryError('out of memory while drawing')

    outputs = _safe(broken)('x')
    assert outputs[0] == '**Error:** the demo failed (MemoryError: out of memory while drawing).'
    assert outputs[1:] == (None, None, [], '', '', [])


def test_cli_refuses_a_folder_that_is_not_a_gallery(tmp_path, capsys):
    from gleamkit.demo.__main__ import main

    with pytest.raises(
        SystemExit,
        match=r'cannot start the demo: FileNotFoundError: .* is not a '
        r'gallery \(gallery.json not found\)',
    ):
        main(['--gallery', str(tmp_path)])
    with pytest.raises(SystemExit, match='--explainer-checkpoint needs --explainer'):
        main(['--gallery', str(tmp_path), '--explainer-checkpoint', 'x.pth'])


@pytest.mark.slow
def test_explainer_checkpoint_is_loaded_into_the_config_model(tmp_path, backend):
    """--explainer CONFIG --explainer-checkpoint CKPT: the trained LoRA weights are the
    ones the demo asks, and the real tiny GLEAM-X answers on the page."""
    import torch

    from gleamkit.demo import load_explainer
    from gleamkit.evaluation.explanation.verdict import parse_verdict

    config = 'configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic.py'
    trained = load_explainer(config)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in trained.parameters():
            if param.requires_grad:
                param.add_(0.05 * torch.randn(param.shape, generator=generator))
    torch.save(dict(state_dict=trained.state_dict()), tmp_path / 'epoch_4.pth')
    loaded = load_explainer(config, tmp_path / 'epoch_4.pth')
    expected = trained.state_dict()
    got = loaded.state_dict()
    assert got.keys() == expected.keys()
    tensors = [k for k, v in expected.items() if isinstance(v, torch.Tensor)]
    assert len(tensors) > 10 and all(torch.equal(got[k], expected[k]) for k in tensors)
    assert all(got[k] == expected[k] for k in expected.keys() - set(tensors))  # pixel budget
    with pytest.raises(ValueError, match='holds no state_dict'):
        torch.save([1, 2], tmp_path / 'list.pth')
        load_explainer(config, tmp_path / 'list.pth')

    real = DemoBackend(backend.localizer, explainer=loaded, world=backend.world)
    answer = real.answer_builtin(3, 'uav', 3, 'zh', True)
    (item,) = answer.explanations
    assert isinstance(item['text'], str) and item['label'] == parse_verdict(item['text'], 'zh')
    assert answer.verdict.startswith(f'**GLEAM-X verdict for #1 {answer.result.top1.tile_id}: ')
    assert 'Explanation (中文): ' in answer.verdict
