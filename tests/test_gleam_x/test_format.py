"""The GLEAM-X JSONL format, the ecosystem converters and the Label Studio round trip."""

import json
import os.path as osp
import re
from pathlib import Path

import pytest

from gleamkit.datasets.gleam_x import (
    GleamXFormatError,
    GleamXRecord,
    chat_to_record,
    export_chat,
    from_label_studio,
    import_chat,
    label_studio_config,
    read_jsonl,
    record_to_chat,
    to_label_studio_tasks,
    write_jsonl,
)
from gleamkit.datasets.gleam_x.prompts import LABEL_ANSWERS

DOC = Path(__file__).resolve().parents[2] / 'docs' / 'gleam_x_data.md'

EN = (
    'Image 1 is a UAV view of a block with a north-south road. Image 2 is a satellite tile '
    'with the same road. The road layout and the red roofs agree, confirming they depict the '
    'same area.'
)
ZH = '图像1是一张无人机图像，图像2是卫星图像。道路布局和红色屋顶一致，因此两张图像是同一地点。'


def make_record(i=0, **kw):
    rec = dict(
        id=f'pair-{i}',
        query_image=f'images/{i}_uav.png',
        satellite_image=f'images/{i}_sat.png',
        query_view='uav',
        label='match',
        explanation=dict(en=EN, zh=ZH),
        source='gpt-4o',
    )
    rec.update(kw)
    return rec


def write_lines(path, objs):
    path.write_text(
        ''.join(
            (o if isinstance(o, str) else json.dumps(o, ensure_ascii=False)) + '\n' for o in objs
        ),
        encoding='utf-8',
    )
    return str(path)


# ----------------------------------------------------------------------------- JSONL
def test_write_read_round_trip(tmp_path):
    recs = [
        GleamXRecord.from_dict(make_record(0)),
        GleamXRecord.from_dict(
            make_record(1, label='no_match', explanation=dict(en=EN), meta=dict(location_id=7))
        ),
    ]
    path = str(tmp_path / 'sub' / 'train.jsonl')
    assert write_jsonl(recs, path) == 2
    text = Path(path).read_text(encoding='utf-8')
    assert '同一地点' in text  # Chinese written as is, not \u-escaped
    back = read_jsonl(path)
    assert [r.to_dict() for r in back] == [r.to_dict() for r in recs]
    assert back[0].label_id == 1 and back[1].label_id == 0
    assert back[0].langs == ['en', 'zh'] and back[1].langs == ['en']
    assert 'revisions' not in back[0].to_dict()  # empty optionals are not written


def test_byte_order_mark_and_line_numbers(tmp_path):
    path = tmp_path / 'bom.jsonl'
    path.write_bytes(
        b'\xef\xbb\xbf'
        + (json.dumps(make_record(0)) + '\n\n' + json.dumps(make_record(1)) + '\n').encode()
    )
    records = read_jsonl(str(path))
    assert [(r.id, r.line) for r in records] == [('pair-0', 1), ('pair-1', 3)]
    # a decode error reads as one sentence ('... character at: column 10', not 'at at')
    path.write_text('{"id": "x\n', encoding='utf-8')
    with pytest.raises(GleamXFormatError) as info:
        read_jsonl(str(path))
    assert 'at at' not in str(info.value)


def test_blank_lines_are_skipped(tmp_path):
    path = write_lines(tmp_path / 'a.jsonl', [make_record(0), '', '   ', make_record(1)])
    assert [r.id for r in read_jsonl(path)] == ['pair-0', 'pair-1']


@pytest.mark.parametrize(
    'line,key,expected',
    [
        ('{"id": "x",', None, 'one JSON object per line'),
        ('{"id": "x', None, 'Invalid control character at: column 10)'),
        ('[1, 2]', None, 'a JSON object'),
        (make_record(label='yes'), 'label', "'match' or 'no_match'"),
        (make_record(label=1), 'label', "'match' or 'no_match'"),
        (make_record(query_view='Drone View'), 'query_view', 'lower-case view name'),
        (make_record(explanation={}), 'explanation', 'at least one of'),
        (make_record(explanation=dict(fr='bonjour')), 'explanation.fr', 'language keys'),
        (make_record(explanation=dict(en='  ')), 'explanation.en', 'a non-empty string'),
        (make_record(source=''), 'source', 'a non-empty string'),
        (make_record(query_image=3), 'query_image', 'a non-empty string'),
        (make_record(revisions={}), 'revisions', 'a list'),
        (make_record(revisions=[dict(source='gpt-4o')]), 'revisions[0]', '"explanation" and'),
        (
            make_record(revisions=[dict(explanation=dict(en='a'), source='s', who='x')]),
            'revisions[0].who',
            'only the keys',
        ),
        (make_record(meta=[1]), 'meta', 'an object'),
        (make_record(lable='match'), 'lable', 'only the keys'),
    ],
)
def test_validation_errors_name_file_line_key(tmp_path, line, key, expected):
    path = write_lines(tmp_path / 'bad.jsonl', [make_record(9), line])
    with pytest.raises(GleamXFormatError) as info:
        read_jsonl(path)
    err = info.value
    assert err.file == path and err.line == 2 and err.key == key
    assert expected in str(err)
    assert str(err).startswith(f'{path}:2: ')


def test_missing_key_and_duplicate_id(tmp_path):
    rec = make_record(0)
    del rec['source']
    path = write_lines(tmp_path / 'a.jsonl', [rec])
    with pytest.raises(
        GleamXFormatError,
        match=r"a\.jsonl:1: key 'source': expected to be "
        r'present',
    ):
        read_jsonl(path)
    path = write_lines(tmp_path / 'b.jsonl', [make_record(0), make_record(1), make_record(0)])
    with pytest.raises(
        GleamXFormatError,
        match=r"b\.jsonl:3: key 'id': expected unique ids "
        r'\(also on line 1\)',
    ):
        read_jsonl(path)
    with pytest.raises(FileNotFoundError, match='nope.jsonl'):
        read_jsonl(str(tmp_path / 'nope.jsonl'))


def test_revised_keeps_history():
    rec = GleamXRecord.from_dict(make_record(0))
    new = rec.revised(
        source='human:alice',
        explanation=dict(en='Different places.'),
        label='no_match',
        replaced_at='2025-01-01T00:00:00',
    )
    assert new.explanation == dict(en='Different places.', zh=ZH)
    assert new.label == 'no_match' and new.source == 'human:alice'
    assert new.revisions == [
        dict(
            explanation=dict(en=EN, zh=ZH),
            label='match',
            source='gpt-4o',
            replaced_by='human:alice',
            replaced_at='2025-01-01T00:00:00',
        )
    ]
    assert rec.revisions == []  # the original is untouched


# ----------------------------------------------------------------------------- chat formats
@pytest.mark.parametrize('fmt', ['messages', 'conversations', 'qwen'])
@pytest.mark.parametrize('lang', ['en', 'zh'])
def test_chat_sample_layout(fmt, lang):
    rec = GleamXRecord.from_dict(make_record(0))
    sample = record_to_chat(rec, fmt=fmt, lang=lang)
    if fmt == 'messages':
        user, answer = sample['messages'][0], sample['messages'][1]
        assert user['role'] == 'user' and answer['role'] == 'assistant'
        user, answer = user['content'], answer['content']
        images = sample['images']
        assert user.startswith('<image><image>')
    else:
        turns = sample['conversations']
        assert turns[0]['from'] == 'human' and turns[1]['from'] == 'gpt'
        user, answer = turns[0]['value'], turns[1]['value']
        images = sample['image' if fmt == 'qwen' else 'images']
        assert ('image' in sample) == (fmt == 'qwen')
    assert images == ['images/0_uav.png', 'images/0_sat.png']
    assert user.count('<image>') == 2 and '<image>' not in answer
    assert answer == (EN if lang == 'en' else ZH)
    assert ('UAV (drone)' if lang == 'en' else '无人机') in user
    back = chat_to_record(sample, index=3, view='uav')
    assert back.explanation == {lang: answer} and back.label == 'match'
    assert back.id == 'sample-000003'
    assert back.query_image == 'images/0_uav.png'


def test_chat_label_mode_and_meta_round_trip():
    rec = GleamXRecord.from_dict(make_record(0, label='no_match', source='doubao'))
    sample = record_to_chat(
        rec,
        lang='zh',
        answer_mode='label',
        with_meta=True,
        system='You are a remote-sensing expert.',
    )
    assert sample['messages'][0] == dict(role='system', content='You are a remote-sensing expert.')
    assert sample['messages'][2]['content'] == LABEL_ANSWERS['zh'][0]
    back = chat_to_record(sample)
    assert (back.id, back.query_view, back.label, back.source) == (
        'pair-0',
        'uav',
        'no_match',
        'doubao',
    )


def test_chat_errors():
    sample = record_to_chat(GleamXRecord.from_dict(make_record(0)))
    bad = json.loads(json.dumps(sample))
    bad['messages'][0]['content'] = '<image>only one tag'
    with pytest.raises(GleamXFormatError, match="exactly two '<image>' tags"):
        chat_to_record(bad, file='x.jsonl', line=4)
    bad = json.loads(json.dumps(sample))
    bad['images'] = ['a.png']
    with pytest.raises(GleamXFormatError, match=r"x\.jsonl:4: key 'images': expected two image"):
        chat_to_record(bad, file='x.jsonl', line=4)
    bad = json.loads(json.dumps(sample))
    bad['messages'][1]['content'] = 'Image 1 shows a road. Image 2 shows a park.'
    with pytest.raises(GleamXFormatError, match='verdict can be read'):
        chat_to_record(bad)
    with pytest.raises(ValueError, match='not a chat sample'):
        chat_to_record({'text': 'hi'})


@pytest.mark.parametrize(
    'fmt,suffix', [('messages', '.jsonl'), ('conversations', '.json'), ('qwen', '.json')]
)
def test_export_import_files(tmp_path, fmt, suffix):
    data = tmp_path / 'data'
    data.mkdir()
    src = write_lines(
        data / 'gleam.jsonl', [make_record(0), make_record(1, explanation=dict(en=EN))]
    )
    out = tmp_path / 'llamafactory' / f'train{suffix}'
    n = export_chat(src, str(out), fmt=fmt, with_meta=True)
    assert n == 3  # record 0 in two languages, record 1 in English
    samples = (
        json.loads(out.read_text())
        if suffix == '.json'
        else [json.loads(line) for line in out.read_text().splitlines()]
    )
    images = samples[0]['image' if fmt == 'qwen' else 'images']
    # relative to the exported file's folder, pointing at the same files
    assert images[0] == osp.join('..', 'data', 'images', '0_uav.png')
    back_path = data / 'back.jsonl'
    back = import_chat(str(out), out_path=str(back_path))
    assert [r.id for r in back] == ['pair-0', 'pair-1']
    assert back[0].explanation == dict(en=EN, zh=ZH)  # the two languages merged back
    assert back[0].query_image == 'images/0_uav.png'  # relative to the new JSONL
    assert [r.to_dict() for r in read_jsonl(str(back_path))] == [r.to_dict() for r in back]


@pytest.mark.parametrize(
    'fmt,suffix', [('messages', '.jsonl'), ('conversations', '.json'), ('qwen', '.json')]
)
def test_with_meta_round_trip_is_lossless(tmp_path, fmt, suffix):
    """Every field of every record comes back: meta, revisions, trailing spaces."""
    revision = dict(
        explanation=dict(en='An older text.'),
        label='no_match',
        source='gpt-4o',
        replaced_by='human:bob',
        replaced_at='2025-03-01T10:00:00Z',
    )
    records = [
        GleamXRecord.from_dict(
            make_record(
                0,
                meta=dict(dataset='U1652', location_id=839, gps=[30.5, 114.3]),
                revisions=[revision],
                source='human:bob',
            )
        ),
        GleamXRecord.from_dict(
            make_record(1, label='no_match', explanation=dict(en=EN + '  \n'), query_view='map')
        ),
        GleamXRecord.from_dict(make_record(2, explanation=dict(zh=ZH), meta=dict(split='test'))),
    ]
    src = tmp_path / 'gleam.jsonl'
    write_jsonl(records, str(src))
    out = tmp_path / f'chat{suffix}'
    assert export_chat(str(src), str(out), fmt=fmt, with_meta=True) == 4
    back = import_chat(str(out), out_path=str(tmp_path / 'back.jsonl'))
    assert [r.to_dict() for r in back] == [r.to_dict() for r in records]
    assert [r.to_dict() for r in read_jsonl(str(tmp_path / 'back.jsonl'))] == [
        r.to_dict() for r in records
    ]


# ----------------------------------------------------------------------------- Label Studio
def test_label_studio_round_trip(tmp_path):
    recs = [
        GleamXRecord.from_dict(make_record(0)),
        GleamXRecord.from_dict(make_record(1, explanation=dict(en=EN))),
        GleamXRecord.from_dict(make_record(2)),
    ]
    tasks = to_label_studio_tasks(
        recs,
        base_dir=str(tmp_path),
        document_root=str(tmp_path),
        out_path=str(tmp_path / 'tasks.json'),
    )
    assert json.loads((tmp_path / 'tasks.json').read_text()) == tasks
    t0 = tasks[0]
    assert t0['data']['query_image'] == '/data/local-files/?d=images/0_uav.png'
    assert t0['data']['record_id'] == 'pair-0' and t0['data']['query_view'] == 'uav'
    pred = t0['predictions'][0]
    assert pred['model_version'] == 'gpt-4o'
    by_name = {r['from_name']: r for r in pred['result']}
    assert by_name['label']['value'] == dict(choices=['match'])
    assert by_name['explanation_en']['value'] == dict(text=[EN])
    assert by_name['explanation_zh']['value'] == dict(text=[ZH])
    assert 'explanation_zh' not in {r['from_name'] for r in tasks[1]['predictions'][0]['result']}

    # the config names every control the predictions use
    xml = label_studio_config()
    for name in ('query_image', 'satellite_image', 'label', 'explanation_en', 'explanation_zh'):
        assert f'name="{name}"' in xml
    assert '$query_image' in xml and '$satellite_image' in xml

    # annotators: task 0 revised (text + label) by user 7, task 1 accepted unchanged by
    # alice (an earlier cancelled annotation is ignored), task 2 not annotated
    tasks[0]['annotations'] = [
        dict(
            id=1,
            completed_by=7,
            was_cancelled=False,
            updated_at='2025-03-01T10:00:00Z',
            result=[
                dict(
                    from_name='explanation_en',
                    type='textarea',
                    value=dict(text=['Different roads.', 'They do not correspond.']),
                ),
                dict(from_name='label', type='choices', value=dict(choices=['no_match'])),
            ],
        )
    ]
    tasks[1]['annotations'] = [
        dict(
            id=2,
            completed_by=dict(id=3, email='alice@lab.org'),
            was_cancelled=True,
            updated_at='2025-03-02T00:00:00Z',
            result=[],
        ),
        dict(
            id=3,
            completed_by=dict(id=3, email='alice@lab.org'),
            was_cancelled=False,
            updated_at='2025-03-01T00:00:00Z',
            result=pred['result'][:2],
        ),
    ]
    export = tmp_path / 'export.json'
    export.write_text(json.dumps(tasks), encoding='utf-8')
    out = tmp_path / 'revised.jsonl'
    revised = from_label_studio(str(export), annotators={7: 'bob'}, out_path=str(out))

    r0, r1, r2 = revised
    assert r0.explanation == dict(en='Different roads.\nThey do not correspond.', zh=ZH)
    assert r0.label == 'no_match' and r0.source == 'human:bob'
    assert r0.revisions == [
        dict(
            explanation=dict(en=EN, zh=ZH),
            label='match',
            source='gpt-4o',
            replaced_by='human:bob',
            replaced_at='2025-03-01T10:00:00Z',
        )
    ]
    assert r1.source == 'human:alice@lab.org' and r1.explanation == dict(en=EN)
    assert r1.revisions[0]['source'] == 'gpt-4o'
    assert r2.to_dict() == recs[2].to_dict()
    assert [r.to_dict() for r in read_jsonl(str(out))] == [r.to_dict() for r in revised]

    # a second round appends to the history
    tasks2 = to_label_studio_tasks(revised[:1], base_dir=str(tmp_path))
    tasks2[0]['annotations'] = [
        dict(
            completed_by='carol',
            result=[dict(from_name='explanation_zh', value=dict(text=['两张图像不是同一地点。']))],
        )
    ]
    (r0b,) = from_label_studio(tasks2)
    assert [h['source'] for h in r0b.revisions] == ['gpt-4o', 'human:bob']
    assert r0b.source == 'human:carol' and r0b.label == 'no_match'


def test_label_studio_partial_export_warns_and_original_completes_it(tmp_path):
    recs = [GleamXRecord.from_dict(make_record(i)) for i in range(4)]
    src = tmp_path / 'set.jsonl'
    write_jsonl(recs, str(src))
    tasks = to_label_studio_tasks(str(src), document_root=str(tmp_path))
    assert {t['data']['set_size'] for t in tasks} == {4}
    tasks[2]['annotations'] = [
        dict(
            completed_by='bob',
            updated_at='2025-03-01T00:00:00Z',
            result=[dict(from_name='label', value=dict(choices=['no_match']))],
        )
    ]
    export = tmp_path / 'export.json'
    export.write_text(json.dumps(tasks[1:3]))  # Label Studio's default: annotated tasks only
    with pytest.warns(UserWarning) as caught:
        subset = from_label_studio(str(export))
    message = str(caught[0].message)
    assert 'holds 2 of the 4 tasks' in message and 'download_all_tasks=true' in message
    assert 'original=' in message
    assert [r.id for r in subset] == ['pair-1', 'pair-2']
    # with the original set: the whole set in its order, the revised record swapped in
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter('error')
        full = from_label_studio(str(export), original=str(src))
    assert [r.id for r in full] == ['pair-0', 'pair-1', 'pair-2', 'pair-3']
    assert [r.label for r in full] == ['match', 'match', 'no_match', 'match']
    assert full[2].source == 'human:bob' and full[0].to_dict() == recs[0].to_dict()
    # a complete export does not warn
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert len(from_label_studio(tasks)) == 4
    with pytest.raises(GleamXFormatError, match='original='):
        from_label_studio(str(export), original=recs[:2])


def test_label_studio_errors():
    with pytest.raises(GleamXFormatError, match='data.record'):
        from_label_studio([dict(data=dict(query_image='x'))])
    task = to_label_studio_tasks([GleamXRecord.from_dict(make_record(0))], base_dir='/')[0]
    task['annotations'] = [
        dict(completed_by=1, result=[dict(from_name='label', value=dict(choices=['maybe']))])
    ]
    with pytest.raises(GleamXFormatError, match="'match' or 'no_match'"):
        from_label_studio([task])


# ----------------------------------------------------------------------------- the docs
def test_documented_example_record_is_valid(tmp_path):
    """The full example record in docs/gleam_x_data.md passes validation."""
    text = DOC.read_text(encoding='utf-8')
    blocks = re.findall(r'```json\n(.*?)```', text, re.S)
    assert blocks, 'docs/gleam_x_data.md has no json example'
    record = GleamXRecord.from_dict(json.loads(blocks[0]))
    assert record.langs == ['en', 'zh'] and record.revisions
    path = write_lines(tmp_path / 'doc.jsonl', [json.loads(blocks[0])])
    assert read_jsonl(path)[0].to_dict() == record.to_dict()
