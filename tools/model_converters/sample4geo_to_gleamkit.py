"""Convert a Sample4Geo checkpoint to a gleamkit CrossViewRetriever checkpoint.

    python tools/model_converters/sample4geo_to_gleamkit.py SRC.pth DST.pth
        [--model-name convnext_base.fb_in22k_ft_in1k_384] [--head-norm embedding-head]

Sample4Geo (ICCV'23) releases plain state dicts of its ``TimmModel``: the timm model,
created with ``num_classes=0``, under ``model.*`` and the learnable temperature as
``logit_scale`` (the log of the logit scale). Its embedding is
``F.normalize(model(img))``: for ConvNeXt, timm's head average-pools the feature map and
applies ``head.norm`` (a LayerNorm, eps 1e-6) - that LayerNorm is part of the embedding.

Key mapping:

    model.<timm key>       -> backbone.timm_model.<timm key>   (every key, head.norm too)
    model.head.norm.weight -> head.norm.weight                 (copy, --head-norm embedding-head)
    model.head.norm.bias   -> head.norm.bias
    logit_scale            -> loss_module.logit_scale          (both the log of the scale)

A ``module.`` prefix (a checkpoint saved from ``nn.DataParallel``) is removed first.
The result is checked against a CrossViewRetriever built from :func:`model_config`
(printed; use the same in your config) and loaded into it strictly; any missing,
unexpected or wrongly shaped key is reported by name and the tool exits with status 1
without writing. The source is read with ``torch.load(weights_only=True)``.

The output is ``{'state_dict': ..., 'meta': {...}}`` for ``load_from=`` / ``tools/test.py``.
"""

import argparse
import inspect
import math
import os
import sys
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Tuple

import torch

from gleamkit.models.backbones.pretrained import (
    StateDictMismatchError,
    compare_state_dicts,
    format_key_report,
)
from gleamkit.utils.checkpoint import safe_load_checkpoint

SAMPLE4GEO_MODEL_NAME = 'convnext_base.fb_in22k_ft_in1k_384'
HEAD_NORM_CHOICES = ('embedding-head', 'backbone')


def model_config(
    model_name: str = SAMPLE4GEO_MODEL_NAME,
    head_norm: bool = True,
    head_norm_eps: float = 1e-6,
    pooling: str = 'avg',
) -> dict:
    """The gleamkit model a converted Sample4Geo checkpoint belongs to.

    ``head_norm``: the timm model has a head LayerNorm after pooling (ConvNeXt) that
    the EmbeddingHead must apply (``norm=True``). Its eps is passed as ``norm_eps``
    when EmbeddingHead accepts that key.
    """
    from gleamkit.models import EmbeddingHead

    head = dict(type='EmbeddingHead', embed_dim=None, pooling=pooling, norm=head_norm)
    if head_norm and 'norm_eps' in inspect.signature(EmbeddingHead).parameters:
        head['norm_eps'] = head_norm_eps
    return dict(
        type='CrossViewRetriever',
        backbone=dict(type='TimmBackbone', model_name=model_name, pretrained=False),
        head=head,
        # Sample4Geo: temperature initialised at 0.07, label smoothing 0.1
        loss=dict(type='SymmetricInfoNCELoss', temperature=0.07, label_smoothing=0.1),
    )


def strip_data_parallel_prefix(state_dict: Mapping[str, torch.Tensor]) -> Tuple[dict, bool]:
    """Remove ``module.`` when every key has it (``nn.DataParallel`` checkpoints)."""
    if state_dict and all(key.startswith('module.') for key in state_dict):
        return OrderedDict((key[len('module.') :], v) for key, v in state_dict.items()), True
    return dict(state_dict), False


def convert_state_dict(
    state_dict: Mapping[str, torch.Tensor], head_norm: str = 'embedding-head'
) -> Tuple[dict, list]:
    """Rename Sample4Geo keys to gleamkit's. Returns ``(converted, unmapped source keys)``."""
    if head_norm not in HEAD_NORM_CHOICES:
        raise ValueError(f'head_norm={head_norm!r}, expected one of {HEAD_NORM_CHOICES}')
    converted, unmapped = OrderedDict(), []
    for key, value in state_dict.items():
        if key == 'logit_scale':
            converted['loss_module.logit_scale'] = value.reshape(1)
        elif key.startswith('model.'):
            timm_key = key[len('model.') :]
            converted[f'backbone.timm_model.{timm_key}'] = value
            if head_norm == 'embedding-head' and timm_key.startswith('head.norm.'):
                converted[f'head.norm.{timm_key[len("head.norm.") :]}'] = value
        else:
            unmapped.append(key)
    return converted, unmapped


def has_head_norm(state_dict: Mapping[str, torch.Tensor]) -> bool:
    return 'model.head.norm.weight' in state_dict


def convert(
    src: str,
    model_name: str = SAMPLE4GEO_MODEL_NAME,
    head_norm: str = 'embedding-head',
    pooling: str = 'avg',
    out=print,
) -> Optional[Dict]:
    """Convert and verify strictly; the checkpoint dict, or None after a reported mismatch."""
    import timm

    from gleamkit.registry import MODELS

    source = safe_load_checkpoint(src)
    if isinstance(source, Mapping) and 'state_dict' in source and 'logit_scale' not in source:
        source = source['state_dict']
    source, stripped = strip_data_parallel_prefix(source)
    out(
        f'source: {src} ({len(source)} tensors'
        + (', "module." prefix removed)' if stripped else ')')
    )
    with_head_norm = has_head_norm(source) and head_norm == 'embedding-head'
    timm_eps = None
    if has_head_norm(source):
        with torch.device('meta'):  # only the module tree is needed: no memory, no init
            probe = timm.create_model(model_name, pretrained=False, num_classes=0)
        timm_eps = getattr(getattr(getattr(probe, 'head', None), 'norm', None), 'eps', None)
    cfg = model_config(
        model_name, head_norm=with_head_norm, head_norm_eps=timm_eps or 1e-6, pooling=pooling
    )
    out(f'target model config: {cfg}')
    model = MODELS.build(cfg)
    converted, unmapped = convert_state_dict(source, head_norm=head_norm)
    report = compare_state_dicts(converted, model.state_dict())
    report['unexpected'] = [
        f'{key} (source key, no gleamkit counterpart)' for key in unmapped
    ] + report['unexpected']
    out(format_key_report(**report))
    if any(report.values()):
        out('FAILED: the checkpoint does not fit the model (see the keys above); nothing written')
        return None
    model.load_state_dict(converted, strict=True)
    notes = []
    if with_head_norm and timm_eps is not None and model.head.norm.eps != timm_eps:
        notes.append(
            f'EmbeddingHead LayerNorm eps {model.head.norm.eps:g} differs from timm '
            f"head.norm eps {timm_eps:g}: embeddings match Sample4Geo's only "
            'approximately until EmbeddingHead takes norm_eps'
        )
    if has_head_norm(source) and head_norm == 'backbone':
        notes.append(
            "head.norm left in the backbone: use a TimmBackbone that applies timm's "
            'own pooling + head norm (forward_head(pre_logits=True)), or the '
            'embeddings skip the LayerNorm'
        )
    max_log_scale = getattr(model.loss_module, 'max_log_scale', math.inf)
    log_scale = float(converted['loss_module.logit_scale'])
    if log_scale > max_log_scale:
        notes.append(
            f'logit_scale {log_scale:.3f} (scale {math.exp(log_scale):.1f}) is above '
            f'the loss max_scale {math.exp(max_log_scale):g}: training resumes clamped'
        )
    for note in notes:
        out(f'NOTE: {note}')
    out('OK: every key mapped, strict load succeeded')
    meta = dict(
        converted_from='Sample4Geo',
        source=os.path.abspath(os.fspath(src)),
        converter='tools/model_converters/sample4geo_to_gleamkit.py',
        timm_model_name=model_name,
        head_norm=head_norm,
        model_config=cfg,
        logit_scale=log_scale,
        notes=notes,
    )
    return dict(state_dict=converted, meta=meta)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='Sample4Geo checkpoint (a TimmModel state dict)')
    parser.add_argument('dst', help='gleamkit checkpoint to write')
    parser.add_argument(
        '--model-name',
        default=SAMPLE4GEO_MODEL_NAME,
        help="timm name of the checkpoint's model (default: %(default)s)",
    )
    parser.add_argument(
        '--head-norm',
        choices=HEAD_NORM_CHOICES,
        default='embedding-head',
        help="where ConvNeXt's pooled-feature LayerNorm runs: in the "
        'EmbeddingHead (norm=True, default) or in the timm backbone',
    )
    parser.add_argument(
        '--pooling', default='avg', help='EmbeddingHead pooling (avg for CNNs; cls for ViTs)'
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        checkpoint = convert(args.src, args.model_name, args.head_norm, args.pooling)
    except StateDictMismatchError as error:
        print(f'FAILED: {error}')
        return 1
    if checkpoint is None:
        return 1
    torch.save(checkpoint, args.dst)
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
