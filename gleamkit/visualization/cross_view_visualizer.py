"""Pictures of GLEAM-C: similarity heat maps, retrieval grids and recall@K curves.

Everything is drawn through mmengine's :class:`~mmengine.visualization.Visualizer`
(``set_image``, ``draw_texts``, ``draw_bboxes``, ``draw_lines``, ``draw_points``) by
:class:`CrossViewVisualizer`, and every picture comes back as an ``H x W x 3`` RGB uint8
array. The functions :func:`similarity_heatmaps`, :func:`retrieval_grid` and
:func:`recall_curves` are what callers (``tools/test.py --show-dir``, the demo) use.
"""

from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from mmengine.visualization import Visualizer

from gleamkit.registry import VISUALIZERS

from .similarity_decomposition import SimilarityExplanation, explain_similarity

__all__ = [
    'CrossViewVisualizer',
    'similarity_heatmaps',
    'retrieval_grid',
    'recall_curves',
    'recall_at_k',
]

#: colours (RGB) of the drawings
TRUE_COLOR = (0, 200, 0)
OTHER_COLOR = (160, 160, 160)
POINT_COLOR = (255, 255, 0)
VIEW_COLORS = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
)


def _as_rgb(image) -> np.ndarray:
    """An ``HxWx3`` uint8 RGB array from a numpy image or a ``3xHxW`` / ``SxCxHxW`` tensor."""
    if hasattr(image, 'detach'):
        image = image.detach().cpu()
        if image.dim() == 4:  # an image set: show its first member
            image = image[0]
        image = image.permute(1, 2, 0).numpy()
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f'expected an HxWx3 image, got an array of shape {image.shape}')
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image[..., :3])


def _members(images) -> list:
    """The photos of an image set (``Sx3xHxW`` tensor or list)."""
    if hasattr(images, 'dim') and images.dim() == 4:
        return list(images.unbind(0))
    return list(images)


def _resize(image: np.ndarray, height: int, width: int, nearest: bool = False) -> np.ndarray:
    import cv2

    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interp)


def _fit(image: np.ndarray, size: int) -> np.ndarray:
    """Scale ``image`` so that its height is ``size`` (panoramas stay 1:2)."""
    h, w = image.shape[:2]
    return _resize(image, size, max(1, int(round(w * size / h))))


def _hstack(panels: Sequence[np.ndarray], gap: int = 6) -> np.ndarray:
    height = max(p.shape[0] for p in panels)
    out = []
    for i, panel in enumerate(panels):
        if panel.shape[0] < height:
            pad = np.full((height - panel.shape[0],) + panel.shape[1:], 255, np.uint8)
            panel = np.concatenate([panel, pad])
        out.append(panel)
        if i < len(panels) - 1:
            out.append(np.full((height, gap, 3), 255, np.uint8))
    return np.concatenate(out, axis=1)


def recall_at_k(first_ranks, max_k: int) -> np.ndarray:
    """``(max_k,)`` recall@K in percent for K = 1..max_k from 0-based first-hit ranks
    (negative: no true match, a miss at every K), as the retrieval metric counts them."""
    from gleamkit.evaluation.metrics.ranking import cmc_hits

    ranks = np.asarray(first_ranks, dtype=np.int64)
    if ranks.size == 0:
        raise ValueError('recall_at_k: no queries (empty first_ranks)')
    return cmc_hits(ranks, range(1, max_k + 1)).mean(axis=0) * 100.0


@VISUALIZERS.register_module()
class CrossViewVisualizer(Visualizer):
    """mmengine ``Visualizer`` that draws GLEAM-C's pictures.

    Args:
        name (str): the instance name (mmengine keeps one per name). Defaults to
            ``'gleamkit_cross_view'``.
        panel_size (int): height in pixels of each image panel (small images are
            scaled up so that labels stay legible). Defaults to 192.
        alpha (float): opacity of a heat map over its image. Defaults to 0.55.
        cmap (str): matplotlib colour map of the heat maps (a diverging one: a position
            can lower the similarity as well as raise it). Defaults to ``'RdBu_r'``.
        **kwargs: passed to :class:`mmengine.visualization.Visualizer`
            (``vis_backends``, ``save_dir``).
    """

    def __init__(
        self,
        name: str = 'gleamkit_cross_view',
        panel_size: int = 192,
        alpha: float = 0.55,
        cmap: str = 'RdBu_r',
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if panel_size < 32:
            raise ValueError(f'CrossViewVisualizer: panel_size={panel_size}, expected >= 32')
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'CrossViewVisualizer: alpha={alpha}, expected in [0, 1]')
        self.panel_size = int(panel_size)
        self.alpha = float(alpha)
        self.cmap = cmap

    # ------------------------------------------------------------------ pieces
    def _panel(self, image: np.ndarray, title: str, outline=None) -> np.ndarray:
        """``image`` under a white strip holding ``title``, optionally outlined."""
        strip = 22
        h, w = image.shape[:2]
        canvas = np.full((h + strip, w, 3), 255, np.uint8)
        canvas[strip:] = image
        self.set_image(canvas)
        if title:
            self.draw_texts(
                title, np.array([3, 3]), colors='black', font_sizes=10, vertical_alignments='top'
            )
        if outline is not None:
            self.draw_bboxes(
                np.array([[2, strip + 2, w - 3, strip + h - 3]]),
                edge_colors=[outline],
                line_widths=4,
                alpha=1.0,
            )
        return self.get_image()

    def _heat(self, image: np.ndarray, grid_map: np.ndarray, limit: float) -> np.ndarray:
        """``grid_map`` scaled to ``image`` (bilinear), coloured in ``[-limit, limit]``."""
        from matplotlib import colormaps

        h, w = image.shape[:2]
        heat = _resize(grid_map.astype(np.float32), h, w)
        colours = colormaps[self.cmap](0.5 + 0.5 * np.clip(heat / limit, -1.0, 1.0))[..., :3]
        blend = (1 - self.alpha) * image.astype(np.float32) + self.alpha * 255.0 * colours
        return np.clip(blend, 0, 255).astype(np.uint8)

    # ---------------------------------------------------------------- pictures
    def draw_similarity_heatmaps(
        self,
        query_img,
        tile_img,
        explanation: SimilarityExplanation,
        point: Optional[Tuple[float, float]] = None,
        titles: Tuple[str, str] = ('query', 'tile'),
        point_member: int = 0,
    ) -> Dict[str, np.ndarray]:
        """The query and the tile, each under its similarity map, and the point map.

        Args:
            query_img: the query (``HxWx3`` uint8 or a ``3xHxW`` tensor; an image set as
                ``Sx3xHxW`` or a list: one panel per photo).
            tile_img: the tile.
            explanation (SimilarityExplanation): from
                :func:`~gleamkit.visualization.similarity_decomposition.explain_similarity`.
            point (tuple, optional): ``(x, y)`` fractions of the query: also draw which
                part of the tile answers that part of the query. Defaults to None.
            titles (tuple): labels of the two images. Defaults to ``('query', 'tile')``.
            point_member (int): the photo of an image set the point is on. Defaults to 0.

        Returns:
            dict: ``query`` (the query's overlay(s)), ``tile``, ``point_map`` (the tile
            under the point's map, or None) and ``figure`` (all side by side), RGB uint8.
        """
        members = explanation.members
        photos = _members(query_img) if members > 1 else [query_img]
        if len(photos) != members:
            raise ValueError(
                f'draw_similarity_heatmaps: {len(photos)} query image(s) for an '
                f'explanation of {members}'
            )
        photos = [_fit(_as_rgb(photo), self.panel_size) for photo in photos]
        tile = _fit(_as_rgb(tile_img), self.panel_size)
        # the score is always the model's own; an approximation concerns the maps
        kind = '' if explanation.exact else ' (approx. maps)'
        maps = explanation.query_map.reshape((members,) + tuple(explanation.query_grid))
        limit = max(float(np.abs(maps).max()), float(np.abs(explanation.tile_map).max()), 1e-12)
        query_panels = []
        for m, (photo, grid_map) in enumerate(zip(photos, maps)):
            title = f'photo {m + 1}/{members}'
            if m == 0:
                photo_no = f' {m + 1}/{members}' if members > 1 else ''
                title = f'{titles[0]}{photo_no}  s={explanation.similarity:.3f}{kind}'
            query_panels.append(self._panel(self._heat(photo, grid_map, limit), title))
        out = dict(
            query=_hstack(query_panels),
            tile=self._panel(self._heat(tile, explanation.tile_map, limit), titles[1]),
            point_map=None,
        )
        panels = query_panels + [out['tile']]
        if point is not None:
            point_map = explanation.point_map(point, point_member)
            share = float(maps[point_member].reshape(-1)[explanation.query_position(point)])
            query = photos[point_member]
            label = f'point ({point[0]:.2f}, {point[1]:.2f})'
            marked = self._panel(
                query, label + (f' photo {point_member + 1}' if members > 1 else '')
            )
            self.set_image(marked)
            h, w = query.shape[:2]
            xy = np.array([[point[0] * (w - 1), 22 + point[1] * (h - 1)]])
            self.draw_points(xy, colors=[POINT_COLOR], sizes=np.array([120]), marker='X')
            marked = self.get_image()
            point_limit = max(float(np.abs(point_map).max()), 1e-12)
            out['point_map'] = self._panel(
                self._heat(tile, point_map, point_limit), f'answers the point: {share:+.3f}'
            )
            panels += [marked, out['point_map']]
        out['figure'] = _hstack(panels)
        return out

    def draw_retrieval_grid(
        self,
        query_img,
        tile_imgs: Sequence,
        scores: Sequence[float],
        is_true: Sequence[bool],
        query_title: str = 'query',
        tile_titles: Optional[Sequence[str]] = None,
    ) -> np.ndarray:
        """The query, then its top-K tiles with their scores; true matches outlined green.

        Args:
            query_img: the query image.
            tile_imgs (sequence): the K tiles, best first.
            scores (sequence of float): their similarities.
            is_true (sequence of bool): which tiles are the query's place.
            query_title (str): the query's label. Defaults to ``'query'``.
            tile_titles (sequence of str, optional): extra text per tile (e.g. its
                location id). Defaults to None.

        Returns:
            ndarray: the grid, RGB uint8.
        """
        if not (len(tile_imgs) == len(scores) == len(is_true)):
            raise ValueError(
                f'draw_retrieval_grid: {len(tile_imgs)} tiles, {len(scores)} scores and '
                f'{len(is_true)} is_true flags; expected one of each per tile'
            )
        panels = [self._panel(_fit(_as_rgb(query_img), self.panel_size), query_title)]
        for k, (tile, score, true) in enumerate(zip(tile_imgs, scores, is_true)):
            extra = f' {tile_titles[k]}' if tile_titles else ''
            title = f'#{k + 1} {float(score):.3f}{extra}' + (' TRUE' if true else '')
            panels.append(
                self._panel(
                    _fit(_as_rgb(tile), self.panel_size),
                    title,
                    outline=TRUE_COLOR if true else OTHER_COLOR,
                )
            )
        return _hstack(panels)

    def draw_recall_curves(
        self,
        curves: Mapping[str, Tuple[Sequence[int], Sequence[float]]],
        title: str = 'recall@K',
        size: Tuple[int, int] = (600, 360),
    ) -> np.ndarray:
        """Recall@K against K, one line per view.

        Args:
            curves (Mapping): ``{view: (ks, recalls in percent)}``.
            title (str): the plot's title. Defaults to ``'recall@K'``.
            size (tuple): ``(width, height)`` of the picture. Defaults to ``(600, 360)``.

        Returns:
            ndarray: the plot, RGB uint8.
        """
        if not curves:
            raise ValueError('draw_recall_curves: no curves (expected {view: (ks, recalls)})')
        width, height = size
        left, right, top, bottom = 48, 150, 28, 36
        plot_w, plot_h = width - left - right, height - top - bottom
        max_k = max(max(ks) for ks, _ in curves.values())
        log_x = max_k > 20

        def x_of(k):
            frac = np.log(k) / np.log(max_k) if log_x else (k - 1) / max(1, max_k - 1)
            return left + frac * plot_w

        def y_of(recall):
            return top + (1.0 - np.asarray(recall, float) / 100.0) * plot_h

        self.set_image(np.full((height, width, 3), 255, np.uint8))
        self.draw_texts(title, np.array([left, 6]), colors='black', font_sizes=11)
        grey = (200, 200, 200)
        for recall in (0, 25, 50, 75, 100):
            y = float(y_of(recall))
            self.draw_lines(np.array([left, left + plot_w]), np.array([y, y]), colors=[grey])
            self.draw_texts(
                f'{recall}', np.array([left - 6, y]), colors='black', font_sizes=8,
                horizontal_alignments='right', vertical_alignments='center',
            )  # fmt: skip
        ticks = sorted({1, max_k} | {k for k in (5, 10, 20, 50, 100, 500, 1000) if k < max_k})
        for k in ticks:
            x = float(x_of(k))
            self.draw_lines(np.array([x, x]), np.array([top, top + plot_h]), colors=[grey])
            self.draw_texts(
                f'{k}', np.array([x, top + plot_h + 4]), colors='black', font_sizes=8,
                horizontal_alignments='center',
            )  # fmt: skip
        self.draw_texts(
            'K' + (' (log)' if log_x else ''),
            np.array([left + plot_w / 2, height - 14]),
            colors='black',
            font_sizes=9,
            horizontal_alignments='center',
        )
        for i, (view, (ks, recalls)) in enumerate(curves.items()):
            colour = VIEW_COLORS[i % len(VIEW_COLORS)]
            xs = np.array([x_of(k) for k in ks], float)
            ys = y_of(recalls)
            if len(xs) > 1:  # one segment per step: (N - 1, 2) start / end coordinates
                self.draw_lines(
                    np.stack([xs[:-1], xs[1:]], 1),
                    np.stack([ys[:-1], ys[1:]], 1),
                    colors=[colour],
                    line_widths=2,
                )
            self.draw_points(np.stack([xs, ys], 1), colors=[colour], sizes=np.array([12]))
            self.draw_texts(
                f'{view} R@1 {recalls[0]:.1f}' if ks[0] == 1 else view,
                np.array([left + plot_w + 8, top + 16 * i]),
                colors=[colour],
                font_sizes=9,
            )
        return self.get_image()


def _visualizer(visualizer: Optional[CrossViewVisualizer]) -> CrossViewVisualizer:
    if visualizer is not None:
        return visualizer
    if CrossViewVisualizer.check_instance_created('gleamkit_cross_view'):
        return CrossViewVisualizer.get_instance('gleamkit_cross_view')
    return CrossViewVisualizer(name='gleamkit_cross_view')


def similarity_heatmaps(
    model,
    query_img,
    tile_img,
    query_view: str,
    point: Optional[Tuple[float, float]] = None,
    tile_view: str = 'satellite',
    visualizer: Optional[CrossViewVisualizer] = None,
) -> dict:
    """Why the model scores ``tile_img`` as it does for ``query_img``: heat maps of the
    similarity over both images and, for a ``point`` of the query, over the tile.

    Args:
        model (CrossViewRetriever): the GLEAM-C model.
        query_img: ``HxWx3`` RGB uint8 array or ``3xHxW`` tensor, sized as the model's
            test pipeline sizes ``query_view``; or an image set (``Sx3xHxW`` / a list).
        tile_img: the tile, likewise.
        query_view (str): the query's view (``'uav'``, ``'map'``, ...).
        point (tuple, optional): ``(x, y)`` fractions of the query's width and height.
            Defaults to None (no point map).
        tile_view (str): the tile's view. Defaults to ``'satellite'``.
        visualizer (CrossViewVisualizer, optional): draws the pictures. Defaults to
            None (a shared default instance).

    Returns:
        dict: ``query``, ``tile``, ``point_map`` (None without ``point``), ``figure``
        (RGB uint8 arrays), ``similarity`` (the model's own score, float) and
        ``explanation`` (the :class:`SimilarityExplanation` with the numbers).
    """
    explanation = explain_similarity(model, query_img, tile_img, query_view, tile_view)
    out = _visualizer(visualizer).draw_similarity_heatmaps(
        query_img, tile_img, explanation, point=point, titles=(query_view, tile_view)
    )
    out.update(similarity=explanation.similarity, explanation=explanation)
    return out


def retrieval_grid(
    query_img,
    tile_imgs: Sequence,
    scores: Sequence[float],
    is_true: Sequence[bool],
    query_title: str = 'query',
    tile_titles: Optional[Sequence[str]] = None,
    visualizer: Optional[CrossViewVisualizer] = None,
) -> np.ndarray:
    """A query and its top-K tiles with scores, the true one(s) outlined (RGB uint8).
    Arguments as :meth:`CrossViewVisualizer.draw_retrieval_grid`."""
    return _visualizer(visualizer).draw_retrieval_grid(
        query_img, tile_imgs, scores, is_true, query_title, tile_titles
    )


def recall_curves(
    results: Mapping,
    max_k: int = 20,
    title: str = 'recall@K per view',
    visualizer: Optional[CrossViewVisualizer] = None,
) -> np.ndarray:
    """Recall@K curves per view (RGB uint8).

    Args:
        results (Mapping): either ``{view: first-hit ranks}`` (0-based, one per query,
            negative for no match; a full curve K = 1..``max_k``) or the retrieval
            metric's output dict (``{'uav/R@1': 40.0, 'uav/R@5': ..., 'R@1': ...}``, with
            or without a ``retrieval/`` prefix; its points, one line per view, the
            overall keys as ``'all'``).
        max_k (int): the largest K of a full curve. Defaults to 20.
        title (str): the title. Defaults to ``'recall@K per view'``.
        visualizer (CrossViewVisualizer, optional): Defaults to None (shared instance).

    Returns:
        ndarray: the plot.
    """
    curves = {}
    if results and all(not np.isscalar(v) for v in results.values()):
        ks = list(range(1, max_k + 1))
        for view, ranks in results.items():
            curves[view] = (ks, list(recall_at_k(ranks, max_k)))
    else:
        points: Dict[str, Dict[int, float]] = {}
        for key, value in results.items():
            parts = str(key).split('/')
            if not parts[-1].startswith('R@') or parts[-1] == 'R@1%':
                continue
            k = int(parts[-1][2:])
            view = parts[-2] if len(parts) > 1 and parts[-2] != 'retrieval' else 'all'
            points.setdefault(view, {})[k] = float(value)
        if not points:
            raise ValueError(
                f'recall_curves: no R@K keys in the metrics {sorted(results)[:8]}; pass '
                "the retrieval metric's output or {view: first-hit ranks}"
            )
        for view, by_k in points.items():
            ks = sorted(by_k)
            curves[view] = (ks, [by_k[k] for k in ks])
    return _visualizer(visualizer).draw_recall_curves(curves, title=title)
