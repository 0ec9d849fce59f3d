"""Does GLEAM-X re-ranking help GLEAM-C? R@1 of retrieval alone vs. retrieval + re-ranking,
per query view, on the built-in world, and the time per query (CPU by default).

Every location's satellite tile is the gallery; each query view (uav, map, panorama,
ground) of every location is a query. Retrieval ranks the gallery by cosine similarity
(GLEAM-C's embeddings); re-ranking scores the top ``--rerank`` tiles with the explainer
(label-only question, no generation: ``verify_tiles``, the code ``localize(rerank=k)``
runs) and re-orders them by ``(1 - w) * cosine + w * (2 * P(match) - 1)``.

    python benchmarks/rerank.py                                  # random GLEAM-C, tiny explainer
    python benchmarks/rerank.py --config configs/gleam_c/phase2.py \\
        --checkpoint work_dirs/phase2/epoch_2.pth --explainer work_dirs/tiny_label/adapter

Without ``--config`` the retriever is a randomly initialised resnet10t: its R@1 is
chance level and the table only measures the machinery and the time. Without
``--checkpoint`` a config keeps its initial weights (e.g. the packaged ImageNet
EfficientNet-Lite0 of ``configs/_base_/models/gleam_c_efficientnet_lite0_pooled.py``:
a zero-shot retriever). ``--explainer``
takes what ``GeoLocalizer(explainer=...)`` takes (a config file, an adapter or model
directory); the default is the offline tiny Qwen2.5-VL, untrained.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def _tensor(image: np.ndarray, size) -> torch.Tensor:
    from gleamkit.apis.query_images import resize_image

    return torch.from_numpy(np.array(resize_image(image, size))).permute(2, 0, 1).contiguous()


def _embed(loc, images, view, batch_size=32):
    out = []
    size = loc.input_size(view)
    for start in range(0, len(images), batch_size):
        chunk = [_tensor(im, size) for im in images[start : start + batch_size]]
        out.append(loc._embed(chunk, [view] * len(chunk), 'query'))
    emb = torch.cat(out)
    return torch.nn.functional.normalize(emb, dim=-1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--num-locations', type=int, default=40)
    p.add_argument('--image-size', type=int, default=64)
    p.add_argument('--views', nargs='+', default=['uav', 'map', 'panorama', 'ground'])
    p.add_argument('--rerank', type=int, default=5, help='tiles verified per query')
    p.add_argument('--fusion-weight', type=float, default=0.5)
    p.add_argument('--language', default='en', choices=('en', 'zh'))
    p.add_argument('--config', help='GLEAM-C config (default: a random resnet10t retriever)')
    p.add_argument('--checkpoint', help='GLEAM-C weights (default: none, random)')
    p.add_argument('--explainer', help='GLEAM-X explainer (default: the tiny offline one)')
    p.add_argument(
        '--explainer-checkpoint', help="the explainer's trained weights (tools/train.py's)"
    )
    p.add_argument(
        '--world-seed',
        type=int,
        default=0,
        help='seed of the benchmark world (another seed than the training world keeps the '
        'places unseen by a trained model)',
    )
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--repeats', type=int, default=1, help='unused (the suite passes it)')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    if args.rerank < 1 or args.num_locations < 2:
        p.error('--rerank must be >= 1 and --num-locations >= 2')
    torch.set_num_threads(args.threads)

    from mmengine.config import Config

    from gleamkit.apis import GeoLocalizer
    from gleamkit.apis.verification import fuse_score, load_explainer, verify_tiles
    from gleamkit.synthetic import SyntheticWorld

    if args.config:
        cfg = Config.fromfile(args.config)
    else:
        cfg = Config(
            dict(
                model=dict(
                    type='CrossViewRetriever',
                    backbone=dict(type='TimmBackbone', model_name='resnet10t', pretrained=False),
                    adapter=dict(type='ViewSpecificNorm'),
                    head=dict(type='EmbeddingHead', embed_dim=64),
                )
            )
        )
    loc = GeoLocalizer(cfg, args.checkpoint, device='cpu', seed=args.seed)
    explainer_spec = args.explainer or dict(
        type='HuggingFaceVLMExplainer', model_name_or_path='gleamkit/tiny-qwen2.5-vl', lora=None
    )
    explainer = load_explainer(explainer_spec, args.explainer_checkpoint)
    world = SyntheticWorld(
        seed=args.world_seed,
        num_locations=args.num_locations,
        num_distractors=0,
        image_size=args.image_size,
    )
    n = args.num_locations
    satellites = [world.render(i, 'satellite') for i in range(n)]
    t0 = time.perf_counter()
    gallery = _embed(loc, satellites, 'satellite')
    gallery_s = time.perf_counter() - t0
    k = min(args.rerank, n)
    rows = []
    for view in args.views:
        queries = [world.render(i, view) for i in range(n)]
        t0 = time.perf_counter()
        emb = _embed(loc, queries, view)
        sims = emb @ gallery.T
        top = torch.topk(sims, k, dim=1)
        retrieval_ms = (time.perf_counter() - t0) / n * 1000
        hits, reranked_hits, ceiling, verify_ms, p_true, p_false = 0, 0, 0, [], [], []
        for i in range(n):
            cand = top.indices[i].tolist()
            scores = top.values[i].tolist()
            hits += cand[0] == i
            ceiling += i in cand
            t0 = time.perf_counter()
            verdicts = verify_tiles(
                explainer,
                queries[i],
                [satellites[j] for j in cand],
                view=view,
                language=args.language,
            )
            verify_ms.append((time.perf_counter() - t0) * 1000)
            fused = [
                fuse_score(s, v['p_match'], args.fusion_weight) for s, v in zip(scores, verdicts)
            ]
            reranked_hits += cand[int(np.argmax(fused))] == i
            for j, v in zip(cand, verdicts):
                (p_true if j == i else p_false).append(v['p_match'])
        rows.append(
            (
                view,
                n,
                100.0 * hits / n,
                100.0 * reranked_hits / n,
                100.0 * ceiling / n,
                statistics.mean(p_true) if p_true else float('nan'),
                statistics.mean(p_false) if p_false else float('nan'),
                retrieval_ms,
                statistics.median(verify_ms),
            )
        )
    print(
        f'# {n} locations, {args.image_size} px, gallery = the {n} satellite tiles '
        f'(embedded in {gallery_s:.2f} s); re-rank top {k}, fusion weight '
        f'{args.fusion_weight}, language {args.language}; {args.threads} torch thread(s)'
    )
    print(
        f'# retriever: {args.config or "resnet10t (random init: chance-level retrieval)"}, '
        f'weights: {args.checkpoint or "none (the config initial weights)"}; '
        f'explainer: {args.explainer or "gleamkit/tiny-qwen2.5-vl, untrained"}'
    )
    print(
        '| view | queries | R@1 retrieval | R@1 rerank | R@K ceiling | mean P(match) true '
        '| mean P(match) other | ms/query retrieval | ms/query verify |'
    )
    print('|' + '---|' * 9)
    for view, count, r1, rr1, ceil, pt, pf, rms, vms in rows:
        print(
            f'| {view} | {count} | {r1:.1f} | {rr1:.1f} | {ceil:.1f} | {pt:.3f} | {pf:.3f} '
            f'| {rms:.1f} | {vms:.1f} |'
        )
    print(f'# chance R@1 = {100.0 / n:.1f}; R@K ceiling = the best any re-ranking of the top {k}')


if __name__ == '__main__':
    main()
