"""GleamXDataset and its transforms: the sample contract the explainers consume."""

import json

import numpy as np
import pytest
from PIL import Image

from gleamkit.datasets.gleam_x import GleamXDataset
from gleamkit.datasets.gleam_x.prompts import LABEL_ANSWERS
from gleamkit.datasets.transforms.explanation import LoadExplanationImages, PackExplanationInputs
from gleamkit.registry import DATASETS, TRANSFORMS
from gleamkit.structures import ExplanationDataSample

PIPELINE = [dict(type=LoadExplanationImages), dict(type=PackExplanationInputs)]
EN0, ZH0 = 'Both images depict the same area.', '两张图像是同一地点。'
EN1 = 'The roads differ, so the two images do not correspond.'


@pytest.fixture
def ann_file(tmp_path):
    (tmp_path / 'img').mkdir()
    rng = np.random.default_rng(0)
    for name, size in (('q0', (20, 30)), ('s0', (16, 16)), ('q1', (12, 12)), ('s1', (16, 16))):
        Image.fromarray(rng.integers(0, 255, size + (3,), dtype=np.uint8)).save(
            tmp_path / 'img' / f'{name}.png'
        )
    Image.fromarray(np.full((10, 10), 7, np.uint8), mode='L').save(tmp_path / 'img' / 'gray.png')
    records = [
        dict(
            id='a',
            query_image='img/q0.png',
            satellite_image='img/s0.png',
            query_view='uav',
            label='match',
            explanation=dict(en=EN0, zh=ZH0),
            source='gpt-4o',
        ),
        dict(
            id='b',
            query_image='img/q1.png',
            satellite_image='img/s1.png',
            query_view='map',
            label='no_match',
            explanation=dict(en=EN1),
            source='human:bob',
        ),
        dict(
            id='c',
            query_image='img/gray.png',
            satellite_image='img/s1.png',
            query_view='ground',
            label='match',
            explanation=dict(zh=ZH0),
            source='doubao',
        ),
    ]
    path = tmp_path / 'train.jsonl'
    path.write_text(
        ''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in records), encoding='utf-8'
    )
    return str(path)


def build(ann_file, **kw):
    return GleamXDataset(ann_file=ann_file, pipeline=PIPELINE, **kw)


def test_registered_by_name(ann_file):
    assert DATASETS.get('GleamXDataset') is GleamXDataset
    assert TRANSFORMS.get('LoadExplanationImages') is LoadExplanationImages
    assert TRANSFORMS.get('PackExplanationInputs') is PackExplanationInputs


def test_sample_contract(ann_file):
    ds = build(ann_file, lang='en')
    assert len(ds) == 2  # record c has no English explanation
    out = ds[0]
    assert set(out) == {'inputs', 'data_samples'}
    inputs, sample = out['inputs'], out['data_samples']
    assert set(inputs) == {'images', 'prompt', 'answer'}
    query, sat = inputs['images']
    assert query.shape == (20, 30, 3) and sat.shape == (16, 16, 3)
    assert query.dtype == np.uint8 and sat.dtype == np.uint8
    np.testing.assert_array_equal(
        query, np.asarray(Image.open(ann_file.replace('train.jsonl', 'img/q0.png')))
    )
    assert '<image>' not in inputs['prompt'] and 'UAV (drone)' in inputs['prompt']
    assert inputs['answer'] == EN0
    assert isinstance(sample, ExplanationDataSample)
    assert sample.metainfo == dict(
        id='a', view='uav', lang='en', label=1, reference=EN0, source='gpt-4o'
    )
    assert ds[1]['data_samples'].metainfo['label'] == 0
    assert ds.get_field('label') == [1, 0]


def test_both_languages_and_views(ann_file):
    ds = build(ann_file, lang='both')
    infos = [(ds.get_data_info(i)['id'], ds.get_data_info(i)['lang']) for i in range(len(ds))]
    assert infos == [('a', 'en'), ('a', 'zh'), ('b', 'en'), ('c', 'zh')]
    zh = ds[1]
    assert zh['inputs']['answer'] == ZH0 and '无人机' in zh['inputs']['prompt']
    assert zh['data_samples'].lang == 'zh' and zh['data_samples'].reference == ZH0
    # a grayscale query is packed as three channels
    assert ds[3]['inputs']['images'][0].shape == (10, 10, 3)
    ds = build(ann_file, lang='both', views=['map', 'ground'])
    assert ds.get_field('id') == ['b', 'c']


def test_label_only_mode(ann_file):
    ds = build(ann_file, lang='zh', answer_mode='label')
    assert len(ds) == 3  # label mode needs no explanation in the language
    answers = [ds[i]['inputs']['answer'] for i in range(3)]
    assert answers == [LABEL_ANSWERS['zh'][1], LABEL_ANSWERS['zh'][0], LABEL_ANSWERS['zh'][1]]
    assert ds[0]['data_samples'].reference == ZH0 and ds[1]['data_samples'].reference == ''
    assert '是或否' in ds[0]['inputs']['prompt']


def test_custom_prompts(ann_file):
    ds = build(ann_file, lang='en', prompts=dict(en='Same place? {view_id} vs satellite.'))
    assert ds[0]['inputs']['prompt'] == 'Same place? uav vs satellite.'
    with pytest.raises(ValueError, match='image'):
        build(ann_file, prompts=dict(en='<image> same?'))
    with pytest.raises(ValueError, match='cannot be filled'):
        build(ann_file, prompts=dict(en='{place}'))


def test_config_errors(ann_file, tmp_path):
    with pytest.raises(ValueError, match="lang='fr'"):
        build(ann_file, lang='fr')
    with pytest.raises(ValueError, match='answer_mode'):
        build(ann_file, answer_mode='verdict')
    with pytest.raises(ValueError, match='ann_file'):
        GleamXDataset()
    with pytest.raises(ValueError, match='empty'):
        build(ann_file, views=['panorama'])


def test_missing_images_are_reported_when_the_dataset_is_built(ann_file, tmp_path):
    (tmp_path / 'img' / 'q1.png').unlink()
    (tmp_path / 'img' / 's1.png').write_bytes(b'not a png')
    with pytest.raises(FileNotFoundError) as info:
        build(ann_file)
    message = str(info.value)
    # record b is on line 2 of train.jsonl; its query image is gone
    assert (
        f"{ann_file}:2: query_image 'img/q1.png' -> {tmp_path / 'img' / 'q1.png'} "
        '(no such file)' in message
    )
    assert '1 of the 4 images' in message and "check_images='lazy'" in message
    # 'decode' also opens each file: the broken s1.png is named too (lines 2 and 3)
    with pytest.raises(FileNotFoundError) as info:
        build(ann_file, lang='both', check_images='decode')
    message = str(info.value)
    assert '3 of the 6 images' in message
    assert f"{ann_file}:3: satellite_image 'img/s1.png'" in message
    assert 'not a readable image' in message
    with pytest.raises(ValueError, match="check_images='later'"):
        build(ann_file, check_images='later')


def test_lazy_image_check_fails_when_the_sample_is_loaded(ann_file, tmp_path):
    (tmp_path / 'img' / 'q1.png').unlink()
    ds = build(ann_file, check_images='lazy')
    assert ds[0]['inputs']['answer'] == EN0
    with pytest.raises(OSError, match=r"q1\.png.*record 'b'"):
        ds[1]


def test_a_byte_order_mark_is_accepted(ann_file):
    text = open(ann_file, encoding='utf-8').read()
    with open(ann_file, 'w', encoding='utf-8-sig') as f:  # what Notepad writes
        f.write(text)
    assert open(ann_file, 'rb').read(3) == b'\xef\xbb\xbf'
    assert build(ann_file, lang='en').get_field('id') == ['a', 'b']


def test_pack_rejects_wrong_images():
    pack = PackExplanationInputs()
    info = dict(
        id='x',
        view='uav',
        lang='en',
        label=1,
        reference='r',
        source='s',
        prompt='p',
        answer='a',
        query_img=np.zeros((4, 4, 3), np.float32),
        satellite_img=np.zeros((4, 4, 3), np.uint8),
    )
    with pytest.raises(TypeError, match='uint8'):
        pack(info)
    info['query_img'] = np.zeros((4, 4, 3), np.uint8)
    del info['answer']
    with pytest.raises(KeyError, match='answer'):
        pack(info)
