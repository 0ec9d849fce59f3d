"""Run under torchrun (gloo): one DDP training step of a shared encoder with the
gathered InfoNCE loss; rank 0 saves the gradients for comparison."""

import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from gleamkit.models import SymmetricInfoNCELoss


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8)
        )
        self.loss = SymmetricInfoNCELoss(label_smoothing=0.1)

    def forward(self, q, r):
        embed = lambda x: torch.nn.functional.normalize(self.net(x), dim=1)  # noqa: E731
        return self.loss(embed(q), embed(r))


def make_batch(n=8):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 12, generator=g), torch.randn(n, 12, generator=g)


def main(out_path):
    dist.init_process_group('gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = DistributedDataParallel(Encoder())
    q, r = make_batch()
    per = q.shape[0] // world
    loss = model(q[rank * per : (rank + 1) * per], r[rank * per : (rank + 1) * per])
    loss.backward()
    if rank == 0:
        torch.save({n: p.grad.clone() for n, p in model.module.named_parameters()}, out_path)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main(sys.argv[1])
