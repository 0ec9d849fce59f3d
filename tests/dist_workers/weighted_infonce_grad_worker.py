"""Run under torchrun (gloo): one DDP training step of a shared encoder with the
gathered weighted InfoNCE; rank 0 saves the gradients for comparison.

argv: OUT_PATH. Saved: ``{mode: {param name: grad}}`` for every mode in MODES:
'global' (each rank passes its rows of the full (N, N) weight matrix), 'local' (its
(B, B) diagonal block) and 'pair' (its (B,) per-pair weights)."""

import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from gleamkit.models import WeightedInfoNCELoss

MODES = ('global', 'local', 'pair')


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8)
        )
        self.loss = WeightedInfoNCELoss(label_smoothing=0.1)

    def forward(self, q, r, weights):
        embed = lambda x: torch.nn.functional.normalize(self.net(x), dim=1)  # noqa: E731
        return self.loss(embed(q), embed(r), weights)


def make_batch(n=8):
    """Inputs and a dense (N, N) weight matrix: a positive of weight 0.6-1 on the
    diagonal and semi-positives scattered over the whole batch (across ranks too)."""
    g = torch.Generator().manual_seed(0)
    q, r = torch.randn(n, 12, generator=g), torch.randn(n, 12, generator=g)
    weights = torch.rand(n, n, generator=g) * (torch.rand(n, n, generator=g) < 0.3) * 0.5
    weights.fill_diagonal_(0)
    weights += torch.diag(0.6 + 0.4 * torch.rand(n, generator=g))
    return q, r, weights


def rank_weights(weights, rank, per, mode):
    """What rank ``rank`` passes for ``mode``; and the full matrix it corresponds to."""
    rows = slice(rank * per, (rank + 1) * per)
    if mode == 'global':
        return weights[rows]
    if mode == 'local':
        return weights[rows, rows]
    if mode == 'pair':
        return weights.diagonal()[rows]
    raise ValueError(mode)


def equivalent_full_weights(weights, world, mode):
    """The (N, N) matrix whose single-process loss the distributed ``mode`` computes."""
    if mode == 'global':
        return weights
    per = weights.shape[0] // world
    full = torch.zeros_like(weights)
    for rank in range(world):
        rows = slice(rank * per, (rank + 1) * per)
        full[rows, rows] = weights[rows, rows]
    return full if mode == 'local' else torch.diag(weights.diagonal())


def main(out_path):
    dist.init_process_group('gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    q, r, weights = make_batch()
    per = q.shape[0] // world
    rows = slice(rank * per, (rank + 1) * per)
    grads = {}
    for mode in MODES:
        torch.manual_seed(0)
        model = DistributedDataParallel(Encoder())
        loss = model(q[rows], r[rows], rank_weights(weights, rank, per, mode))
        loss.backward()
        grads[mode] = {n: p.grad.clone() for n, p in model.module.named_parameters()}
    if rank == 0:
        torch.save(grads, out_path)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main(sys.argv[1])
