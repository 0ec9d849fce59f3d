"""Gradient caching: a large contrastive batch in the memory of a small one.

InfoNCE needs many in-batch negatives, and the activation memory of a batch grows
with its size. Gradient caching (Gao et al., 2021, "Scaling Deep Contrastive
Learning Batch Size under Memory Limited Setup") splits one step in three:

1. embed the batch chunk by chunk *without* an autograd graph;
2. compute the loss on all embeddings and back-propagate it to the embeddings
   only (their gradients are the "cache");
3. embed each chunk again *with* a graph and back-propagate its cached gradient.

The parameter gradients equal those of the unchunked step (exactly, up to float
rounding) when the encoder treats samples independently; BatchNorm in training mode
does not (its statistics are per chunk), so prefer LayerNorm backbones (ConvNeXt,
ViT) with gradient caching. Dropout and other randomness are replayed: the RNG
state of each chunk's first pass is restored for its second pass.
"""

from contextlib import nullcontext
from typing import Callable, Dict, List, Optional

import torch
import torch.distributed as dist

from gleamkit.utils.distributed import is_distributed


def slice_inputs(inputs: dict, start: int, stop: int) -> dict:
    """The rows ``[start, stop)`` of a preprocessed cross-view batch."""
    out = dict(batch_size=stop - start)
    for key in ('query', 'reference'):
        if inputs.get(key) is None:
            continue
        groups = {}
        for view, (indices, images) in inputs[key].items():
            keep = (indices >= start) & (indices < stop)
            if keep.any():
                groups[view] = (indices[keep] - start, images[keep])
        out[key] = groups
    return out


def _rng_state():
    state = {'cpu': torch.get_rng_state()}
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state):
    torch.set_rng_state(state['cpu'])
    if 'cuda' in state:
        torch.cuda.set_rng_state_all(state['cuda'])


def grad_cache_backward(
    model,
    inputs: dict,
    chunk_size: int,
    backward: Callable[[torch.Tensor], None],
    autocast: Callable = nullcontext,
    no_sync: Optional[Callable] = None,
) -> Dict[str, torch.Tensor]:
    """Accumulate the gradients of ``model.loss_module`` over the batch in chunks.

    Args:
        model: the :class:`CrossViewRetriever` (unwrapped).
        inputs: the preprocessed batch (``CrossViewDataPreprocessor`` output).
        chunk_size: rows embedded at once.
        backward: called on the loss (e.g. ``optim_wrapper.backward``, which also
            applies fp16 loss scaling; the cached gradients carry that scale).
        autocast: a context manager factory for mixed precision.
        no_sync: a context manager factory that suspends DDP's gradient hooks.

    Returns:
        ``{'loss': detached loss, 'logit_scale': ...}`` for logging.
    """
    n = inputs['batch_size']
    bounds = [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]
    states: List[dict] = []
    queries, references = [], []
    with torch.no_grad():
        for start, stop in bounds:
            states.append(_rng_state())
            with autocast():
                out = model.extract_feat(slice_inputs(inputs, start, stop))
            queries.append(out['query'])
            references.append(out['reference'])
    after_first_pass = _rng_state()
    query = torch.cat(queries).detach().requires_grad_(True)
    reference = torch.cat(references).detach().requires_grad_(True)
    with autocast():
        loss = model.loss_module(query, reference)
    sync = no_sync or nullcontext
    with sync():
        backward(loss)
        for (start, stop), state in zip(bounds, states):
            _set_rng_state(state)
            with autocast():
                out = model.extract_feat(slice_inputs(inputs, start, stop))
            torch.autograd.backward(
                [out['query'], out['reference']],
                [query.grad[start:stop], reference.grad[start:stop]],
            )
    _set_rng_state(after_first_pass)
    logs = dict(loss=loss.detach())
    if hasattr(model.loss_module, 'scale'):
        logs['logit_scale'] = model.loss_module.scale.detach()
    return logs


def average_gradients(module: torch.nn.Module) -> None:
    """All-reduce (mean) every gradient across ranks in one flat buffer, as DDP's
    reducer would; used when the chunked backward ran outside DDP's hooks."""
    if not is_distributed():
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch._utils._flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat.div_(dist.get_world_size())
    for g, synced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
        g.copy_(synced)


def grad_cache_train_step(model, data, optim_wrapper, chunk_size: int, ddp=None) -> dict:
    """One optimisation step with gradient caching (``train_step`` replacement).

    ``ddp``: the DistributedDataParallel wrapper of ``model`` when distributed; its
    hooks are suspended during the chunked backward and gradients are averaged
    once at the end (identical to DDP's averaging).
    """
    with optim_wrapper.optim_context(ddp or model):
        data = model.data_preprocessor(data, True)

    def backward(loss):
        optim_wrapper.backward(optim_wrapper.scale_loss(loss))

    # the wrapper's optim_context on the unwrapped model = its autocast (AMP) only
    logs = grad_cache_backward(
        model,
        data['inputs'],
        chunk_size,
        backward,
        autocast=lambda: optim_wrapper.optim_context(model),
        no_sync=ddp.no_sync if ddp is not None else None,
    )
    if optim_wrapper.should_update():
        average_gradients(model)
        optim_wrapper.step()
        optim_wrapper.zero_grad()
    return logs
