"""Retrieve, then verify and explain: GLEAM-X re-scores GLEAM-C's top tiles.

For each of a query's top-``rerank`` tiles the explainer gives P(match) (its own
probability of the verdict words, :meth:`score_batch`) and, with ``explain``,
an explanation and its free-text verdict. The tiles are re-ordered by the fused
score::

    fused = (1 - w) * retrieval_score + w * (2 * p_match - 1)

``retrieval_score`` is the cosine similarity in [-1, 1]; ``2 * p_match - 1`` maps
P(match) onto the same range; ``w`` is ``verification.fusion_weight`` of the
config (or the ``fusion_weight`` argument): 0 keeps the retrieval order, 1 orders
by the explainer alone.

An explainer that fails (a timeout, an HTTP error, garbage it cannot score) does
not stop localisation: the result keeps the retrieval order and says
``verification = dict(status='failed', message=...)``.
"""

import os
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

__all__ = ['load_explainer', 'fuse_score', 'verify_tiles', 'DEFAULT_FUSION_WEIGHT']

#: Fusion weight when neither the config nor the caller gives one.
DEFAULT_FUSION_WEIGHT = 0.5


def fuse_score(retrieval_score: float, p_match: float, weight: float) -> float:
    """``(1 - weight) * retrieval_score + weight * (2 * p_match - 1)``."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f'fusion_weight={weight!r}: expected a value in [0, 1]')
    return (1.0 - weight) * float(retrieval_score) + weight * (2.0 * float(p_match) - 1.0)


def load_explainer(spec: Any, checkpoint: Optional[str] = None, device: str = 'cpu'):
    """A built explainer.

    Args:
        spec: a config dict (``type=...``), a config file (its ``model``), a saved
            adapter directory (its recorded base model + the adapter), a full model
            directory, or an object that already has ``score_batch``.
        checkpoint: the weights ``tools/train.py`` wrote for that config (e.g.
            ``work_dirs/<config>/epoch_4.pth``), loaded with the safe loader (no
            code from the file runs). A P(match) threshold its validation chose
            (:class:`~gleamkit.engine.hooks.ValidationThresholdHook`) becomes the
            explainer's ``match_threshold`` (the verdicts' cut). Defaults to None
            (the config's own weights).
        device: where a torch explainer goes. Defaults to ``'cpu'``.

    Raises:
        FileNotFoundError / KeyError / TypeError / ValueError: naming the path or
        value and what was expected.
    """
    import torch

    import gleamkit.models  # noqa: F401  register the explainers
    from gleamkit.registry import EXPLAINERS

    if hasattr(spec, 'score_batch') and checkpoint is None:
        return spec
    name = spec
    if isinstance(spec, dict):
        explainer = EXPLAINERS.build(dict(spec))
    elif isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        if os.path.isdir(path):
            from gleamkit.models.explainers import HuggingFaceVLMExplainer, read_explainer_record

            record = read_explainer_record(path)
            if record is None:  # a full model directory (e.g. a merged adapter)
                explainer = HuggingFaceVLMExplainer(path, lora=None)
            else:
                explainer = HuggingFaceVLMExplainer(
                    record['base_model'], lora=None, adapter_path=path
                )
        elif os.path.isfile(path):
            from mmengine.config import Config

            cfg = Config.fromfile(path)
            if 'model' not in cfg:
                raise KeyError(f'explainer config {path} has no "model" key')
            explainer = EXPLAINERS.build(cfg.model)
        else:
            raise FileNotFoundError(
                f'explainer {path!r}: not a config file or an adapter/model directory'
            )
    elif hasattr(spec, 'score_batch'):
        explainer, name = spec, type(spec).__name__
    else:
        raise TypeError(
            'explainer: expected a config dict, a config file, an adapter directory or an '
            f'explainer with score_batch, got {type(spec).__name__}'
        )
    if not callable(getattr(explainer, 'explain_batch', None)):
        raise TypeError(
            f'{name}: model {type(explainer).__name__} has no explain_batch; give a '
            'GLEAM-X config (configs/gleam_x/)'
        )
    if checkpoint is not None:
        from gleamkit.utils.checkpoint import safe_load_checkpoint

        ckpt = safe_load_checkpoint(os.fspath(checkpoint), map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict):
            raise ValueError(f'checkpoint {checkpoint} holds no state_dict')
        explainer.load_state_dict(state)
        from gleamkit.engine.hooks.validation_threshold_hook import checkpoint_threshold

        threshold = checkpoint_threshold(ckpt)
        if threshold is not None and hasattr(explainer, 'match_threshold'):
            # the verdict threshold chosen on the validation split during training
            explainer.match_threshold = threshold
    if isinstance(explainer, torch.nn.Module):
        explainer.to(device).eval()
    return explainer


def verify_tiles(
    explainer,
    query_image: np.ndarray,
    tile_images: Sequence[Optional[np.ndarray]],
    view: str = 'uav',
    language: str = 'en',
    explain: bool = False,
    batch_size: int = 8,
) -> List[Dict[str, Any]]:
    """``dict(p_match, verdict, explanation, label)`` per tile (raises on failure).

    With ``explain`` the explainer writes an explanation (``explain_batch``) and
    P(match) is read after it; without, it scores the label-only question
    (``score_batch``, no generation).
    """
    from gleamkit.models.explainers import verification_prompt

    if language not in ('en', 'zh'):
        raise ValueError(f"language={language!r}: expected 'en' or 'zh'")
    if any(t is None for t in tile_images):
        raise ValueError('the pixels of a tile could not be read from the gallery source')
    mode = 'explanation' if explain else 'label'
    try:
        prompt = verification_prompt(language, mode, view=view)
    except ValueError:  # a view the prompts do not name
        prompt = verification_prompt(language, mode)
    pairs = [(query_image, tile, prompt, language) for tile in tile_images]
    if explain:
        results = explainer.explain_batch(pairs, batch_size=batch_size)
        out = []
        for r in results:
            if r is None or r.get('error'):
                raise RuntimeError((r or {}).get('error') or 'the explainer returned nothing')
            out.append(
                dict(p_match=r.get('p_match'), explanation=r.get('text'), label=r.get('label'))
            )
    else:
        scores = explainer.score_batch(pairs, batch_size=batch_size)
        out = [dict(p_match=p, explanation=None, label=None) for p in scores]
    for i, r in enumerate(out):
        p = r['p_match']
        if p is None or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
            raise ValueError(f'tile {i}: the explainer gave no usable P(match) ({p!r})')
        r['p_match'] = float(p)
        r['verdict'] = 'match' if r['p_match'] >= _threshold(explainer) else 'no match'
    return out


def _threshold(explainer) -> float:
    return float(getattr(explainer, 'match_threshold', 0.5))
