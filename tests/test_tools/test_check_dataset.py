"""tools/misc/check_dataset.py on a University-1652 replica with broken files."""

import importlib.util
import io
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'test_datasets'))
from replicas import make_university1652, write_image  # noqa: E402

pytestmark = pytest.mark.slow  # starts subprocesses / runs (see CONTRIBUTING.md)

CONFIG = """\
default_scope = 'gleamkit'
data_root = {root!r}
train_dataloader = dict(batch_size=2, dataset=dict(
    type='University1652Dataset', data_root=data_root, split='train', mode='pairs'))
val_dataloader = dict(batch_size=2, dataset=dict(
    type='University1652Dataset', data_root=data_root, split='test', mode='query'))
test_dataloader = val_dataloader
gallery_dataloader = dict(batch_size=2, dataset=dict(
    type='University1652Dataset', data_root=data_root, split='test', mode='gallery'))
val_cfg = dict(type='RetrievalValLoop', gallery_dataloader=gallery_dataloader)
test_cfg = dict(type='RetrievalTestLoop', gallery_dataloader=gallery_dataloader)
"""


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'check_dataset', ROOT / 'tools' / 'misc' / 'check_dataset.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def broken(tmp_path):
    u = make_university1652(str(tmp_path / 'University-Release'))
    root = u['root']
    os.remove(osp.join(root, 'train', 'drone', '0001', 'image-02.jpeg'))  # not listed: no error
    os.remove(osp.join(root, 'train', 'satellite', '0002', '0002.jpg'))  # 3 pairs lose it
    with open(osp.join(root, 'train', 'drone', '0003', 'image-01.jpeg'), 'w') as f:
        f.write('not an image')  # corrupt
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, 'JPEG')
    with open(osp.join(root, 'test', 'query_drone', '0100', 'image-01.jpeg'), 'wb') as f:
        f.write(buffer.getvalue()[:-200])  # truncated: headers intact, data cut
    open(osp.join(root, 'test', 'query_drone', '0101', 'image-03.jpeg'), 'w').close()  # empty
    # a query building whose gallery tile is gone: a split mismatch
    shutil.rmtree(osp.join(root, 'test', 'gallery_satellite', '0101'))
    write_image(osp.join(root, 'test', 'query_drone', '0101', 'image-04.jpeg'))
    config = tmp_path / 'u1652.py'
    config.write_text(CONFIG.format(root=root))
    return dict(root=root, config=str(config))


def test_report_counts_and_first_paths(broken):
    from mmengine.config import Config

    tool = load_tool()
    lines = []
    report = tool.check_config(
        Config.fromfile(broken['config']), show=3, workers=2, print_fn=lines.append
    )
    train = report['datasets']['train_dataloader.dataset']['parts'][0]
    assert train['samples'] == 8  # 0001 lost a drone image from the listing: 2 + 3 + 3
    assert train['missing']['files'] == 1 and train['missing']['samples'] == 3
    assert osp.join('satellite', '0002', '0002.jpg') in train['missing']['first'][0]
    assert train['corrupt']['files'] == 1 and train['corrupt']['samples'] == 1
    assert osp.join('0003', 'image-01.jpeg') in train['corrupt']['first'][0]

    val = report['datasets']['val_dataloader.dataset']['parts'][0]
    assert val['samples'] == 7 and val['corrupt']['files'] == 2  # truncated + empty
    assert any('empty file' in p for p in val['corrupt']['first'])
    assert 'test_dataloader.dataset' not in report['datasets']  # same as val: checked once

    split = report['splits']['val_dataloader.dataset vs val_cfg.gallery_dataloader.dataset']
    assert split['queries_without_gallery_match'] == 4  # building 0101's 4 drone images
    assert split['distractor_places'] == 3
    assert report['problems'] == 4  # missing, corrupt (train), corrupt (val), split mismatch
    text = '\n'.join(lines)
    assert 'missing images: 1 files in 3 samples' in text
    assert 'queries have no gallery item of their place' in text
    assert text.endswith('check_dataset: 4 problem(s) found')


def test_command_line_exit_status_and_json(broken, tmp_path):
    out = tmp_path / 'report.json'
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run(
        [
            sys.executable,
            'tools/misc/check_dataset.py',
            broken['config'],
            '--out',
            str(out),
            '--no-decode',
            '--workers',
            '1',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    report = json.loads(out.read_text())
    # without decoding, the truncated JPEG passes; the empty and the text file do not
    val = report['datasets']['val_dataloader.dataset']['parts'][0]
    assert val['corrupt']['files'] == 1
    assert 'problem(s) found' in run.stdout


def test_clean_dataset_passes_and_unbuildable_is_reported(tmp_path):
    u = make_university1652(str(tmp_path / 'University-Release'))
    config = tmp_path / 'ok.py'
    config.write_text(CONFIG.format(root=u['root']))
    tool = load_tool()
    assert tool.main([str(config), '--workers', '1']) == 0
    bad = tmp_path / 'bad.py'
    bad.write_text(CONFIG.format(root=str(tmp_path / 'nowhere')))
    lines = []
    from mmengine.config import Config

    report = tool.check_config(Config.fromfile(str(bad)), print_fn=lines.append)
    assert report['problems'] == 3  # train, val and gallery cannot be built
    assert 'FileNotFoundError' in report['datasets']['train_dataloader.dataset']['error']
    assert osp.join('train', 'satellite') in report['datasets']['train_dataloader.dataset']['error']


PAIR_CONFIG = """\
default_scope = 'gleamkit'
train_dataloader = dict(batch_size=2, dataset=dict(
    type='CrossViewPairListDataset', ann_file={ann!r}, mode='pairs'{extra}))
"""


@pytest.mark.parametrize('allow', [False, True])
def test_paths_outside_data_root_reported(tmp_path, allow):
    """Issue 10.10: the checker names image paths that leave the data root."""
    from mmengine.config import Config

    from gleamkit.datasets.pair_list import write_pair_list

    root = tmp_path / 'mine'
    secret = write_image(str(tmp_path / 'secret.png'))
    elsewhere = write_image(str(tmp_path / 'other' / 'x.png'))
    write_image(str(root / 'q.png'))
    write_image(str(root / 's.png'))
    ann = write_pair_list(
        str(root / 'pairs.csv'),
        [
            dict(query='q.png', satellite='s.png'),
            dict(query='../secret.png', satellite='s.png'),
            dict(query=elsewhere, satellite='s.png'),
        ],
    )
    config = tmp_path / 'pairs_cfg.py'
    config.write_text(
        PAIR_CONFIG.format(ann=ann, extra=', allow_outside_root=True' if allow else '')
    )
    lines = []
    report = load_tool().check_config(
        Config.fromfile(str(config)), workers=1, print_fn=lines.append
    )
    part = report['datasets']['train_dataloader.dataset']['parts'][0]
    assert part['samples'] == 3
    assert part['outside_data_root']['files'] == 2
    assert sorted(part['outside_data_root']['first']) == sorted([secret, elsewhere])
    text = '\n'.join(lines)
    if allow:
        assert report['problems'] == 0 and len(report['notes']) == 1
        assert '(allowed: allow_outside_root=True)' in text
    else:
        assert report['problems'] == 1
        assert '2 image paths outside data_root=' in text
        assert 'set allow_outside_root=True' in text


TWO_PROTOCOLS = """\
default_scope = 'gleamkit'
data_root = {root!r}
val_dataloader = dict(batch_size=2, dataset=dict(
    type='University1652Dataset', data_root=data_root, split='test', mode='query'))
sat2drone = dict(type='University1652Dataset', data_root=data_root, split='test',
                 protocol='satellite->drone')
val_cfg = dict(type='RetrievalValLoop', protocols=[
    dict(name='drone2sat', gallery_dataloader=dict(batch_size=2, dataset=dict(
        type='University1652Dataset', data_root=data_root, split='test', mode='gallery'))),
    dict(name='sat2drone', dataloader=dict(batch_size=2, dataset=dict(sat2drone, mode='query')),
         gallery_dataloader=dict(batch_size=2, dataset=dict(sat2drone, mode='gallery'))),
])
"""


def test_each_gallery_is_matched_with_its_own_protocols_queries(tmp_path):
    from mmengine.config import Config

    root = make_university1652(str(tmp_path / 'University-Release'))['root']
    config = tmp_path / 'two.py'
    config.write_text(TWO_PROTOCOLS.format(root=root))
    report = load_tool().check_config(
        Config.fromfile(str(config)), workers=1, print_fn=lambda *a: None
    )
    assert set(report['datasets']) == {
        'val_dataloader.dataset',
        'val_cfg.protocols.0.gallery_dataloader.dataset',
        'val_cfg.protocols.1.dataloader.dataset',
        'val_cfg.protocols.1.gallery_dataloader.dataset',
    }
    splits = {k: v for k, v in report['splits'].items() if not k.startswith('train')}
    assert set(splits) == {
        'val_dataloader.dataset vs val_cfg.protocols.0.gallery_dataloader.dataset',
        'val_cfg.protocols.1.dataloader.dataset vs val_cfg.protocols.1.gallery_dataloader.dataset',
    }
    # drone -> satellite: 6 drone queries, 5 tiles; satellite -> drone: 2 tiles, 6 drones
    drone2sat, sat2drone = splits.values()
    assert (drone2sat['queries'], drone2sat['gallery']) == (6, 5)
    assert (sat2drone['queries'], sat2drone['gallery']) == (2, 6)
    assert report['problems'] == 0
