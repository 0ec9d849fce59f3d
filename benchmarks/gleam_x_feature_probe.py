"""What can be learnt from a GLEAM-X vision tower's features with the built-in
training pairs? Small classifiers on the two images' pooled tower features.

``benchmarks/gleam_x_learning.py`` measures the language model; this probe asks
how much of the answer is *learnable* from the tokens it is given, with the
same training pairs. Each pair's query and satellite are encoded by the
config's vision tower (``model.vision_tower``, e.g. GLEAM-C's encoder), pooled
over each image's tokens (before the trainable projector), and a one-hidden-layer
MLP (or, for the cosine, the same MLP on one number) is trained on the
training pairs and scored on the test pairs, from three inputs:

- ``cosine``: the cosine of the two images' features (the comparison given);
- ``product``: their element-wise product (the comparison is a sum away);
- ``concat``: the two feature vectors side by side - what a language model
  that sees the image tokens must learn to compare by itself.

The pairs repeat across languages (each English pair has a Chinese twin with
the same images), so each image pair is counted once.

Example (GLEAM-C's tower; train ``configs/gleam_c/phase2.py`` first)::

    python benchmarks/gleam_x_feature_probe.py \\
        configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic_label_gleam_c.py \\
        --cfg-options model.vision_tower.features=embedding
"""

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))
if str(ROOT / 'benchmarks') not in sys.path:
    sys.path.insert(0, str(ROOT / 'benchmarks'))

import numpy as np  # noqa: E402
import torch  # noqa: E402

INPUTS = ('cosine', 'product', 'concat')


@torch.no_grad()
def pair_features(explainer, samples: List[dict]) -> Tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Pooled tower features ``(query, satellite)`` and labels of each distinct pair."""
    from gleamkit.models.explainers.pretrained_vision_tower import PretrainedCNNVisionTower

    towers = [m for m in explainer.modules() if isinstance(m, PretrainedCNNVisionTower)]
    if not towers:
        raise ValueError(
            'gleam_x_feature_probe: the config has no model.vision_tower (a '
            'PretrainedCNNVisionTower); the probe reads its features'
        )
    tower, dp = towers[0], explainer.data_preprocessor
    seen, queries, satellites, labels = set(), [], [], []
    for s in samples:
        key = (str(s['query']), str(s['satellite']))
        if key in seen:
            continue
        seen.add(key)
        batch = dp.collate(
            [dict(images=[s['query'], s['satellite']], prompt=s['label_prompt'])],
            with_answer=False,
        )
        feats = tower(batch['pixel_values'], batch['image_grid_thw']).last_hidden_state
        sizes = (batch['image_grid_thw'].prod(1) // tower.spatial_merge_size**2).tolist()
        query, satellite = (f.mean(0) for f in torch.split(feats, sizes))
        queries.append(query)
        satellites.append(satellite)
        labels.append(s['label'])
    return torch.stack(queries), torch.stack(satellites), np.asarray(labels)


def probe_inputs(query: torch.Tensor, satellite: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == 'cosine':
        return torch.nn.functional.cosine_similarity(query, satellite)[:, None]
    if kind == 'product':
        q = torch.nn.functional.normalize(query, dim=1)
        return q * torch.nn.functional.normalize(satellite, dim=1)
    if kind == 'concat':
        return torch.cat([query, satellite], 1)
    raise ValueError(f'probe input {kind!r}: expected one of {INPUTS}')


def train_probe(
    x_train: torch.Tensor, y_train: np.ndarray, steps: int = 2000, seed: int = 0
) -> torch.nn.Module:
    """A one-hidden-layer MLP (64 units) trained full-batch with AdamW (lr 1e-3)."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(x_train.shape[1], 64), torch.nn.GELU(), torch.nn.Linear(64, 1)
    )
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    net.register_buffer('mean', mean)
    net.register_buffer('std', std)
    target = torch.as_tensor(y_train, dtype=torch.float32)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    for _ in range(steps):
        logits = net((x_train - mean) / std)[:, 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def probe(train: tuple, test: tuple, steps: int = 2000) -> Dict[str, dict]:
    """Train and test AUC / accuracy of the probe on each input kind."""
    from gleam_x_learning import roc_auc

    out = {}
    for kind in INPUTS:
        x_train, x_test = (probe_inputs(q, s, kind) for q, s, _ in (train, test))
        net = train_probe(x_train, train[2], steps)
        with torch.no_grad():
            p_train = net((x_train - net.mean) / net.std)[:, 0].numpy()
            p_test = net((x_test - net.mean) / net.std)[:, 0].numpy()
        out[kind] = dict(
            train_auc=roc_auc(train[2], p_train),
            test_auc=roc_auc(test[2], p_test),
            test_accuracy=float(((p_test > 0).astype(int) == test[2]).mean()),
            train_pairs=len(train[2]),
            test_pairs=len(test[2]),
        )
    return out


def split_features(config: str, cfg_options: Optional[dict] = None):
    """``(cfg, {'train': features, 'test': features})``: the config's vision tower
    (its LoRA left out) applied to the distinct image pairs of both splits."""
    from gleam_x_learning import _samples
    from mmengine.config import Config

    import gleamkit.datasets  # noqa: F401 (registers the datasets)
    import gleamkit.models  # noqa: F401
    from gleamkit.registry import DATASETS, EXPLAINERS

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model_cfg = cfg.model.copy()
    model_cfg['lora'] = None  # the tower alone is read
    explainer = EXPLAINERS.build(model_cfg)
    explainer.eval()
    splits = {}
    for name in ('train', 'test'):
        dataset = DATASETS.build(cfg[f'{name}_dataloader']['dataset'])
        splits[name] = pair_features(explainer, _samples(dataset))
    return cfg, splits


def main(argv=None):
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    parser.add_argument('--steps', type=int, default=2000, help='probe training steps')
    args = parser.parse_args(argv)
    _, splits = split_features(args.config, args.cfg_options)
    result = probe(splits['train'], splits['test'], args.steps)
    print(f'\n{args.config}: probes on the vision tower features')
    print('| input | train pairs | test pairs | train AUC | test AUC | test accuracy |')
    print('|---|---|---|---|---|---|')
    for kind, row in result.items():
        print(
            f'| {kind} | {row["train_pairs"]} | {row["test_pairs"]} | {row["train_auc"]:.3f} | '
            f'{row["test_auc"]:.3f} | {100 * row["test_accuracy"]:.1f} |'
        )
    return result


if __name__ == '__main__':
    main()
