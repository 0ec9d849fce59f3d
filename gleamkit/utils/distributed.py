"""Small distributed helpers that also work in a single process."""

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """All-gather ``tensor`` from every rank along dim 0, keeping gradients.

    The backward pass sums the gradients that every rank's loss puts on a
    gathered slice and returns them to the rank that owns it, so a loss over the
    gathered features, averaged by DDP, has the gradient of the full-batch loss.
    Every rank must pass the same shape. Single process: returns ``tensor``.
    """
    if not is_distributed():
        return tensor
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(tensor.contiguous()), dim=0)


def rank_and_world() -> tuple:
    if not is_distributed():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()
