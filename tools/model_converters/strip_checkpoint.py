"""Re-save a checkpoint's tensors and plain containers, without running any of its code.

    python tools/model_converters/strip_checkpoint.py SRC.pth DST.pth

gleamkit loads checkpoints with ``torch.load(weights_only=True)`` and refuses files that
hold other Python objects (a training script's ``argparse.Namespace``, a custom config
class, a function), because unpickling them could run code. This tool reads such a
file with torch's weights-only unpickler while every unknown class or function is
replaced by an inert stand-in, so nothing from the file is imported or called; it then
writes everything else (tensors, dicts, lists, numbers, strings) to DST and lists what
it dropped (dict entries are removed, list items become ``None``). DST is checked to load
with gleamkit's safe loader before the tool reports success.

Files that name ``os`` / ``sys`` functions (``os.system`` ...) are refused: no model
checkpoint needs them. The tool exits with status 1 on any refusal and writes nothing.
"""

import argparse
import os
import os.path as osp
import sys

import torch

# run from a checkout without `pip install -e .` too
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from gleamkit.utils.checkpoint import (  # noqa: E402
    CheckpointSecurityError,
    CorruptCheckpointError,
    load_checkpoint_without_code,
    safe_load_checkpoint,
)


def count_tensors(obj) -> int:
    if isinstance(obj, torch.Tensor):
        return 1
    if isinstance(obj, dict):
        return sum(count_tensors(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(count_tensors(v) for v in obj)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint gleamkit refused to load')
    parser.add_argument('dst', help='where to write the stripped checkpoint')
    args = parser.parse_args(argv)
    if osp.abspath(args.src) == osp.abspath(args.dst):
        print('FAILED: DST must differ from SRC (SRC is kept as it is)')
        return 1
    try:
        checkpoint, dropped = load_checkpoint_without_code(args.src)
    except (CheckpointSecurityError, CorruptCheckpointError, FileNotFoundError) as error:
        print(f'FAILED: {error}')
        return 1
    for line in dropped:
        print(f'dropped {line}')
    if count_tensors(checkpoint) == 0:
        print(
            'FAILED: no tensor is left outside the dropped objects (a whole pickled '
            'model keeps its weights inside the module object); nothing written'
        )
        return 1
    tmp = f'{args.dst}.tmp-{os.getpid()}'
    torch.save(checkpoint, tmp)
    try:
        safe_load_checkpoint(tmp)  # what gleamkit will do with it
    except Exception as error:  # should not happen: report instead of writing DST
        os.remove(tmp)
        print(f'FAILED: the stripped checkpoint still does not load safely: {error}')
        return 1
    os.replace(tmp, args.dst)
    print(
        f'wrote {args.dst}: {count_tensors(checkpoint)} tensors kept, '
        f'{len(dropped)} object(s) dropped'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
