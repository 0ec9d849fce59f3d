"""What every benchmark dataset of gleamkit shares: data root, modes, location ids,
file checks and errors that name the missing file and the expected layout.

Location ids
------------
Every data info carries an int ``location_id``: two images with the same id show
the same place. Ids are *globally unique across gleamkit's dataset classes*: each
class adds its own ``location_offset`` (default: :data:`DEFAULT_LOCATION_OFFSETS`,
spaced by :data:`LOCATION_ID_SPAN` = 10**7) to a dataset-local integer in
``[0, 10**7)``. So a ``ConcatDataset`` of University-1652 and VIGOR never mixes up
two places. Two datasets of the *same* class share an offset on purpose (the
drone and the street queries of University-1652 are the same buildings); fuse two
*different* data roots of one class (two pair lists, say) with distinct
``location_offset`` values, e.g. ``location_offset=110_000_000``.
``tools/misc/check_dataset.py`` reports collisions between fused datasets.
"""

import logging
import os
import os.path as osp
import random
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from gleamkit.registry import TRANSFORMS
from gleamkit.structures.vocabulary import DATASET_MODES, check_mode

from .checks import CHECK_TOOL, BadImageError, check_image, is_inside

__all__ = [
    'BaseCrossViewDataset',
    'DEFAULT_LOCATION_OFFSETS',
    'LOCATION_ID_SPAN',
    'IMAGE_EXTENSIONS',
    'list_images',
    'list_subdirs',
]

ON_MISSING = ('error', 'skip', 'ignore')
ON_CORRUPT = ('error', 'skip')
#: data-sample meta key that carries the images skipped for a sample to the main process
#: (read by gleamkit.engine.hooks.SkippedImageReportHook)
SKIPPED_META_KEY = 'skipped_bad_images'
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp')
PATH_KEYS = ('query_path', 'reference_path')
DOCS = 'docs/datasets.md'

#: dataset-local ids must lie in ``[0, LOCATION_ID_SPAN)``
LOCATION_ID_SPAN = 10_000_000
#: default ``location_offset`` of each dataset class (its name in ``METAINFO``)
DEFAULT_LOCATION_OFFSETS = {
    'University-1652': 1 * LOCATION_ID_SPAN,
    'SUES-200': 2 * LOCATION_ID_SPAN,
    'DenseUAV': 3 * LOCATION_ID_SPAN,
    'VIGOR': 4 * LOCATION_ID_SPAN,
    'CVUSA': 5 * LOCATION_ID_SPAN,
    'CVACT': 6 * LOCATION_ID_SPAN,
    'GTA-UAV': 7 * LOCATION_ID_SPAN,
    'ground-image-sets': 8 * LOCATION_ID_SPAN,
    'MAP': 9 * LOCATION_ID_SPAN,
    'pair-list': 10 * LOCATION_ID_SPAN,
}


def list_subdirs(path: str) -> List[str]:
    """Sorted names of the sub-folders of ``path``."""
    return sorted(e.name for e in os.scandir(path) if e.is_dir())


def list_images(path: str, ignored: Optional[list] = None) -> List[str]:
    """Sorted names of the image files directly in ``path``.

    Other files (except hidden ones such as ``.DS_Store``) are appended to
    ``ignored`` (full paths), so that callers can report them.
    """
    names = []
    for entry in os.scandir(path):
        if not entry.is_file():
            continue
        if osp.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
            names.append(entry.name)
        elif ignored is not None and not entry.name.startswith('.'):
            ignored.append(entry.path)
    return sorted(names)


class BaseCrossViewDataset(BaseDataset):
    """Base of gleamkit's benchmark datasets (an mmengine ``BaseDataset``).

    Subclasses implement :meth:`load_annotations`, returning data infos with
    ``view``, ``location_id`` (from :meth:`location_id`), ``query_path`` and/or
    ``reference_path`` and optional ``lat``, ``lon``, ``semi_positive_ids``,
    ``junk_ids``, ``weight``; this class checks the image files, rejects an empty
    result and serves the infos (``get_data_info``, ``get_field``).

    Modes (the ``mode`` config key):
        ``'pairs'``: training samples, a query image + its satellite tile
        (``query_path`` + ``reference_path``; ``view`` is the query's view,
        ``reference_view`` the reference's).
        ``'query'``: evaluation queries (``query_path``, ``view``).
        ``'gallery'``: the reference gallery (``reference_path``; ``view`` and
        ``reference_view`` are the gallery item's view, ``'satellite'`` except for
        protocols such as University-1652 satellite->drone).

    Common config keys:
        data_root (str, optional): the dataset folder. Default:
            ``$GLEAMKIT_DATA/<DATA_DIRNAME>`` when ``GLEAMKIT_DATA`` is set.
        mode (str): ``'pairs'``, ``'query'`` or ``'gallery'``.
        location_offset (int, optional): added to every dataset-local location
            id; default :data:`DEFAULT_LOCATION_OFFSETS` of the class.
        on_missing (str): what to do with samples whose image file does not
            exist: ``'error'`` (default: raise, naming the count and the first
            paths), ``'skip'`` (drop them with a warning naming the count and the
            first paths) or ``'ignore'`` (do not check: fast on slow file
            systems; a missing file then fails when loaded).
        on_corrupt (str): what to do when a sample's image cannot be read while
            loading it (corrupt, truncated, unreadable, or missing with
            ``on_missing='ignore'``): ``'error'`` (default: raise
            :class:`~gleamkit.datasets.checks.BadImageError` naming the file and
            ``tools/misc/check_dataset.py``) or ``'skip'`` (``mode='pairs'``
            only: serve another sample of the same place instead, else a random
            one; each skipped file is logged once per process, counted in
            ``bad_images_skipped`` and named in the replacement's data sample
            (meta ``skipped_bad_images``), which ``SkippedImageReportHook``
            sums up at the end of every epoch, across dataloader workers and
            ranks). Evaluation datasets must read every image: ``'skip'`` is
            refused for ``'query'`` and ``'gallery'``.
        allow_outside_root (bool): accept image paths outside ``data_root``
            (``../x.png``, absolute paths elsewhere). Defaults to False: such a
            path is an error, so that an annotation file cannot make training
            read arbitrary files. Checked on the paths as written (``..``
            resolved, links not followed).
        pipeline (list): transforms, e.g. ``LoadCrossViewImages``,
            ``ResizeViews``, ``PackCrossViewInputs``.
        Other ``BaseDataset`` keys (``indices``, ``serialize_data``,
        ``lazy_init``, ``metainfo``, ...) pass through.
    """

    METAINFO = dict(name='cross-view', reference_view='satellite', gallery_view='satellite')
    #: folder name under ``$GLEAMKIT_DATA``
    DATA_DIRNAME: Optional[str] = None
    #: expected layout, printed in errors
    LAYOUT: str = ''
    #: anchor of the dataset's section in docs/datasets.md
    DOCS_ANCHOR: str = ''
    MODES: Sequence[str] = DATASET_MODES

    def __init__(
        self,
        data_root: Optional[str] = None,
        mode: str = 'pairs',
        location_offset: Optional[int] = None,
        on_missing: str = 'error',
        on_corrupt: str = 'error',
        allow_outside_root: bool = False,
        pipeline: Sequence = (),
        **kwargs,
    ):
        name = type(self).__name__
        check_mode(mode, name, self.MODES)
        if on_missing not in ON_MISSING:
            raise ValueError(f'{name}: on_missing={on_missing!r}, expected one of {ON_MISSING}')
        if on_corrupt not in ON_CORRUPT:
            raise ValueError(f'{name}: on_corrupt={on_corrupt!r}, expected one of {ON_CORRUPT}')
        if on_corrupt == 'skip' and mode != 'pairs':
            raise ValueError(
                f"{name}: on_corrupt='skip' is for training (mode='pairs'); "
                f'mode={mode!r} is evaluated on every image: fix or remove the bad '
                f'files (list them with {CHECK_TOOL})'
            )
        self.mode = mode
        self.on_missing = on_missing
        self.on_corrupt = on_corrupt
        self.allow_outside_root = bool(allow_outside_root)
        #: bad image path -> times a sample was skipped for it (in this process)
        self.bad_images_skipped: Counter = Counter()
        self._bad_files: Dict[str, tuple] = {}
        self._location_index: Optional[Dict[int, List[int]]] = None
        if location_offset is None:
            location_offset = DEFAULT_LOCATION_OFFSETS.get(self.METAINFO['name'], 0)
        self.location_offset = int(location_offset)
        self.num_skipped = 0
        self._field_cache: Dict[str, list] = {}
        # built here with gleamkit's registry: string types resolve without a default scope
        pipeline = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline]
        super().__init__(data_root=self._resolve_data_root(data_root), pipeline=pipeline, **kwargs)

    # ------------------------------------------------------------------ paths
    @classmethod
    def _resolve_data_root(cls, data_root: Optional[str]) -> str:
        if data_root:
            return osp.expanduser(str(data_root))
        base = os.environ.get('GLEAMKIT_DATA')
        if base and cls.DATA_DIRNAME:
            return osp.join(osp.expanduser(base), cls.DATA_DIRNAME)
        raise ValueError(
            f'{cls.__name__}: no data_root given and $GLEAMKIT_DATA is not set; pass '
            f'data_root=... or export GLEAMKIT_DATA=/path/to/datasets (then the default is '
            f'$GLEAMKIT_DATA/{cls.DATA_DIRNAME}). See {DOCS}'
            + (f'#{cls.DOCS_ANCHOR}' if cls.DOCS_ANCHOR else '')
        )

    def path(self, *parts: str) -> str:
        """A path under ``data_root``."""
        return osp.join(self.data_root, *parts)

    def layout_error(self, missing: str, what: str) -> FileNotFoundError:
        """A ``FileNotFoundError`` naming ``missing`` and the expected layout."""
        docs = DOCS + (f'#{self.DOCS_ANCHOR}' if self.DOCS_ANCHOR else '')
        return FileNotFoundError(
            f'{type(self).__name__}: {what} not found: {missing}\n'
            f'Expected layout under data_root={self.data_root!r}:\n{self.LAYOUT.rstrip()}\n'
            f'See {docs} for how to obtain and lay out the dataset.'
        )

    def require_file(self, path: str, what: str) -> str:
        if not osp.isfile(path):
            raise self.layout_error(path, what)
        return path

    def require_dir(self, path: str, what: str) -> str:
        if not osp.isdir(path):
            raise self.layout_error(path, what)
        return path

    # --------------------------------------------------------------- location
    def location_id(self, local_id: int) -> int:
        """Global location id of a dataset-local id in ``[0, LOCATION_ID_SPAN)``."""
        local_id = int(local_id)
        if not 0 <= local_id < LOCATION_ID_SPAN:
            raise ValueError(
                f'{type(self).__name__}: dataset-local location id {local_id} is '
                f'outside [0, {LOCATION_ID_SPAN}); location ids of fused datasets '
                'could collide'
            )
        return self.location_offset + local_id

    def numbered_location(self, folder: str, name: str) -> int:
        """Location id of a class folder named by a number (``0839`` -> 839)."""
        if not name.isdigit():
            raise ValueError(
                f'{type(self).__name__}: folder {osp.join(folder, name)!r} is not '
                'numbered; this dataset names its place folders with digits '
                '(e.g. 0839)'
            )
        return self.location_id(int(name))

    def folder_infos(self, folder: str, view: str, key: str, ignored: list, **extra) -> List[dict]:
        """One info per image of ``folder/<numbered place>/<image>``.

        ``key`` is ``'query_path'`` or ``'reference_path'`` (then
        ``reference_view`` = ``view``); the place folder's name is kept as
        ``place``.
        """
        infos = []
        for place in list_subdirs(folder):
            loc = self.numbered_location(folder, place)
            for name in list_images(osp.join(folder, place), ignored):
                info = dict(view=view, location_id=loc, place=place, **extra)
                info[key] = osp.join(folder, place, name)
                if key == 'reference_path':
                    info['reference_view'] = view
                infos.append(info)
        return infos

    # ------------------------------------------------------------------ loading
    def load_annotations(self) -> List[dict]:
        raise NotImplementedError

    def describe(self) -> str:
        """One line naming the dataset, its mode and split (for messages)."""
        split = getattr(self, 'split', None)
        return (
            f'{type(self).__name__}(mode={self.mode!r}'
            + (f', split={split!r}' if split is not None else '')
            + ')'
        )

    #: fewer samples are kept as a plain list: mmengine's serialisation runs a full
    #: ``gc.collect()`` (~0.5 s in a process with torch loaded) to save memory that
    #: only matters for large datasets read by many dataloader workers
    SERIALIZE_MIN_SAMPLES = 2000

    def full_init(self):
        if self._fully_initialized:
            return
        self.data_list = self.load_data_list()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._get_unserialized_subset(self._indices)
        if self.serialize_data and len(self.data_list) < self.SERIALIZE_MIN_SAMPLES:
            self.serialize_data = False
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
        self._fully_initialized = True

    def load_data_list(self) -> List[dict]:
        infos = self.load_annotations()
        self._check_inside_root(infos)
        infos = self._check_files(infos)
        if not infos:
            raise ValueError(
                f'{self.describe()} found no samples under data_root='
                f'{self.data_root!r}; check the split and the layout ({DOCS})'
            )
        return infos

    @staticmethod
    def info_paths(info: dict) -> Iterable[str]:
        """Every image path one data info refers to."""
        for key in PATH_KEYS:
            if info.get(key):
                yield info[key]
        yield from info.get('query_paths') or ()

    def paths_outside_root(self, infos: List[dict]) -> List[str]:
        """The image paths of ``infos`` that are not under ``data_root``."""
        outside = []
        for info in infos:
            outside += [
                osp.normpath(p) for p in self.info_paths(info) if not is_inside(p, self.data_root)
            ]
        return sorted(set(outside))

    def _check_inside_root(self, infos: List[dict]) -> None:
        if self.allow_outside_root:
            return
        outside = self.paths_outside_root(infos)
        if outside:
            first = '\n  '.join(outside[:5])
            raise ValueError(
                f'{self.describe()}: {len(outside)} image paths lie outside data_root='
                f'{self.data_root!r}; first:\n  {first}\nImage paths must stay inside the data '
                'root; set allow_outside_root=True if you trust the annotation files '
                f'({CHECK_TOOL} lists them all).'
            )

    def _check_files(self, infos: List[dict]) -> List[dict]:
        if self.on_missing == 'ignore':
            return infos
        exists: Dict[str, bool] = {}
        kept, missing = [], []
        for info in infos:
            bad = []
            for path in self.info_paths(info):
                if path not in exists:
                    exists[path] = osp.isfile(path)
                if not exists[path]:
                    bad.append(path)
            if bad:
                missing.extend(bad)
            else:
                kept.append(info)
        if len(kept) == len(infos):
            return infos
        n_bad = len(infos) - len(kept)
        unique_missing = sorted(set(missing))
        first = '\n  '.join(unique_missing[:5])
        message = (
            f'{self.describe()}: {n_bad} of {len(infos)} samples refer to '
            f'{len(unique_missing)} image files that do not exist under data_root='
            f'{self.data_root!r}; first:\n  {first}'
        )
        if self.on_missing == 'error':
            raise FileNotFoundError(
                message + "\nRestore the files, or set on_missing='skip' to drop these "
                f'samples with a warning (tools/misc/check_dataset.py lists them all; see '
                f'{DOCS}).'
            )
        self.num_skipped = n_bad
        print_log(
            message + '\nThey are skipped (on_missing="skip").',
            logger='current',
            level=logging.WARNING,
        )
        return kept

    # ------------------------------------------------------------ bad images
    def load_sample(self, idx: int):
        """The pipeline's output for sample ``idx`` (override to draw per-sample
        choices; :meth:`prepare_data` adds the handling of bad images)."""
        return self.pipeline(self.get_data_info(idx))

    def prepare_data(self, idx: int):
        try:
            return self.load_sample(idx)
        except Exception as err:
            bad = self._bad_images(idx)
            if not bad:
                raise
            if self.on_corrupt == 'error':
                path, kind, reason = bad[0]
                raise BadImageError(
                    f'{self.describe()}: sample {idx} cannot be loaded: {kind} image {path} '
                    f'({reason}). List every bad image of the config with {CHECK_TOOL} before '
                    "training, or set on_corrupt='skip' on the training dataset to skip such "
                    f'samples (counted and reported per epoch; see {DOCS}).'
                ) from err
        return self._replacement(idx, bad)

    def _bad_images(self, idx: int) -> List[tuple]:
        """``[(path, kind, reason)]`` of the sample's images that cannot be read."""
        bad = []
        for path in self.info_paths(self.get_data_info(idx)):
            if path not in self._bad_files:
                problem = check_image(path)
                if problem is None:
                    continue
                self._bad_files[path] = problem
                if self.on_corrupt == 'skip':
                    print_log(
                        f'{self.describe()}: skipping samples with the {problem[0]} image '
                        f'{path} ({problem[1]}); on_corrupt="skip"',
                        logger='current',
                        level=logging.WARNING,
                    )
            bad.append((path,) + self._bad_files[path])
        return bad

    def _replacement_candidates(self, idx: int) -> Iterable[int]:
        # another view of the same place first: a batch of unique places stays unique
        if self._location_index is None:
            index: Dict[int, List[int]] = {}
            for i, loc in enumerate(self.get_field('location_id')):
                index.setdefault(loc, []).append(i)
            self._location_index = index
        same = self._location_index.get(self.get_data_info(idx)['location_id'], [])
        start = same.index(idx) if idx in same else 0
        yield from (same[(start + k) % len(same)] for k in range(1, min(len(same), 20)))
        for _ in range(50):
            yield random.randrange(len(self))

    def _replacement(self, idx: int, bad: List[tuple]):
        skipped = list(bad)
        for path, _, _ in bad:
            self.bad_images_skipped[path] += 1
        for other in self._replacement_candidates(idx):
            if any(p in self._bad_files for p in self.info_paths(self.get_data_info(other))):
                continue
            try:
                out = self.load_sample(other)
            except Exception:
                more = self._bad_images(other)
                if not more:
                    raise
                for path, _, _ in more:
                    self.bad_images_skipped[path] += 1
                skipped += more
                continue
            samples = out.get('data_samples') if isinstance(out, dict) else None
            if hasattr(samples, 'set_metainfo'):
                samples.set_metainfo({SKIPPED_META_KEY: skipped})
            return out
        raise BadImageError(
            f'{self.describe()}: sample {idx} and 70 replacements tried for it '
            f'have unreadable images (first: {skipped[0][0]}); check the data '
            f'with {CHECK_TOOL}'
        )

    def warn(self, message: str) -> None:
        print_log(f'{self.describe()}: {message}', logger='current', level=logging.WARNING)

    def report_ignored_files(self, ignored: List[str]) -> None:
        """Warn about non-image files found where images were expected."""
        if ignored:
            first = ', '.join(ignored[:3])
            self.warn(
                f'ignored {len(ignored)} files that are not images '
                f'({"/".join(IMAGE_EXTENSIONS)}); first: {first}'
            )

    # ------------------------------------------------------------------ access
    def get_field(self, key: str) -> list:
        """One annotation field of every sample (used by samplers)."""
        if key not in self._field_cache:
            values = []
            for i in range(len(self)):
                info = self.get_data_info(i)
                if key not in info:
                    raise KeyError(
                        f'{self.describe()} sample {i} has no {key!r} (keys: {sorted(info)})'
                    )
                values.append(info[key])
            self._field_cache[key] = values
        return list(self._field_cache[key])
