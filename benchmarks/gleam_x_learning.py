"""Does GLEAM-X learn on the offline bilingual set? Train a config, print the
before/after table per language and view, and the learning curve.

P(match) of a pair is the model's own probability of the two label-only verdict
sentences ("Yes, the two images show the same place." / "No, ..."; "是的，……" /
"不是，……") after the label-only prompt, teacher-forced, normalised over the two:
``P(match) = P(yes) / (P(yes) + P(no))``. No free generation is involved, so every
pair gets a number (ROC AUC, accuracy at 0.5). The free-text route is measured too:
``--generate N`` generates the answers of N test samples per language with the
config's own prompt and generation settings and parses their verdicts
(accuracy, unparseable rate).

Examples::

    # the shipped label-only recipe (about 10 minutes on 2 shared CPU cores)
    OMP_NUM_THREADS=2 python benchmarks/gleam_x_learning.py \\
        configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic_label.py --generate 32
    # the old recipe (random vision tower) for comparison
    python benchmarks/gleam_x_learning.py configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic_label.py \\
        --cfg-options model.vision_tower=None model.freeze_projector=True

The results (table, curve, wall time) are also written to
``WORK_DIR/gleam_x_learning.json``.
"""

import argparse
import json
import os
import os.path as osp
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties count half); nan for one class."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float('nan')
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def _samples(dataset) -> List[dict]:
    from gleamkit.datasets.gleam_x.prompts import build_prompt

    out = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        out.append(
            dict(
                query=info['query_path'],
                satellite=info['satellite_path'],
                view=info['view'],
                lang=info['lang'],
                label=int(info['label']),
                label_prompt=build_prompt(info['view'], info['lang'], 'label'),
            )
        )
    return out


@torch.no_grad()
def score_p_match(explainer, samples: Sequence[dict], batch_size: int = 16) -> np.ndarray:
    """P(match) of each sample from the teacher-forced verdict sentences.

    A sample is a dict with ``query`` and ``satellite`` (file paths or ``HxWx3`` uint8
    arrays), ``lang`` and ``label_prompt``.
    """
    from gleamkit.datasets.gleam_x.prompts import label_answer

    preprocessor = explainer.data_preprocessor
    was_training = explainer.training
    explainer.eval()
    scores = []
    try:
        for start in range(0, len(samples), batch_size):
            items = [
                dict(
                    images=[s['query'], s['satellite']],
                    prompt=s['label_prompt'],
                    answer=label_answer(label, s['lang']),
                )
                for s in samples[start : start + batch_size]
                for label in (1, 0)
            ]
            batch = preprocessor.cast_data(preprocessor.collate(items, with_answer=True))
            labels = batch.pop('labels')
            logits = explainer(batch, mode='tensor').float()
            logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
            target = labels[:, 1:]
            mask = target != -100
            picked = logprobs.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            sentence = (picked * mask).sum(-1).view(-1, 2)  # (yes, no) per sample
            scores += torch.softmax(sentence, dim=-1)[:, 0].tolist()
    finally:
        explainer.train(was_training)
    return np.asarray(scores)


@torch.no_grad()
def generate_verdicts(explainer, dataset, per_lang: int, batch_size: int = 16) -> List[dict]:
    """Generate the answers of the first ``per_lang`` test samples of each language."""
    picked, count = [], defaultdict(int)
    for i in range(len(dataset)):
        lang = dataset.get_data_info(i)['lang']
        if count[lang] < per_lang:
            picked.append(i)
            count[lang] += 1
    was_training = explainer.training
    explainer.eval()
    rows = []
    try:
        for start in range(0, len(picked), batch_size):
            items = [dataset[i] for i in picked[start : start + batch_size]]
            data = explainer.data_preprocessor(
                dict(
                    inputs=[it['inputs'] for it in items],
                    data_samples=[it['data_samples'] for it in items],
                ),
                False,
            )
            for sample in explainer(**data, mode='predict'):
                rows.append(
                    dict(
                        lang=sample.metainfo.get('lang'),
                        view=sample.metainfo.get('view'),
                        label=int(sample.metainfo['label']),
                        pred=int(sample.pred_label),
                        text=sample.pred_text,
                    )
                )
    finally:
        explainer.train(was_training)
    return rows


def score_table(samples: Sequence[dict], p_match: np.ndarray, threshold: float = 0.5) -> Dict:
    """ROC AUC, accuracy and the share predicted "match", overall, per language and view."""
    groups = defaultdict(list)
    for i, s in enumerate(samples):
        for key in ('all', f'lang={s["lang"]}', f'view={s["view"]}'):
            groups[key].append(i)
    labels = np.array([s['label'] for s in samples])
    table = {}
    for key, idx in groups.items():
        y, p = labels[idx], p_match[idx]
        table[key] = dict(
            n=len(idx),
            auc=roc_auc(y, p),
            accuracy=float(((p >= threshold).astype(int) == y).mean()),
            predicted_match=float((p >= threshold).mean()),
        )
    return table


def generation_table(rows: Sequence[dict]) -> Dict:
    groups = defaultdict(list)
    for row in rows:
        for key in ('all', f'lang={row["lang"]}'):
            groups[key].append(row)
    return {
        key: dict(
            n=len(rs),
            accuracy=float(np.mean([r['pred'] == r['label'] for r in rs])),
            unparseable=float(np.mean([r['pred'] == -1 for r in rs])),
        )
        for key, rs in groups.items()
    }


class LearningCurveHook(Hook):
    """Score the test set after every ``interval`` epochs; keep the mean training loss."""

    priority = 'LOW'

    def __init__(self, samples, interval: int = 1, scores: bool = True):
        self.samples, self.interval, self.scores = samples, interval, scores
        self.curve, self._losses, self._start = [], [], time.time()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if outputs and 'loss' in outputs:
            self._losses.append(float(outputs['loss'].detach()))

    def after_train_epoch(self, runner):
        epoch = runner.epoch + 1
        if epoch % self.interval and epoch != runner.max_epochs:
            return
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        nan = dict(auc=float('nan'), accuracy=float('nan'))
        table = (
            score_table(self.samples, score_p_match(model, self.samples))['all']
            if self.scores
            else nan
        )
        point = dict(
            epoch=epoch,
            iter=runner.iter + 1,
            train_loss=float(np.mean(self._losses)) if self._losses else float('nan'),
            test_auc=table['auc'],
            test_accuracy=table['accuracy'],
            minutes=(time.time() - self._start) / 60,
        )
        self._losses = []
        self.curve.append(point)
        runner.logger.info(f'learning curve: {point}')


def _format_scores(before: Dict, after: Dict) -> str:
    keys = (
        ['all']
        + sorted(k for k in after if k.startswith('lang='))
        + sorted(k for k in after if k.startswith('view='))
    )
    lines = [
        '| subset | n | AUC before | AUC after | accuracy before | accuracy after | '
        'predicted match after |',
        '|---|---|---|---|---|---|---|',
    ]
    for k in keys:
        b, a = before.get(k, {}), after[k]
        lines.append(
            f'| {k} | {a["n"]} | {b.get("auc", float("nan")):.3f} | {a["auc"]:.3f} | '
            f'{100 * b.get("accuracy", float("nan")):.1f} | {100 * a["accuracy"]:.1f} | '
            f'{100 * a["predicted_match"]:.1f} |'
        )
    return '\n'.join(lines)


def main(argv=None):
    from mmengine.config import Config, DictAction
    from mmengine.runner import Runner

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    parser.add_argument(
        '--generate', type=int, default=0, help='test samples per language to generate'
    )
    parser.add_argument('--curve-interval', type=int, default=1, help='epochs between points')
    parser.add_argument(
        '--curve-samples',
        type=int,
        default=128,
        help='test samples scored for each point of the curve (every k-th; 0: all)',
    )
    parser.add_argument(
        '--no-scores',
        action='store_true',
        help='skip P(match) (e.g. explanation configs, whose prompt is not the label one)',
    )
    args = parser.parse_args(argv)

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or osp.join(
        'work_dirs', 'gleam_x_learning', osp.splitext(osp.basename(args.config))[0]
    )
    cfg.train_cfg['val_interval'] = 10**6  # this script scores the test set itself
    runner = Runner.from_cfg(cfg)
    dataset = runner.test_dataloader.dataset
    samples = _samples(dataset)
    model = runner.model

    t0 = time.time()
    before = score_table(samples, score_p_match(model, samples))
    score_seconds = time.time() - t0
    step = max(1, len(samples) // args.curve_samples) if args.curve_samples else 1
    hook = LearningCurveHook(samples[::step], args.curve_interval, scores=not args.no_scores)
    runner.register_hook(hook)
    t0 = time.time()
    runner.train()
    train_seconds = time.time() - t0
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    after = {} if args.no_scores else score_table(samples, score_p_match(model, samples))
    result = dict(
        config=args.config,
        cfg_options=args.cfg_options,
        train_minutes=train_seconds / 60,
        score_seconds=score_seconds,
        threads=torch.get_num_threads(),
        before=before,
        after=after,
        curve=hook.curve,
    )
    if args.generate:
        t0 = time.time()
        rows = generate_verdicts(model, dataset, args.generate)
        result['generation'] = generation_table(rows)
        result['generation_seconds'] = time.time() - t0
        result['generation_examples'] = rows[:4]
    os.makedirs(cfg.work_dir, exist_ok=True)
    with open(osp.join(cfg.work_dir, 'gleam_x_learning.json'), 'w', encoding='utf-8') as f:
        json.dump(result, f, indent=2, ensure_ascii=False)

    print(
        f'\n{args.config}: trained {train_seconds / 60:.1f} min on '
        f'{torch.get_num_threads()} thread(s)'
    )
    if after:
        print('P(match) from the verdict sentences, built-in test set:')
        print(_format_scores(before, after))
    print(f'\nlearning curve ({len(hook.samples)} test samples scored after each point):')
    print('| epoch | iter | mean train loss | test AUC | test accuracy | minutes |')
    print('|---|---|---|---|---|---|')
    for p in hook.curve:
        print(
            f'| {p["epoch"]} | {p["iter"]} | {p["train_loss"]:.3f} | {p["test_auc"]:.3f} | '
            f'{100 * p["test_accuracy"]:.1f} | {p["minutes"]:.1f} |'
        )
    if args.generate:
        print(f'\ngenerated answers ({result["generation_seconds"]:.0f} s):')
        for key, row in result['generation'].items():
            print(
                f'  {key}: n={row["n"]} accuracy {100 * row["accuracy"]:.1f}% '
                f'unparseable {100 * row["unparseable"]:.1f}%'
            )
    return result


if __name__ == '__main__':
    main()
