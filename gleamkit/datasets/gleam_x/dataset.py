"""GLEAM-X records as chat-formatted training / evaluation samples."""

import logging
import os
import os.path as osp
from typing import List, Mapping, Optional, Sequence

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from gleamkit.registry import DATASETS

from .format import read_jsonl, resolve_path
from .prompts import ANSWER_MODES, LANGS, build_prompt, label_answer, resolve_prompts

__all__ = ['GleamXDataset']

LANG_CHOICES = LANGS + ('both',)
CHECK_IMAGES = ('exist', 'decode', 'lazy')


def _image_problem(path: str, decode: bool) -> str:
    """Why ``path`` cannot be read as an image ('' when it can)."""
    if not osp.exists(path):
        return 'no such file'
    if not osp.isfile(path):
        return 'not a file'
    if not os.access(path, os.R_OK):
        return 'not readable (permissions)'
    if decode:
        from PIL import Image

        try:
            with Image.open(path) as img:
                img.verify()
        except Exception as err:  # PIL raises many types for a broken file
            return f'not a readable image ({type(err).__name__}: {err})'
    return ''


def check_record_images(records, base_dir: str, ann_file: str, decode: bool = False) -> None:
    """Raise ``FileNotFoundError`` listing every record image that cannot be read.

    The message names the JSONL file, the line, the key and both the written and
    the resolved path of each bad image (the first 10, and how many in all).
    """
    bad, total, seen = [], 0, {}
    for rec in records:
        for key in ('query_image', 'satellite_image'):
            path = resolve_path(getattr(rec, key), base_dir)
            total += 1
            if path not in seen:
                seen[path] = _image_problem(path, decode)
            if seen[path]:
                bad.append(
                    f'{ann_file}:{rec.line}: {key} {getattr(rec, key)!r} -> {path} ({seen[path]})'
                )
    if bad:
        more = f'\n  ... and {len(bad) - 10} more' if len(bad) > 10 else ''
        raise FileNotFoundError(
            f'GleamXDataset: {len(bad)} of the {total} images referenced by {ann_file} cannot be '
            "read (image paths are relative to the JSONL file's folder):\n  "
            + '\n  '.join(bad[:10])
            + more
            + '\nFix the paths or the files, or pass '
            "check_images='lazy' to read images only when a sample is loaded."
        )


@DATASETS.register_module()
class GleamXDataset(BaseDataset):
    """(query, satellite) pairs with a prompt and a target answer, in English
    and/or Chinese, from a GLEAM-X JSONL file (``docs/gleam_x_data.md``).

    Each data info holds ``id, query_path, satellite_path, view, lang, label``
    (1 match / 0 no match), ``reference`` (the explanation in ``lang``; ``''``
    in label mode when the record has none), ``source``, ``prompt`` and
    ``answer``; the pipeline (``LoadExplanationImages``,
    ``PackExplanationInputs``) turns it into
    ``dict(inputs=dict(images, prompt, answer), data_samples=ExplanationDataSample)``.

    Args:
        ann_file (str): the JSONL file (relative to ``data_root``). Image paths
            in it are relative to its folder. Defaults to ``''``.
        data_root (str): prefix of ``ann_file``. Defaults to ``''``.
        lang (str): ``'en'``, ``'zh'`` or ``'both'`` (one sample per language a
            record has an explanation in). Records without the language are
            skipped (a warning says how many). Defaults to ``'en'``.
        answer_mode (str): ``'explanation'`` - the answer is the explanation;
            ``'label'`` - the answer is the verdict sentence only (the label-only
            baseline; the record needs no explanation in ``lang`` then).
            Defaults to ``'explanation'``.
        prompts (dict, optional): ``{'en': template, 'zh': template}``
            overriding the defaults of ``gleamkit/datasets/gleam_x/prompts.py``
            for ``answer_mode``; templates may use ``{view}`` and ``{view_id}``.
            Defaults to None.
        views (Sequence[str], optional): keep only these query views. Defaults
            to None (every view).
        check_images (str): when the dataset is built, ``'exist'`` checks that
            every referenced image is a readable file, ``'decode'`` also opens
            each one (slower: reads every header), ``'lazy'`` checks nothing (a
            bad image then fails when its sample is loaded, in the middle of an
            epoch). A failed check lists each bad image with the JSONL file,
            line, key and path. Defaults to ``'exist'``.
        synthetic (dict, optional): build the offline bilingual set from the
            built-in world instead of reading ``ann_file``: keys of
            :func:`gleamkit.synthetic.captions.synthetic_explanations.ensure_synthetic_set`
            (``num_pairs``, ``image_size``, ``seed``, ``world``, ...) plus
            ``split`` (``'train'`` or ``'test'``). Built once and cached.
            Defaults to None.
        cache_dir (str, optional): where the synthetic set is cached. Defaults to
            None (``$GLEAMKIT_CACHE/gleam_x_synthetic`` or
            ``~/.cache/gleamkit/gleam_x_synthetic``).
        pipeline (Sequence[dict]): transforms. Defaults to ``()``.
        **kwargs: other mmengine ``BaseDataset`` arguments.
    """

    METAINFO = dict(name='gleam-x', classes=('no_match', 'match'), reference_view='satellite')

    def __init__(
        self,
        ann_file: str = '',
        data_root: str = '',
        lang: str = 'en',
        answer_mode: str = 'explanation',
        prompts: Optional[Mapping[str, str]] = None,
        views: Optional[Sequence[str]] = None,
        synthetic: Optional[dict] = None,
        cache_dir: Optional[str] = None,
        check_images: str = 'exist',
        pipeline: Sequence = (),
        **kwargs,
    ):
        if lang not in LANG_CHOICES:
            raise ValueError(f'GleamXDataset: lang={lang!r}, expected one of {LANG_CHOICES}')
        if answer_mode not in ANSWER_MODES:
            raise ValueError(
                f'GleamXDataset: answer_mode={answer_mode!r}, expected one of {ANSWER_MODES}'
            )
        if check_images not in CHECK_IMAGES:
            raise ValueError(
                f'GleamXDataset: check_images={check_images!r}, expected one of {CHECK_IMAGES}'
            )
        self.lang, self.answer_mode = lang, answer_mode
        self.check_images = check_images
        self.prompts = resolve_prompts(answer_mode, prompts)  # validates early
        self.views = tuple(views) if views is not None else None
        self.synthetic = dict(synthetic) if synthetic else None
        self.cache_dir = cache_dir
        if self.synthetic is None and not ann_file:
            raise ValueError(
                'GleamXDataset needs ann_file (a GLEAM-X JSONL file) or '
                'synthetic=dict(...) (the offline set built from the built-in world)'
            )
        super().__init__(ann_file=ann_file, data_root=data_root, pipeline=list(pipeline), **kwargs)

    def _synthetic_ann_file(self) -> str:
        from gleamkit.synthetic.captions.synthetic_explanations import ensure_synthetic_set

        cfg = dict(self.synthetic)
        split = cfg.pop('split', 'train')
        if split not in ('train', 'test'):
            raise ValueError(
                f"GleamXDataset: synthetic split={split!r}, expected 'train' or 'test'"
            )
        files = ensure_synthetic_set(cache_dir=self.cache_dir, **cfg)
        return files[split]

    def load_data_list(self) -> List[dict]:
        ann_file = self._synthetic_ann_file() if self.synthetic else self.ann_file
        base_dir = osp.dirname(osp.abspath(ann_file))
        records = read_jsonl(ann_file)
        langs = LANGS if self.lang == 'both' else (self.lang,)
        data_list, skipped, used = [], 0, []
        for rec in records:
            if self.views is not None and rec.query_view not in self.views:
                continue
            available = [lang for lang in langs if rec.explanation.get(lang)]
            if self.answer_mode == 'label' and self.lang != 'both':
                available = list(langs)
            if not available:
                skipped += 1
                continue
            used.append(rec)
            for lang in available:
                reference = rec.explanation.get(lang, '')
                answer = (
                    reference
                    if self.answer_mode == 'explanation'
                    else label_answer(rec.label_id, lang)
                )
                data_list.append(
                    dict(
                        id=rec.id,
                        query_path=resolve_path(rec.query_image, base_dir),
                        satellite_path=resolve_path(rec.satellite_image, base_dir),
                        view=rec.query_view,
                        lang=lang,
                        label=rec.label_id,
                        reference=reference,
                        source=rec.source,
                        prompt=build_prompt(rec.query_view, lang, self.answer_mode, self.prompts),
                        answer=answer,
                    )
                )
        if skipped:
            print_log(
                f'GleamXDataset: skipped {skipped} of {len(records)} records of {ann_file} '
                f'without an explanation in {langs}',
                logger='current',
                level=logging.WARNING,
            )
        if not data_list:
            raise ValueError(
                f'GleamXDataset is empty: {ann_file} has {len(records)} records, '
                f'none with lang={self.lang!r}'
                + (f' and views={list(self.views)}' if self.views else '')
            )
        if self.check_images != 'lazy':
            check_record_images(used, base_dir, ann_file, decode=self.check_images == 'decode')
        return data_list

    def get_field(self, key: str) -> list:
        """One field of every sample (``'label'``, ``'view'``, ``'lang'``, ...)."""
        return [self.get_data_info(i)[key] for i in range(len(self))]
