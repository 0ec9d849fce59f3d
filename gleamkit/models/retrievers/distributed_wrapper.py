"""DDP wrapper that knows about gradient caching."""

from mmengine.model import MMDistributedDataParallel

from gleamkit.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CrossViewDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that runs :class:`CrossViewRetriever`'s
    gradient-cached step when ``grad_cache_chunk`` is set (DDP's hooks would fire
    once per chunk; the step averages gradients once instead), and the plain DDP
    step otherwise. Use with ``model_wrapper_cfg=dict(type=
    'CrossViewDistributedDataParallel')``."""

    def train_step(self, data, optim_wrapper):
        chunk = getattr(self.module, 'grad_cache_chunk', None)
        if not chunk:
            return super().train_step(data, optim_wrapper)
        from .grad_cache import grad_cache_train_step

        return grad_cache_train_step(self.module, data, optim_wrapper, chunk, ddp=self)
