"""Can the tiny GLEAM-X decoder learn to compare two images at all? A study of
its ceiling on the built-in set, outside the VLM machinery.

``benchmarks/gleam_x_learning.py`` trains the whole tiny Qwen2.5-VL (prompt,
verdict sentence, LoRA) and ``gleam_x_feature_probe.py`` trains small MLPs on
the tower's pooled features. This study sits between them: a decoder of the
tiny model's own shape (its ``text_config``: width, layers, heads, MLP; random
initialisation, every weight trained) reads a sequence laid out as the VLM's -
fixed "prompt" embeddings, the query's image tokens, a separator, the
satellite's image tokens, the rest of the prompt - where each image token is the
trainable projector applied to the frozen vision tower's pooled feature
(GLEAM-C's embedding with ``model.vision_tower.features=embedding``). A
two-way head on the last position is trained with cross-entropy on the label
directly: the easiest form of the verdict-token objective (no sentence, no
LoRA, no tokenizer). What it reaches bounds what the VLM recipe can reach with
these tokens and this decoder in the same number of steps.

Recipes (each trained ``--steps`` steps, batch 16, AdamW with a one-cycle
schedule, from ``--seeds`` seeds; P(match) scored on the test pairs):

- ``pairs``: the GLEAM-X training pairs (label = match / no match);
- ``pairs+easy``: 30% of each batch's satellites swapped for a random
  training satellite (label: no match) - easy negatives as a curriculum;
- ``pairs+pretext``: half of each batch is a pretext pair of two training
  images (either view) labelled by GLEAM-C's own similarity (cosine above the
  median of the pretext pairs; half of them among each image's 200 nearest):
  unlimited comparisons, no test image, no GLEAM-X label - it teaches the
  decoder to compare rather than to memorise pairs.

The cosine of the two features (no training) is printed as the reference.

Example (train ``configs/gleam_c/phase2.py`` first)::

    OMP_NUM_THREADS=1 python benchmarks/gleam_x_comparator_study.py \\
        configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic_label_gleam_c.py \\
        --cfg-options model.vision_tower.features=embedding
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / 'benchmarks'):
    if str(_p) not in sys.path:  # run from a checkout without `pip install -e .`
        sys.path.insert(0, str(_p))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

RECIPES = ('pairs', 'pairs+easy', 'pairs+pretext')


def text_config(model_name: str) -> dict:
    """The tiny VLM's language-model sizes (``text_config`` of its config.json)."""
    import json
    import os.path as osp

    from gleamkit.models.explainers import resolve_tiny_model

    path = resolve_tiny_model(model_name) or model_name
    with open(osp.join(path, 'config.json'), encoding='utf-8') as f:
        cfg = json.load(f)
    text = cfg.get('text_config', cfg)
    keys = ('hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads')
    return {k: text[k] for k in keys + ('num_key_value_heads',)}


class Comparator(torch.nn.Module):
    """Projector + a decoder of the tiny model's shape + a two-way verdict head."""

    def __init__(self, feat_dim: int, sizes: dict, tokens: int = 4, prompt: int = 40):
        super().__init__()
        from transformers import Qwen2Config, Qwen2Model

        from gleamkit.models.explainers.pretrained_vision_tower import build_projector

        width = sizes['hidden_size']
        self.decoder = Qwen2Model(Qwen2Config(vocab_size=8, max_position_embeddings=512, **sizes))
        self.projector = build_projector(feat_dim, width)  # PretrainedCNNVisionTower's merger
        self.register_buffer('prompt', torch.randn(prompt, width) * 0.02)  # fixed "text"
        self.register_buffer('separators', torch.randn(2, width) * 0.02)
        self.head = torch.nn.Linear(width, 2)
        self.tokens = tokens

    def forward(self, query: torch.Tensor, satellite: torch.Tensor) -> torch.Tensor:
        n, half = query.shape[0], self.prompt.shape[0] // 2

        def fixed(x):
            return x[None].expand(n, -1, -1)

        q = self.projector(query)[:, None].expand(-1, self.tokens, -1)
        s = self.projector(satellite)[:, None].expand(-1, self.tokens, -1)
        seq = torch.cat(
            [
                fixed(self.prompt[:half]),
                q,
                fixed(self.separators[:1]),
                s,
                fixed(self.prompt[half:]),
                fixed(self.separators[1:]),
            ],
            1,
        )
        return self.head(self.decoder(inputs_embeds=seq).last_hidden_state[:, -1])


def train_recipe(recipe, train, test, sizes, steps, seed, batch=16, lr=1e-3):
    """Train one recipe; returns test (AUC, accuracy at 0.5) and train-subset AUC."""
    from gleam_x_learning import roc_auc

    torch.manual_seed(seed)
    q_tr, s_tr, y_tr = train
    y_tr = torch.as_tensor(y_tr)
    model = Comparator(q_tr.shape[1], sizes)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, lr, total_steps=steps, pct_start=max(0.05, 2.0 / steps)
    )

    def pretext(k):
        i = torch.randint(0, len(pool), (k,))
        hard = torch.rand(k) < 0.5
        j = torch.where(
            hard, near[i, torch.randint(0, near.shape[1], (k,))], torch.randint(0, len(pool), (k,))
        )
        j = torch.where(j == i, (j + 1) % len(pool), j)
        return pool[i], pool[j], (pool[i] * pool[j]).sum(1)

    if recipe == 'pairs+pretext':
        # every training image, and each one's 200 nearest by GLEAM-C's similarity
        pool = F.normalize(torch.cat([q_tr, s_tr]), dim=1)
        sims = pool @ pool.t()
        sims.fill_diagonal_(-2)
        near = sims.topk(min(200, len(pool) - 1), dim=1).indices
        # the label threshold: the median pretext similarity
        threshold = pretext(20000)[2].median()
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(y_tr), (batch,))
        q, s, y = q_tr[idx], s_tr[idx].clone(), y_tr[idx].clone()
        if recipe == 'pairs+easy':
            swap = torch.rand(batch) < 0.3
            s[swap] = s_tr[torch.randint(0, len(y_tr), (int(swap.sum()),))]
            y[swap] = 0
        elif recipe == 'pairs+pretext':
            k = batch // 2
            e1, e2, sim = pretext(k)
            q, s, y = (
                torch.cat([q[k:], e1]),
                torch.cat([s[k:], e2]),
                torch.cat([y[k:], (sim > threshold).long()]),
            )
        loss = F.cross_entropy(model(q, s), y.long())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        p_test = model(test[0], test[1]).softmax(-1)[:, 1].numpy()
        sub = slice(0, min(400, len(y_tr)))
        p_train = model(q_tr[sub], s_tr[sub]).softmax(-1)[:, 1].numpy()
    return dict(
        test_auc=roc_auc(test[2], p_test),
        test_accuracy=float(((p_test >= 0.5).astype(int) == np.asarray(test[2])).mean()),
        train_auc=roc_auc(y_tr[sub].numpy(), p_train),
    )


def main(argv=None):
    from gleam_x_feature_probe import split_features
    from gleam_x_learning import roc_auc
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    parser.add_argument('--steps', type=int, default=3000)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--recipes', nargs='+', default=list(RECIPES), choices=RECIPES)
    args = parser.parse_args(argv)
    cfg, splits = split_features(args.config, args.cfg_options)
    sizes = text_config(cfg.model['model_name_or_path'])
    test = splits['test']
    cosine = F.cosine_similarity(test[0], test[1]).numpy()
    print(f'\n{args.config}: {len(splits["train"][2])} training pairs, {len(test[2])} test pairs')
    print(f'decoder {sizes}; {args.steps} steps, seeds {args.seeds}')
    print('| recipe | test AUC (median, min-max) | test accuracy (median) | train AUC | s/run |')
    print('|---|---|---|---|---|')
    print(
        f'| cosine of the two features (no training) | {roc_auc(test[2], cosine):.3f} | - | - | - |'
    )
    out = {}
    for recipe in args.recipes:
        runs = []
        for seed in args.seeds:
            t0 = time.perf_counter()
            runs.append(train_recipe(recipe, splits['train'], test, sizes, args.steps, seed))
            runs[-1]['seconds'] = time.perf_counter() - t0
        aucs = [r['test_auc'] for r in runs]
        out[recipe] = runs
        print(
            f'| {recipe} | {statistics.median(aucs):.3f} ({min(aucs):.3f}-{max(aucs):.3f}) | '
            f'{100 * statistics.median(r["test_accuracy"] for r in runs):.1f} | '
            f'{statistics.median(r["train_auc"] for r in runs):.3f} | '
            f'{statistics.median(r["seconds"] for r in runs):.0f} |',
            flush=True,
        )
    return out


if __name__ == '__main__':
    main()
