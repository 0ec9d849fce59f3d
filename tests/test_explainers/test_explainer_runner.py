"""GLEAM-X in mmengine's Runner, from the tiny config as tools/train.py and tools/test.py
run it: LoRA fine-tuning (loss decreases), adapter checkpoints, --resume with the
optimizer state, then generation + verdict parsing + GleamXMetric."""

import argparse
import json
import os.path as osp
import shutil
import uuid

import pytest
import torch
from explainer_fixtures import contract_sample
from mmengine.config import Config
from PIL import Image

from gleamkit.datasets.gleam_x import write_jsonl
from gleamkit.utils.runtime import build_runner, prepare_config

CONFIG = 'configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic.py'
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

pytestmark = [
    pytest.mark.slow,  # Runner fine-tuning runs (see CONTRIBUTING.md)
    pytest.mark.filterwarnings('ignore:.*is_gradient_checkpointing:FutureWarning'),
]


@pytest.fixture(scope='module', autouse=True)
def isolated_mmengine_globals():
    """Undo the global instances the runners register (default scope, message hub,
    logger, visualizer), so tests that run later see the process as it was."""
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.registry import DefaultScope
    from mmengine.visualization import Visualizer

    managers = (DefaultScope, MessageHub, MMLogger, Visualizer)
    saved = {manager: dict(manager._instance_dict) for manager in managers}
    yield
    for manager, instances in saved.items():
        manager._instance_dict.clear()
        manager._instance_dict.update(instances)


def write_pairs(folder, indices, seed):
    """A GLEAM-X JSONL file of contract samples (images saved as PNG)."""
    (folder / 'img').mkdir(parents=True, exist_ok=True)
    records = []
    for i in indices:
        sample = contract_sample(i, seed)
        meta = sample['data_samples'].metainfo
        for kind, img in zip(('q', 's'), sample['inputs']['images']):
            Image.fromarray(img).save(folder / 'img' / f'{kind}{seed}_{i}.png')
        records.append(
            dict(
                id=meta['id'],
                query_image=f'img/q{seed}_{i}.png',
                satellite_image=f'img/s{seed}_{i}.png',
                query_view='uav',
                label=('no_match', 'match')[meta['label']],
                explanation={meta['lang']: meta['reference']},
                source='test',
            )
        )
    path = folder / f'pairs{seed}.jsonl'
    write_jsonl(records, str(path))
    return str(path)


def load_config(tiny_vlm_dir, data, work_dir, max_epochs):
    cfg = Config.fromfile(osp.join(ROOT, CONFIG))
    cfg.model.model_name_or_path = tiny_vlm_dir
    cfg.model.generation = dict(max_new_tokens=24, do_sample=False)
    for key, ann_file in (
        ('train_dataloader', data['train']),
        ('val_dataloader', data['test']),
        ('test_dataloader', data['test']),
    ):
        cfg[key].dataset.synthetic = None
        cfg[key].dataset.ann_file = ann_file
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key].with_similarity = False  # Sentence-BERT is GleamXMetric's own test
        cfg[key].out_json = osp.join(work_dir, 'eval.json')
    cfg.train_cfg.max_epochs = max_epochs
    cfg.param_scheduler = []  # 4 steps: no warm-up, the config's lr (1e-2) throughout
    cfg.train_cfg.val_interval = 100
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.save_best = None
    cfg.randomness = dict(seed=0)
    # unique: runners built within the same second must not share a message hub
    cfg.experiment_name = f'gleam_x_{uuid.uuid4().hex}'
    return cfg


def train(cfg, work_dir, resume=None, validate=False):
    args = argparse.Namespace(
        launcher='none',
        cfg_options=None,
        work_dir=str(work_dir),
        load_from=None,
        resume=resume,
        amp=False,
        no_validate=not validate,
        config=CONFIG,
    )
    runner = build_runner(prepare_config(cfg, args, mode='train'))
    runner.train()
    return runner


def losses(work_dir):
    (log,) = list(work_dir.glob('*/vis_data/scalars.json'))
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return [x['loss'] for x in lines if 'loss' in x]


@pytest.fixture(scope='module')
def trained(tiny_vlm_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('gleam_x_runner')
    data = dict(
        train=write_pairs(tmp / 'data', range(16), seed=0),
        test=write_pairs(tmp / 'data', range(8), seed=1),
    )
    work = tmp / 'work'
    runner = train(load_config(tiny_vlm_dir, data, str(work), max_epochs=2), work)
    return tiny_vlm_dir, data, work, runner


def test_lora_fine_tuning_lowers_the_loss(trained):
    _, _, work, runner = trained
    curve = losses(work)
    assert len(curve) == 4  # 2 epochs x 16 samples / batch 8
    assert curve[-1] < curve[0] - 0.5, curve
    explainer = runner.model
    lm_head = [n for n, p in explainer.named_parameters() if p.requires_grad and 'lm_head' in n]
    assert lm_head and all('modules_to_save' in n for n in lm_head)


def test_checkpoints_carry_the_adapter_not_the_base_model(trained):
    _, _, work, runner = trained
    ckpt = torch.load(work / 'epoch_2.pth', weights_only=True)
    trainable = {n for n, p in runner.model.named_parameters() if p.requires_grad}
    assert set(ckpt['state_dict']) == trainable | {'_extra_state'}
    assert ckpt['optimizer']['state']  # AdamW moments: resumable
    assert ckpt['meta']['explainer']['min_pixels'] == 56 * 56
    for name in ('adapters/epoch_1', 'adapters/epoch_2', 'adapter'):
        folder = work / name
        assert (folder / 'adapter_model.safetensors').is_file(), name
        assert (folder / 'gleamkit_explainer.json').is_file(), name
    # the final adapter is the trained model
    from safetensors.torch import load_file

    saved = load_file(str(work / 'adapter' / 'adapter_model.safetensors'))
    assert len(saved) == len([n for n in trainable if 'lora_' in n or 'modules_to_save' in n])


def test_resume_continues_with_the_optimizer_state(trained, tmp_path):
    tiny_vlm_dir, data, work, _ = trained
    copy = tmp_path / 'work'
    shutil.copytree(work, copy)
    saved = torch.load(copy / 'epoch_2.pth', weights_only=True)
    cfg = load_config(tiny_vlm_dir, data, str(copy), max_epochs=3)
    args = argparse.Namespace(
        launcher='none',
        cfg_options=None,
        work_dir=str(copy),
        load_from=None,
        resume='auto',
        amp=False,
        no_validate=True,
        config=CONFIG,
    )  # = tools/train.py CONFIG --resume
    runner = build_runner(prepare_config(cfg, args, mode='train'))
    runner.load_or_resume()  # what train() starts with
    assert (runner.epoch, runner.iter) == (2, 4)
    for name, value in runner.model.state_dict().items():
        if name != '_extra_state':
            assert torch.equal(value, saved['state_dict'][name]), name
    moments = runner.optim_wrapper.optimizer.state_dict()['state']
    assert {int(s['step']) for s in moments.values()} == {4}
    runner.train()
    assert (runner.epoch, runner.iter) == (3, 6)
    moments = runner.optim_wrapper.optimizer.state_dict()['state']
    assert {int(s['step']) for s in moments.values()} == {6}  # AdamW went on, not restarted
    assert (copy / 'adapters' / 'epoch_3').is_dir()
    assert not (copy / 'adapters' / 'epoch_1').exists()  # max_keep=2


def test_test_tool_generates_parses_and_evaluates(trained, tmp_path):
    tiny_vlm_dir, data, work, runner = trained
    cfg = load_config(tiny_vlm_dir, data, str(tmp_path), max_epochs=2)
    args = argparse.Namespace(
        launcher='none',
        cfg_options=None,
        work_dir=str(tmp_path),
        load_from=str(work / 'epoch_2.pth'),
        config=CONFIG,
    )
    tester = build_runner(prepare_config(cfg, args, mode='test'))
    metrics = tester.test()
    assert metrics['gleam_x/num_samples'] == 8
    for key in ('accuracy', 'unparseable', 'en/accuracy', 'zh/accuracy'):
        assert 0 <= metrics[f'gleam_x/{key}'] <= 100, key
    report = json.loads((tmp_path / 'eval.json').read_text())
    samples = report['samples']
    assert len(samples) == 8
    from gleamkit.evaluation.explanation.verdict import parse_verdict

    for s in samples:
        assert s['pred_label'] == parse_verdict(s['pred_text'], lang=s['lang'])
    correct = sum(s['pred_label'] == s['label'] for s in samples)
    assert metrics['gleam_x/accuracy'] == pytest.approx(100 * correct / 8)
    # the loaded checkpoint is the trained adapter: the trained model answers the same
    batch = next(iter(tester.test_dataloader))
    answers = [x.pred_text for x in runner.model.eval().test_step(batch)]
    assert answers == [s['pred_text'] for s in samples[: len(answers)]]


def test_api_explainer_is_evaluated_like_a_model(tmp_path, monkeypatch):
    """configs/gleam_x/openai_compatible_eval.py: predict-only model in the test loop."""
    from explainer_fixtures import ANSWER, ScriptedServer, completion

    for var in ('http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(var, raising=False)
    ann_file = write_pairs(tmp_path / 'data', range(6), seed=2)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/gleam_x/openai_compatible_eval.py'))
    cfg.experiment_name = f'gleam_x_api_{uuid.uuid4().hex}'
    cfg.test_dataloader.dataset.data_root = ''
    cfg.test_dataloader.dataset.ann_file = ann_file
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    cfg.test_dataloader.batch_size = 4
    cfg.test_evaluator.with_similarity = False
    cfg.model.progress = False
    cfg.model.max_concurrency = 2
    cfg.model.cache_file = None
    with ScriptedServer([(200, {}, completion(ANSWER))] * 6) as srv:
        cfg.model.base_url = srv.url
        args = argparse.Namespace(
            launcher='none',
            cfg_options=None,
            work_dir=str(tmp_path),
            load_from=None,
            config='openai_compatible_eval.py',
        )
        metrics = build_runner(prepare_config(cfg, args, mode='test')).test()
    assert len(srv.requests) == 6
    assert metrics['gleam_x/num_samples'] == 6
    assert metrics['gleam_x/accuracy'] == pytest.approx(50.0)  # says "same" to all, half are
    assert metrics['gleam_x/unparseable'] == 0


def test_api_evaluation_survives_a_malformed_reply_and_resumes_from_its_cache(
    tmp_path, monkeypatch
):
    """Issue 10.15: one pair whose replies stay malformed is retried, recorded as failed
    (unparseable) and the run goes on; a rerun asks only for that pair."""
    from explainer_fixtures import ANSWER, ScriptedServer, completion

    for var in ('http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(var, raising=False)
    ann_file = write_pairs(tmp_path / 'data', range(4), seed=3)
    cache = tmp_path / 'cache' / 'answers.jsonl'

    def run(script):
        cfg = Config.fromfile(osp.join(ROOT, 'configs/gleam_x/openai_compatible_eval.py'))
        assert cfg.model.cache_file and cfg.model.on_error == 'record'
        cfg.experiment_name = f'gleam_x_api_{uuid.uuid4().hex}'
        cfg.test_dataloader.dataset.data_root = ''
        cfg.test_dataloader.dataset.ann_file = ann_file
        cfg.test_dataloader.num_workers = 0
        cfg.test_dataloader.persistent_workers = False
        cfg.test_dataloader.batch_size = 2
        cfg.test_evaluator.with_similarity = False
        cfg.test_evaluator.out_json = str(tmp_path / 'eval.json')
        cfg.model.update(
            progress=False,
            max_concurrency=1,
            max_retries=2,
            backoff_base=0.01,
            cache_file=str(cache),
        )
        with ScriptedServer(script) as srv:
            cfg.model.base_url = srv.url
            args = argparse.Namespace(
                launcher='none',
                cfg_options=None,
                work_dir=str(tmp_path / 'work'),
                load_from=None,
                config='openai_compatible_eval.py',
            )
            metrics = build_runner(prepare_config(cfg, args, mode='test')).test()
        return metrics, srv.requests

    cut = (200, {}, completion(ANSWER)[:40])  # a reply cut off in the middle of its JSON
    # pair 0 answers after one cut-off reply; pair 1's three attempts are all cut off
    metrics, requests = run(
        [cut, (200, {}, completion(ANSWER)), cut, cut, cut] + [(200, {}, completion(ANSWER))] * 2
    )
    assert len(requests) == 7
    assert metrics['gleam_x/num_samples'] == 4
    assert metrics['gleam_x/failed'] == pytest.approx(25.0)
    assert metrics['gleam_x/unparseable'] == pytest.approx(25.0)
    report = json.loads((tmp_path / 'eval.json').read_text())
    failed = [s for s in report['samples'] if 'error' in s]
    assert len(failed) == 1 and 'not a chat completion' in failed[0]['error']
    assert any('1 of 4 samples got no answer' in note for note in report['notes'])
    assert len(cache.read_text().splitlines()) == 3
    # the rerun asks only for the failed pair; the others come from the cache
    metrics, requests = run([(200, {}, completion(ANSWER))])
    assert len(requests) == 1
    assert 'gleam_x/failed' not in metrics and metrics['gleam_x/unparseable'] == 0
    assert metrics['gleam_x/accuracy'] == pytest.approx(50.0)


def test_tiny_label_config_trains_and_evaluates_offline(tiny_vlm_dir, tmp_path):
    """configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic_label.py: the answer is the verdict
    sentence, so its 16 new tokens reach the verdict and every answer parses (issue 10.19:
    the explanation demo's 64 tokens never reached it)."""
    from gleamkit.datasets.gleam_x.prompts import LABEL_ANSWERS

    data = dict(
        train=write_pairs(tmp_path / 'data', range(16), seed=0),
        test=write_pairs(tmp_path / 'data', range(8), seed=1),
    )
    cfg = load_config(tiny_vlm_dir, data, str(tmp_path), max_epochs=6)
    label_cfg = Config.fromfile(
        osp.join(ROOT, 'configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic_label.py')
    )
    cfg.model.generation = label_cfg.model.generation
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.answer_mode = label_cfg[key].dataset.answer_mode
    assert cfg.test_dataloader.dataset.answer_mode == 'label'
    # validated at the end: ValidationThresholdHook (the config's custom_hooks) saves the
    # balanced threshold of P(match) with the checkpoint; test applies it
    cfg.train_cfg.val_interval = 6
    cfg.test_evaluator.match_threshold = 'validation'
    cfg.test_evaluator.out_json = str(tmp_path / 'eval.json')
    cfg.val_evaluator.out_json = str(tmp_path / 'val.json')
    work = tmp_path / 'work'
    train(cfg, work, validate=True)
    from gleamkit.engine.hooks.validation_threshold_hook import checkpoint_threshold

    val = json.loads((tmp_path / 'val.json').read_text())
    chosen = checkpoint_threshold(torch.load(work / 'epoch_6.pth', weights_only=True))
    assert chosen is not None and chosen == pytest.approx(val['metrics']['balanced_threshold'])
    args = argparse.Namespace(
        launcher='none',
        cfg_options=None,
        work_dir=str(tmp_path),
        load_from=str(work / 'epoch_6.pth'),
        config=CONFIG,
    )
    tester = build_runner(prepare_config(cfg, args, mode='test'))
    metrics = tester.test()
    assert tester.test_evaluator.metrics[0].match_threshold == pytest.approx(chosen)
    samples = json.loads((tmp_path / 'eval.json').read_text())['samples']
    scored = [(s['p_match'] >= chosen) == s['label'] for s in samples]
    assert metrics['gleam_x/scored_accuracy'] == pytest.approx(100 * sum(scored) / len(scored))
    # 12 steps teach the answer's opening (the verdict), not yet where it stops
    openings = {
        s.split('，')[0].split(',')[0]
        for answers in LABEL_ANSWERS.values()
        for s in answers.values()
    }
    assert openings == {'Yes', 'No', '是的', '不是'}
    assert len(samples) == 8 and all(s['pred_text'].startswith(tuple(openings)) for s in samples), [
        s['pred_text'] for s in samples
    ]
    assert all(s['pred_label'] in (0, 1) for s in samples)
    assert metrics['gleam_x/unparseable'] == 0
    assert losses(work)[-1] < losses(work)[0] - 1.0
