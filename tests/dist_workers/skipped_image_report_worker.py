"""Run under torchrun (gloo): each rank loads half of a pair list with a corrupt
image per half (on_corrupt='skip', one dataloader worker) and feeds the batches to
SkippedImageReportHook; every rank writes the hook's history for comparison."""

import json
import sys

import torch
import torch.distributed as dist
from mmengine.dataset import pseudo_collate

from gleamkit.datasets import CrossViewPairListDataset, LoadCrossViewImages, PackCrossViewInputs
from gleamkit.engine.hooks import SkippedImageReportHook


class _Runner:
    epoch, iter = 0, 0


def main(ann_file, out_prefix):
    dist.init_process_group('gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    dataset = CrossViewPairListDataset(
        ann_file=ann_file,
        mode='pairs',
        on_corrupt='skip',
        pipeline=[dict(type=LoadCrossViewImages), dict(type=PackCrossViewInputs)],
    )
    part = torch.utils.data.Subset(dataset, list(range(rank, len(dataset), world)))
    loader = torch.utils.data.DataLoader(
        part, batch_size=2, num_workers=1, collate_fn=pseudo_collate
    )
    hook = SkippedImageReportHook()
    hook.before_train_epoch(_Runner)
    for i, batch in enumerate(loader):
        hook.after_train_iter(_Runner, i, batch)
    hook.after_train_epoch(_Runner)
    with open(f'{out_prefix}.{rank}.json', 'w') as f:
        json.dump(hook.history, f)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
