"""The simulator's old home (``gleamkit.datasets.synthetic``, the captioner in
``gleamkit.datasets.gleam_x``) keeps working for one release, and says where it went."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts subprocesses / runs (see CONTRIBUTING.md)

ROOT = Path(__file__).resolve().parents[2]

OLD_IMPORTS = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    import gleamkit.datasets, gleamkit.synthetic  # the library itself uses the new paths
    before = len(caught)
    import gleamkit.datasets.synthetic as old
    from gleamkit.datasets.synthetic import layout, render, world
    from gleamkit.datasets.synthetic.cache import cache_path
    from gleamkit.datasets.synthetic.geo import haversine_m
    from gleamkit.datasets.synthetic.__main__ import main
    from gleamkit.datasets.gleam_x.explanation_writer import ExplanationWriter
    from gleamkit.datasets.gleam_x.scene_facts import tile_facts
    from gleamkit.datasets.gleam_x.synthetic_explanations import build_synthetic_set
import gleamkit.synthetic as new
from gleamkit.synthetic import captions
from gleamkit.synthetic.world import synthetic_world
same = [old.SyntheticWorld is new.SyntheticWorld, old.load_or_render is new.load_or_render,
        world is synthetic_world, layout is new.world.layout, render is new.render,
        cache_path is new.cache.cache_path, haversine_m is new.haversine_m,
        main is new.__main__.main, ExplanationWriter is captions.ExplanationWriter,
        tile_facts is captions.tile_facts, build_synthetic_set is captions.build_synthetic_set]
ours = [str(w.message) for w in caught if 'gleamkit' in str(w.message)]
print(json.dumps(dict(same=same, before=[m for m in ours[:before]],
                      deprecations=[str(w.message) for w in caught[before:]
                                    if issubclass(w.category, DeprecationWarning)])))
"""


def test_old_imports_are_the_new_objects_and_warn():
    res = subprocess.run(
        [sys.executable, '-c', OLD_IMPORTS], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert all(out['same']), out['same']
    assert out['before'] == []  # importing gleamkit warns about nothing moved
    deprecations = out['deprecations']
    assert len(deprecations) == 4, deprecations  # the package and three captioner modules
    assert 'gleamkit.datasets.synthetic moved to gleamkit.synthetic' in deprecations[0]
    assert 'python -m gleamkit.synthetic' in deprecations[0]
    for name in ('explanation_writer', 'scene_facts', 'synthetic_explanations'):
        assert any(
            f'gleamkit.datasets.gleam_x.{name} moved to gleamkit.synthetic.captions.{name}' in m
            for m in deprecations
        )


ARGS = [
    '--num-locations',
    '3',
    '--num-distractors',
    '1',
    '--image-size',
    '16',
    '--views',
    'satellite',
    'map',
    '--no-progress',
]


def test_old_command_line_still_exports_and_says_where_it_went(tmp_path, capsys):
    from gleamkit.synthetic.__main__ import main

    old = subprocess.run(
        [sys.executable, '-m', 'gleamkit.datasets.synthetic', '--out', str(tmp_path / 'old')]
        + ARGS,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert old.returncode == 0, old.stderr
    assert 'DeprecationWarning' in old.stderr and 'python -m gleamkit.synthetic' in old.stderr
    assert main(['--out', str(tmp_path / 'new')] + ARGS) == 0
    assert 'Deprecation' not in capsys.readouterr().err
    for name in ('annotations.jsonl', 'world.json', 'satellite/3.png', 'map/2.png'):
        assert (tmp_path / 'old' / name).read_bytes() == (tmp_path / 'new' / name).read_bytes()
    assert len((tmp_path / 'old' / 'annotations.jsonl').read_text().splitlines()) == 4
