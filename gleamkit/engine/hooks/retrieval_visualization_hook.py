"""``tools/test.py --show-dir``: pictures of a sample of queries, drawn while they are ranked."""

import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import all_gather_object, get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from gleamkit.registry import HOOKS
from gleamkit.visualization.cross_view_visualizer import CrossViewVisualizer, _as_rgb, recall_at_k
from gleamkit.visualization.similarity_decomposition import explain_similarity

__all__ = ['RetrievalVisualizationHook', 'add_visualization_hook', 'sample_query_indices']


def sample_query_indices(num_queries: int, num: int) -> List[int]:
    """``num`` query indices spread evenly over ``0..num_queries - 1`` (deterministic: the
    same queries every run, every view of a dataset ordered by view)."""
    if num <= 0 or num_queries <= 0:
        return []
    if num >= num_queries:
        return list(range(num_queries))
    return sorted({int(round(i)) for i in np.linspace(0, num_queries - 1, num)})


def _save(image: np.ndarray, path: str) -> str:
    import cv2

    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(image[..., ::-1])):
        raise OSError(f'RetrievalVisualizationHook: could not write {path}')
    return path


@HOOKS.register_module()
class RetrievalVisualizationHook(Hook):
    """Draws GLEAM-C's pictures for a sample of test queries, as they are ranked.

    For each of ``num_queries`` queries of each protocol (spread evenly over its
    dataset, :func:`sample_query_indices`) it writes, under
    ``out_dir/<protocol>/``:

    * ``query<idx>_<view>_grid.png``: the query and its top-``topk`` tiles with their
      scores, the true place outlined green;
    * ``query<idx>_<view>_heatmap_top1.png``: the similarity of the query and its top-1
      tile split over both images, and the point map of the query position that adds
      most (:mod:`~gleamkit.visualization.similarity_decomposition`); when the top-1 is
      wrong, ``..._heatmap_true.png`` does the same for the true tile;

    and once per protocol ``recall_curves.png`` (recall@K per view for K = 1..``max_k``,
    from every query's first-hit rank as the retrieval metric computes it). An image-set
    query (ground photos of one cell) has one heat map per photo, which together sum to
    the set's similarity; its grid shows the first photo.
    ``out_dir/visual_explanations.json`` lists the files and numbers: for every drawn
    query its view, location, top-K ids and scores, the decomposed similarity of the
    heat map and the model's own score; per protocol the curves and the metric's R@K.

    Args:
        out_dir (str): where the pictures go.
        num_queries (int): queries drawn per protocol. Defaults to 8.
        topk (int): tiles in a grid. Defaults to 5.
        max_k (int): the largest K of the recall curves (capped at the gallery size).
            Defaults to 50.
        panel_size (int): height of each image panel in pixels. Defaults to 192.
    """

    priority = 'LOW'

    def __init__(
        self,
        out_dir: str,
        num_queries: int = 8,
        topk: int = 5,
        max_k: int = 50,
        panel_size: int = 192,
    ):
        if not out_dir:
            raise ValueError('RetrievalVisualizationHook: out_dir is empty')
        for key, value in (('num_queries', num_queries), ('topk', topk), ('max_k', max_k)):
            if not isinstance(value, int) or value < (0 if key == 'num_queries' else 1):
                raise ValueError(f'RetrievalVisualizationHook: {key}={value!r}, expected an int')
        self.out_dir = out_dir
        self.num_queries = num_queries
        self.topk = topk
        self.max_k = max_k
        self.visualizer = CrossViewVisualizer(
            name=f'gleamkit_retrieval_hook_{id(self)}', panel_size=panel_size
        )
        self._ranks: Dict[str, List[Tuple[str, int]]] = {}
        self._entries: List[dict] = []
        self._chosen: Dict[str, set] = {}

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _protocol(runner):
        loop = runner.test_loop
        for protocol in getattr(loop, 'protocols', ()):
            if protocol.dataloader is loop.dataloader:
                return protocol
        raise RuntimeError(
            'RetrievalVisualizationHook needs a retrieval test loop: set '
            "test_cfg = dict(type='RetrievalTestLoop', gallery_dataloader=...) "
            f'(got {type(loop).__name__})'
        )

    @staticmethod
    def _retrieval_metric(protocol):
        """The protocol's own retrieval metric (it knows the gallery, so top-K rankings
        from an index reduce as they do in the metric), else a fresh one."""
        # imported here: the metrics package imports the engine's hooks
        from gleamkit.evaluation.metrics.retrieval import CrossViewRetrievalMetric

        for metric in getattr(protocol.evaluator, 'metrics', ()):
            if isinstance(metric, CrossViewRetrievalMetric):
                return metric
        return CrossViewRetrievalMetric()

    @staticmethod
    def _tile(gallery_dataset, index: int):
        item = gallery_dataset[int(index)]
        sample = item['data_samples']
        view = sample.metainfo.get('reference_view') or gallery_dataset.metainfo.get(
            'reference_view', 'satellite'
        )
        return item['inputs']['reference'], view, sample.metainfo.get('location_id')

    # -------------------------------------------------------------------- hooks
    def before_test(self, runner) -> None:
        self._ranks, self._entries, self._chosen = {}, [], {}

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        protocol = self._protocol(runner)
        name = protocol.name or 'test'
        if name not in self._chosen:
            self._chosen[name] = set(
                sample_query_indices(len(protocol.dataloader.dataset), self.num_queries)
            )
        metric = self._retrieval_metric(protocol)
        for i, sample in enumerate(outputs or []):
            # the metric's own reduction: the curves count exactly as R@K does
            summary = metric._reduce(sample.to_dict())
            self._ranks.setdefault(name, []).append((summary['view'], summary['first_rank']))
            idx = sample.metainfo.get('sample_idx')
            if idx in self._chosen[name]:
                query = data_batch['inputs']['query'][i]
                self._entries.append(self._draw_query(runner, protocol, name, sample, query))

    def _draw_query(self, runner, protocol, name: str, sample, query) -> dict:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        gallery = protocol.gallery_dataloader.dataset
        view, idx = sample.view, int(sample.metainfo['sample_idx'])
        location = int(sample.location_id)
        stem = osp.join(self.out_dir, name, f'query{idx:05d}_{view}')
        members = int(query.shape[0]) if query.dim() == 4 else 1
        query_img = _as_rgb(query)  # an image set: its first photo
        indices = [int(j) for j in sample.pred_indices[: self.topk]]
        scores = [float(s) for s in sample.pred_scores[: self.topk]]
        tiles = [self._tile(gallery, j) for j in indices]
        is_true = [tile_loc == location for _, _, tile_loc in tiles]
        title = f'{view} #{idx}' + (f' (photo 1 of {members})' if members > 1 else '')
        grid = self.visualizer.draw_retrieval_grid(
            query_img,
            [img for img, _, _ in tiles],
            scores,
            is_true,
            query_title=title,
            tile_titles=[f'loc {loc}' for _, _, loc in tiles],
        )
        entry = dict(
            protocol=name,
            sample_idx=idx,
            view=view,
            location_id=location,
            set_size=members,
            top_ids=[int(loc) for _, _, loc in tiles],
            top_indices=indices,
            top_scores=scores,
            files=dict(grid=_save(grid, f'{stem}_grid.png')),
        )
        targets = [('top1', indices[0], scores[0])]
        if not is_true[0]:
            matches = np.flatnonzero(np.asarray(model.gallery['location_ids']) == location)
            if matches.size:
                targets.append(('true', int(matches[0]), None))
        with_grad = model.training
        model.eval()
        for label, index, score in targets:
            tile, tile_view, _ = self._tile(gallery, index)
            explanation = explain_similarity(model, query, tile, view, tile_view)
            # the point map of the query position (of any photo of a set) that adds most
            member, top = divmod(
                int(np.argmax(explanation.query_map)), int(np.prod(explanation.query_grid))
            )
            h, w = explanation.query_grid
            point = ((top % w + 0.5) / w, (top // w + 0.5) / h)
            figure = self.visualizer.draw_similarity_heatmaps(
                query,
                tile,
                explanation,
                point=point,
                titles=(view, f'{label} tile'),
                point_member=member,
            )['figure']
            entry['files'][f'heatmap_{label}'] = _save(figure, f'{stem}_heatmap_{label}.png')
            entry[f'heatmap_{label}'] = dict(
                gallery_index=index,
                similarity=explanation.similarity,
                decomposed_similarity=explanation.decomposed_similarity,
                exact=explanation.exact,
                method=explanation.method,
                model_score=score,
                point=list(point),
                point_photo=member,
            )
        model.train(with_grad)
        return entry

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        ranks = _gather_dict(self._ranks)
        entries = [e for part in all_gather_object(self._entries) for e in part]
        if get_rank() != 0:
            return
        summary = dict(queries=sorted(entries, key=lambda e: (e['protocol'], e['sample_idx'])))
        summary['curves'] = {}
        for name, records in ranks.items():
            protocol = next(p for p in runner.test_loop.protocols if (p.name or 'test') == name)
            max_k = max(1, min(self.max_k, len(protocol.gallery_dataloader.dataset)))
            by_view: Dict[str, List[int]] = {}
            for view, rank in records:
                by_view.setdefault(view, []).append(rank)
            curves = {v: list(recall_at_k(r, max_k)) for v, r in sorted(by_view.items())}
            curves['all'] = list(recall_at_k([r for _, r in records], max_k))
            plot = self.visualizer.draw_recall_curves(
                {v: (list(range(1, max_k + 1)), c) for v, c in curves.items()},
                title=f'recall@K per view ({name}, {len(records)} queries)',
            )
            summary['curves'][name] = dict(
                ks=list(range(1, max_k + 1)),
                recall=curves,
                file=_save(plot, osp.join(self.out_dir, name, 'recall_curves.png')),
            )
        summary['metrics'] = {k: float(v) for k, v in (metrics or {}).items() if '@' in k}
        path = osp.join(self.out_dir, 'visual_explanations.json')
        with open(path, 'w') as f:
            json.dump(summary, f, indent=2)
        runner.logger.info(
            f'RetrievalVisualizationHook: {len(entries)} queries and '
            f'{len(summary["curves"])} recall plot(s) written to {self.out_dir}'
        )


def _gather_dict(part: Dict[str, list]) -> Dict[str, list]:
    merged: Dict[str, list] = {}
    for piece in all_gather_object(part):
        for key, values in piece.items():
            merged.setdefault(key, []).extend(values)
    return merged


def add_visualization_hook(
    cfg, out_dir: str, num_queries: int = 8, topk: Optional[int] = None
) -> None:
    """Add :class:`RetrievalVisualizationHook` to ``cfg.custom_hooks`` (``tools/test.py
    --show-dir DIR --show-num N``)."""
    # a registered name, not the class: the Runner dumps the config as text
    hook = dict(
        type='gleamkit.RetrievalVisualizationHook', out_dir=out_dir, num_queries=num_queries
    )
    if topk is not None:
        hook['topk'] = topk
    hooks: Sequence = cfg.get('custom_hooks') or []
    cfg.custom_hooks = list(hooks) + [hook]
