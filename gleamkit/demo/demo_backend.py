"""What the web demo computes, without any web framework: a query in, everything the page
shows out (:class:`DemoAnswer`). The gradio page (:mod:`gleamkit.demo.demo_app`) only wires
these calls to widgets, so they are tested without a browser."""

import math
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from gleamkit.apis.verification import load_explainer

__all__ = [
    'DemoBackend',
    'DemoAnswer',
    'DemoInputError',
    'read_upload',
    'check_explanations',
    'load_explainer',
]

#: Uploads larger than this are refused before decoding (a decompression bomb guard too).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
LANGUAGES = {'en': 'English', 'zh': '中文'}


class DemoInputError(ValueError):
    """A query the demo cannot answer; its message is shown on the page as it is."""


@dataclass
class DemoAnswer:
    """Everything the page shows for one query.

    Attributes:
        status: Markdown: ``**Error:** ...`` when nothing could be answered, else a
            summary; problems that left part of the answer out are listed as notes.
        ok: whether retrieval ran (the tiles, map and table are filled).
        query_image: the query as the model saw it before resizing (H x W x 3 uint8).
        map_image: the region map with the top-K footprints (None when it could not be
            drawn; a note says why).
        tiles: ``(pixels, caption)`` of the top-K tiles, best first.
        table: rows ``[rank, tile id, score, lat, lon]`` (plus GLEAM-X columns when asked).
        verdict: Markdown: the GLEAM-X verdict, P(match) and explanation.
        heatmaps: ``(picture, caption)`` of the similarity heat maps.
        notes: the problems behind a partial answer, in words.
        result: the :class:`gleamkit.apis.LocalizationResult` (None on error).
        explanations: the checked explainer result dicts of the explained tiles.
    """

    status: str = ''
    ok: bool = False
    query_image: Optional[np.ndarray] = None
    map_image: Optional[np.ndarray] = None
    tiles: List[Tuple[np.ndarray, str]] = field(default_factory=list)
    table: List[list] = field(default_factory=list)
    verdict: str = ''
    heatmaps: List[Tuple[np.ndarray, str]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    result: Any = None
    explanations: List[dict] = field(default_factory=list)


def read_upload(path: Optional[str], max_bytes: int = MAX_UPLOAD_BYTES) -> np.ndarray:
    """The uploaded file as an ``H x W x 3`` uint8 array, or :class:`DemoInputError`
    saying what is wrong with it (nothing uploaded, empty, too large, not an image)."""
    from PIL import Image, UnidentifiedImageError

    if path is None or (isinstance(path, str) and not path.strip()):
        raise DemoInputError(
            'No image uploaded: choose a PNG/JPEG/TIFF file (or pick a place of the '
            'built-in world) and press the button again.'
        )
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise DemoInputError(f'The upload {name} did not arrive (no such file); upload it again.')
    size = os.path.getsize(path)
    if size == 0:
        raise DemoInputError(f'The upload {name} is empty (0 bytes): it is not an image.')
    if size > max_bytes:
        raise DemoInputError(
            f'The upload {name} is {size / 2**20:.1f} MiB; the demo takes images up to '
            f'{max_bytes / 2**20:.0f} MiB.'
        )
    try:
        with Image.open(path) as img:
            img.load()
            array = np.asarray(img.convert('RGB'))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise DemoInputError(
            f'The upload {name} is not an image that can be read ({type(err).__name__}: '
            f'{err}). Upload a PNG, JPEG or TIFF file.'
        ) from None
    if array.ndim != 3 or min(array.shape[:2]) < 1:
        raise DemoInputError(f'The upload {name} has no pixels (shape {array.shape}).')
    return array


def _finite_probability(value) -> Optional[float]:
    try:
        p = float(value)
    except (TypeError, ValueError):
        return None
    return p if math.isfinite(p) and 0.0 <= p <= 1.0 else None


def check_explanations(results, count: int) -> List[dict]:
    """Check what an explainer's ``explain_batch`` returned for ``count`` pairs.

    Returns one dict per pair with ``text`` (str or None), ``label`` (1 / 0 / -1),
    ``p_match`` (float in [0, 1] or None) and ``error`` (str or None).

    Raises:
        ValueError: the answer as a whole is unusable (not a list of ``count``
            dicts), naming what came back.
    """
    if not isinstance(results, (list, tuple)) or len(results) != count:
        got = (
            f'{type(results).__name__} of length {len(results)}'
            if isinstance(results, (list, tuple))
            else repr(results)[:120]
        )
        raise ValueError(f'expected a list of {count} result dicts, got {got}')
    checked = []
    for i, item in enumerate(results):
        if not isinstance(item, dict):
            raise ValueError(f'result {i} is {type(item).__name__} {repr(item)[:80]}, not a dict')
        text = item.get('text')
        error = item.get('error')
        if text is not None and not isinstance(text, str):
            error = f'its text is {type(text).__name__}, not a string'
            text = None
        label = item.get('label', -1)
        if label not in (-1, 0, 1) or isinstance(label, bool):
            error = error or f'its label is {label!r}, expected 1, 0 or -1'
            label = -1
        p_match = None
        if item.get('p_match') is not None:
            p_match = _finite_probability(item['p_match'])
            if p_match is None:
                error = error or f'its p_match is {item["p_match"]!r}, not a probability'
        scored = item.get('scored_label')
        checked.append(
            dict(
                text=text,
                label=int(label),
                p_match=p_match,
                scored_label=int(scored) if scored in (0, 1) and p_match is not None else None,
                error=None if error is None else str(error),
            )
        )
    return checked


def _call_with_timeout(fn: Callable, timeout_s: Optional[float]):
    """``(value, thread)``: ``fn()`` run in a daemon thread; ``TimeoutError`` when it has
    not returned in time. The thread is abandoned then (Python cannot stop it) and
    returned on the exception as ``err.thread`` so the caller can wait for it to end."""
    box: Dict[str, Any] = {}

    def run():
        try:
            box['value'] = fn()
        except BaseException as err:  # re-raised in the caller's thread
            box['error'] = err

    worker = threading.Thread(target=run, name='gleamkit-demo-explainer', daemon=True)
    worker.start()
    worker.join(timeout_s if timeout_s and timeout_s > 0 else None)
    if worker.is_alive():
        err = TimeoutError(f'no answer within {timeout_s:g} s')
        err.thread = worker
        raise err
    if 'error' in box:
        raise box['error']
    return box['value']


class DemoBackend:
    """The demo's model side: retrieval (:class:`gleamkit.apis.GeoLocalizer` with a loaded
    gallery), GLEAM-X verification (any explainer with ``explain_batch``), the region
    map and, when :mod:`gleamkit.visualization` provides it, the similarity heat map.

    Args:
        localizer: a :class:`GeoLocalizer` whose gallery is loaded.
        explainer: a GLEAM-X explainer (``explain_batch(pairs)`` of
            ``(query_img, tile_img, prompt, lang)``). Defaults to None (no verdicts).
        explain_timeout_s: seconds the explainer may take per query before the page
            shows the retrieval without a verdict. Defaults to 120.
        answer_mode: the prompt the explainer was trained with, ``'explanation'`` or
            ``'label'``. Defaults to ``'explanation'``.
        explain_top: how many of the top tiles GLEAM-X checks. Defaults to 1.
        world: the built-in :class:`SyntheticWorld` whose places can be picked as
            queries. Defaults to None: read from the gallery raster's
            ``gleamkit_world`` tag when it has one.
        max_upload_bytes: the largest upload accepted. Defaults to 50 MiB.
    """

    def __init__(
        self,
        localizer,
        explainer=None,
        explain_timeout_s: float = 120.0,
        answer_mode: str = 'explanation',
        explain_top: int = 1,
        world=None,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
    ):
        if getattr(localizer, 'gallery', None) is None:
            raise ValueError('DemoBackend needs a GeoLocalizer with a loaded gallery')
        if explainer is not None and not callable(getattr(explainer, 'explain_batch', None)):
            raise TypeError(
                f'explainer {type(explainer).__name__} has no explain_batch(pairs); give a '
                'GLEAM-X explainer (HuggingFaceVLMExplainer, OpenAICompatibleExplainer)'
            )
        if answer_mode not in ('explanation', 'label'):
            raise ValueError(f"answer_mode={answer_mode!r}: expected 'explanation' or 'label'")
        self.localizer = localizer
        self.explainer = explainer
        self.explain_timeout_s = explain_timeout_s
        self.answer_mode = answer_mode
        self.explain_top = max(1, int(explain_top))
        self.max_upload_bytes = max_upload_bytes
        self.lock = threading.Lock()  # one query at a time through the model
        self.georeference_problem = self._check_georeferenced()
        self.raster = self._raster_path()
        self.world = world if world is not None else self._world_from_raster()
        self._background = None
        self._dataset = None
        self._dataset_error: Optional[str] = None
        self._late_explainer: Optional[threading.Thread] = None  # a call that timed out

    # ------------------------------------------------------------------ setup
    @classmethod
    def from_gallery(
        cls,
        gallery: str,
        config: Optional[str] = None,
        checkpoint: Optional[str] = None,
        device: str = 'auto',
        explainer=None,
        explainer_checkpoint: Optional[str] = None,
        **kwargs,
    ) -> 'DemoBackend':
        """A backend for a gallery written by ``tools/localize.py build``: the GLEAM-C
        config and checkpoint are the ones recorded in its ``gallery.json`` unless
        given; ``explainer`` is a GLEAM-X config file (or a built explainer) and
        ``explainer_checkpoint`` its trained weights."""
        import json

        from gleamkit.apis import GeoLocalizer
        from gleamkit.apis.geo_localizer import GALLERY_INFO, NO_CHECKPOINT

        info_path = os.path.join(gallery, GALLERY_INFO)
        if not os.path.isfile(info_path):
            raise FileNotFoundError(
                f'{gallery} is not a gallery ({GALLERY_INFO} not found): build one with '
                '`python tools/localize.py build --source region.tif --out GALLERY ...`'
            )
        with open(info_path, encoding='utf-8') as f:
            info = json.load(f)
        model = info.get('model') or {}
        config = config or model.get('config')
        if not config:
            raise ValueError(f'{info_path} records no config; give --config')
        if checkpoint is None and model.get('checkpoint_digest') != NO_CHECKPOINT:
            checkpoint = model.get('checkpoint')
        if checkpoint == 'none':
            checkpoint = None
        loc = GeoLocalizer(
            config, checkpoint, device=device, input_sizes=info.get('input_sizes') or None
        )
        loc.load_gallery(gallery)
        if isinstance(explainer, (str, os.PathLike)):
            explainer = load_explainer(explainer, explainer_checkpoint, device=loc.device)
        return cls(loc, explainer=explainer, **kwargs)

    def _check_georeferenced(self) -> Optional[str]:
        columns = self.localizer.gallery.metadata.columns
        missing = [c for c in ('lat', 'lon') if c not in columns]
        if missing:
            return (
                f'the gallery {self.localizer.gallery_dir} is not georeferenced: its tiles '
                f'have no {"/".join(missing)}. Build it from a georeferenced source '
                '(a GeoTIFF with a CRS, a slippy-map folder or a tile list with lat/lon; '
                'docs/gallery_sources.md)'
            )
        bad = ~(np.isfinite(np.asarray(columns['lat'], float)))
        bad |= ~(np.isfinite(np.asarray(columns['lon'], float)))
        if bad.any():
            return (
                f'the gallery {self.localizer.gallery_dir} is not georeferenced: '
                f'{int(bad.sum())} of {len(bad)} tiles have no finite lat/lon'
            )
        return None

    def _raster_path(self) -> Optional[str]:
        raster = (self.localizer.gallery_info or {}).get('raster')
        return raster if raster and os.path.isfile(raster) else None

    def _world_from_raster(self):
        """The built-in world the gallery raster was exported from (its tag), or None."""
        if self.raster is None:
            return None
        try:
            import json

            import rasterio

            from gleamkit.synthetic import SyntheticWorld

            with rasterio.open(self.raster) as src:
                tag = src.tags().get('gleamkit_world')
            return SyntheticWorld(**json.loads(tag)) if tag else None
        except Exception:  # a foreign raster: no built-in places to offer
            return None

    # ------------------------------------------------------------------ built-in world
    def builtin_places(self) -> List[int]:
        """Ids of the built-in world's places that have query views (no distractors)."""
        if self.world is None:
            return []
        return [p.location_id for p in self.world.locations if not p.is_distractor]

    def render_builtin(self, place, view: str = 'uav'):
        """``(image, (lat, lon))`` of a built-in place seen from ``view``."""
        if self.world is None:
            raise DemoInputError(
                'This gallery was not built from the built-in world, so there are no '
                'built-in places to pick: upload an image instead.'
            )
        try:
            place = int(place)
        except (TypeError, ValueError):
            raise DemoInputError(f'Pick a place of the built-in world (got {place!r}).') from None
        if place not in set(self.builtin_places()):
            raise DemoInputError(
                f'Place {place} is not a query place of the built-in world; pick one of '
                f'{self.builtin_places()[:5]}...'
            )
        loc = self.world.locations[place]
        return self.world.render(place, view), (float(loc.lat), float(loc.lon))

    # ------------------------------------------------------------------ answering
    def answer_upload(self, path, view='uav', topk=5, lang='en', explain=True) -> DemoAnswer:
        """Localise an uploaded file (see :meth:`answer`)."""
        try:
            image = read_upload(path, self.max_upload_bytes)
        except DemoInputError as err:
            return DemoAnswer(status=f'**Error:** {err}')
        return self.answer(image, view, topk, lang, explain, name=os.path.basename(str(path)))

    def answer_builtin(self, place, view='uav', topk=5, lang='en', explain=True) -> DemoAnswer:
        """Localise a built-in place seen from ``view``, with its true position."""
        try:
            image, truth = self.render_builtin(place, view)
        except DemoInputError as err:
            return DemoAnswer(status=f'**Error:** {err}')
        return self.answer(image, view, topk, lang, explain, truth=truth, name=f'place {place}')

    def answer(
        self,
        image: np.ndarray,
        view: str = 'uav',
        topk: int = 5,
        lang: str = 'en',
        explain: bool = True,
        truth: Optional[Tuple[float, float]] = None,
        name: str = 'query',
    ) -> DemoAnswer:
        """Retrieve the top-``topk`` tiles for ``image``, draw them on the region map,
        and (``explain``) ask GLEAM-X about the best ones in ``lang``. Never raises for
        a bad query: the returned :class:`DemoAnswer` says what went wrong."""
        from gleamkit.structures.vocabulary import QUERY_VIEWS

        answer = DemoAnswer(query_image=image)
        if view not in QUERY_VIEWS:
            answer.status = f'**Error:** unknown view {view!r}; expected one of {QUERY_VIEWS}.'
            return answer
        if lang not in LANGUAGES:
            answer.status = (
                f'**Error:** unknown language {lang!r}; expected one of {list(LANGUAGES)}.'
            )
            return answer
        if self.georeference_problem is not None:
            answer.status = (
                f'**Error:** {self.georeference_problem}. Tiles cannot be placed on a map.'
            )
            return answer
        topk = max(1, min(int(topk), len(self.localizer.gallery)))
        with self.lock:
            try:
                result = self.localizer.localize(image, view=view, topk=topk, true_latlon=truth)
            except Exception as err:  # the page must keep serving
                answer.status = f'**Error:** retrieval failed ({type(err).__name__}: {err}).'
                return answer
            answer.result, answer.ok = result, True
            tiles = self._tile_pixels(result.tiles, answer.notes)
            answer.tiles = [
                (px, f'#{t.rank} {t.tile_id}  score {t.score:.3f}')
                for t, px in zip(result.tiles, tiles)
                if px is not None
            ]
            answer.table = [
                [t.rank, t.tile_id, round(t.score, 4), round(t.lat, 6), round(t.lon, 6)]
                for t in result.tiles
            ]
            answer.map_image = self._draw_map(result, answer.notes)
            answer.heatmaps = self._heatmaps(image, view, result.tiles, tiles, answer.notes)
            if explain:
                self._explain(answer, image, view, lang, tiles)
            elif self.explainer is not None:
                answer.verdict = 'GLEAM-X verification is switched off for this query.'
            else:
                answer.verdict = 'No GLEAM-X explainer loaded (start the demo with --explainer).'
        answer.status = self._summary(name, result, answer.notes)
        return answer

    # ------------------------------------------------------------------ parts
    def _tile_pixels(self, tiles, notes: List[str]) -> List[Optional[np.ndarray]]:
        if self._dataset is None and self._dataset_error is None:
            try:
                self._dataset = self.localizer.gallery_dataset()
                if self._dataset is None:
                    self._dataset_error = 'the gallery records no dataset to read tiles from'
            except Exception as err:
                self._dataset_error = f'{type(err).__name__}: {err}'
        if self._dataset is None:
            notes.append(f'Tile pictures unavailable ({self._dataset_error}).')
            return [None] * len(tiles)
        pixels = []
        for t in tiles:
            try:
                tensor = self._dataset[t.index]['inputs']['reference']
                pixels.append(np.ascontiguousarray(tensor.permute(1, 2, 0).numpy()))
            except Exception as err:
                notes.append(f'Tile {t.tile_id} could not be read ({err}).')
                pixels.append(None)
        return pixels

    def _draw_map(self, result, notes: List[str]) -> Optional[np.ndarray]:
        from gleamkit.visualization import raster_thumbnail_wgs84

        from .region_map import draw_region_map

        if self._background is None and self.raster is not None:
            self._background = raster_thumbnail_wgs84(self.raster, max_px=768) or False
        background = self._background or None
        if background is None:
            notes.append(
                'The region image could not be read '
                f'({self.raster or "the gallery records no raster"}); the map shows tile '
                'outlines only.'
            )
        meta = self.localizer.gallery.metadata.columns
        centres = np.stack([np.asarray(meta['lat'], float), np.asarray(meta['lon'], float)], 1)
        try:
            return draw_region_map(result, background=background, gallery_centres=centres)
        except Exception as err:
            notes.append(f'The map could not be drawn ({type(err).__name__}: {err}).')
            return None

    def _heatmaps(self, image, view, tiles, pixels, notes) -> List[Tuple[np.ndarray, str]]:
        from gleamkit.visualization import similarity_heatmaps

        if not tiles or pixels[0] is None:
            return []
        try:
            # the query as the model saw it: the decomposition sums to the ranking score
            from gleamkit.apis.query_images import resize_image

            seen = resize_image(image, self.localizer.input_size(view))
            out = similarity_heatmaps(self.localizer.model, seen, pixels[0], view)
            pictures = []
            sim = out.get('similarity')
            suffix = '' if sim is None else f' (similarity {float(sim):.3f})'
            for key, caption in (('query', 'query'), ('tile', f'tile {tiles[0].tile_id}')):
                if out.get(key) is not None:
                    pictures.append((np.asarray(out[key]), f'{caption}{suffix}'))
            return pictures
        except Exception as err:
            notes.append(f'The heat map could not be computed ({type(err).__name__}: {err}).')
            return []

    def prompt(self, view: str, lang: str) -> str:
        """The GLEAM-X prompt for a query of ``view`` in ``lang`` (the training prompt)."""
        from gleamkit.datasets.gleam_x import build_prompt

        return build_prompt(view, lang, answer_mode=self.answer_mode)

    def _explain(self, answer: DemoAnswer, image, view, lang, pixels) -> None:
        if self.explainer is None:
            answer.verdict = 'No GLEAM-X explainer loaded (start the demo with --explainer).'
            return
        tiles = answer.result.tiles[: self.explain_top]
        pairs = [
            (image, px, self.prompt(view, lang), lang)
            for px in pixels[: len(tiles)]
            if px is not None
        ]
        if len(pairs) < len(tiles):
            answer.verdict = 'GLEAM-X was not asked: the tile pictures could not be read.'
            return
        if self._late_explainer is not None and self._late_explainer.is_alive():
            # do not pile calls onto an explainer (or endpoint) that is stuck
            answer.verdict = (
                '**GLEAM-X is still busy** with an earlier query that timed out; the '
                'retrieval above stands without a verdict. Try again later.'
            )
            answer.notes.append('GLEAM-X is still busy with an earlier query.')
            return
        try:
            raw = _call_with_timeout(
                lambda: self.explainer.explain_batch(pairs), self.explain_timeout_s
            )
            checked = check_explanations(raw, len(pairs))
        except TimeoutError as err:
            self._late_explainer = getattr(err, 'thread', None)
            answer.verdict = (
                f'**GLEAM-X did not answer** ({err}); the retrieval above stands without a verdict.'
            )
            answer.notes.append(f'GLEAM-X timed out ({err}).')
            return
        except Exception as err:
            answer.verdict = (
                f'**GLEAM-X returned no usable answer** ({type(err).__name__}: {err}); the '
                'retrieval above stands without a verdict.'
            )
            answer.notes.append(f'GLEAM-X failed ({type(err).__name__}).')
            return
        answer.explanations = checked
        lines = []
        for i, (tile, item) in enumerate(zip(tiles, checked)):
            lines.append(_verdict_markdown(tile, item, lang))
            answer.table[i] += [_verdict_word(item), _p_text(item['p_match'])]
        for row in answer.table[len(tiles) :]:
            row += ['', '']
        answer.verdict = '\n\n'.join(lines)

    @staticmethod
    def _summary(name: str, result, notes: Sequence[str]) -> str:
        top = result.tiles[0]
        text = (
            f'**{name}** [{result.view}]: top-1 tile **{top.tile_id}** (score '
            f'{top.score:.3f}); estimate {result.lat:.6f}, {result.lon:.6f} '
            f'± {result.radius_m:.0f} m'
        )
        if result.error_m is not None:
            text += f'; true position {result.error_m:.0f} m away'
        if notes:
            text += '\n\n' + '\n'.join(f'- Note: {n}' for n in notes)
        return text


VERDICT_WORDS = {
    'en': {1: 'match', 0: 'no match', -1: 'no verdict'},
    'zh': {1: '同一地点', 0: '不是同一地点', -1: '无结论'},
}


def _verdict_label(item: dict) -> int:
    """The verdict: the scored one (from P(match)) when there is one, else the parsed text."""
    return item['scored_label'] if item.get('scored_label') is not None else item['label']


def _verdict_word(item: dict) -> str:
    return VERDICT_WORDS['en'][_verdict_label(item)]


def _p_text(p: Optional[float]) -> str:
    return '' if p is None else f'{p:.3f}'


def _verdict_markdown(tile, item: dict, lang: str) -> str:
    label = _verdict_label(item)
    word = VERDICT_WORDS['en'][label]
    if lang != 'en':
        word += f' ({VERDICT_WORDS[lang][label]})'
    head = f'**GLEAM-X verdict for #{tile.rank} {tile.tile_id}: {word}**'
    if item['p_match'] is not None:
        head += f', P(match) = {item["p_match"]:.3f}'
    parts = [head]
    if label == -1:
        parts.append('(no verdict could be read from the explanation)')
    if item['error']:
        parts.append(f'Problem: {item["error"]}')
    if item['text']:
        # an untrained model writes control bytes too; show them as replacement marks
        text = re.sub(r'[\x00-\x08\x0b-\x1f\x7f]', '\ufffd', item['text'].strip())
        parts.append(f'Explanation ({LANGUAGES[lang]}): {text}')
    return '\n\n'.join(parts)
