"""Deprecated: the gallery belongs to the evaluation loop (RetrievalValLoop)."""

import warnings
from typing import Optional, Union

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from gleamkit.engine.gallery_embedding import embed_gallery
from gleamkit.registry import HOOKS

MIGRATION = (
    'PrepareGalleryHook is deprecated and will be removed in the next release: '
    'the evaluation loop owns the gallery. Replace custom_hooks=[dict(type='
    'PrepareGalleryHook, dataloader=G)] with val_cfg = dict(type=RetrievalValLoop, '
    'gallery_dataloader=G) and test_cfg = dict(type=RetrievalTestLoop, '
    "gallery_dataloader=G) (docs/design.md, 'Evaluation')."
)


@HOOKS.register_module()
class PrepareGalleryHook(Hook):
    """Deprecated for one release: embeds a gallery before every validation and test of
    mmengine's plain ``ValLoop`` / ``TestLoop`` and hands it to ``set_gallery``.

    Configs of this release use :class:`~gleamkit.engine.loops.RetrievalValLoop` /
    :class:`~gleamkit.engine.loops.RetrievalTestLoop` instead, which take several
    protocols and cannot lose their gallery when a child config rewrites
    ``custom_hooks``. With such a loop the hook is an error (two galleries).

    Args:
        dataloader (dict or DataLoader): the gallery dataloader.
        progress (bool): a progress bar on rank 0. Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self, dataloader: Union[dict, torch.utils.data.DataLoader], progress: bool = True):
        warnings.warn(MIGRATION, DeprecationWarning, stacklevel=2)
        self.dataloader_cfg = dataloader
        self.progress = progress
        self._dataloader: Optional[torch.utils.data.DataLoader] = None

    def prepare(self, runner, loop) -> None:
        from gleamkit.engine.loops import RetrievalTestLoop, RetrievalValLoop

        if isinstance(loop, (RetrievalValLoop, RetrievalTestLoop)):
            raise ValueError(
                'PrepareGalleryHook and a RetrievalValLoop / RetrievalTestLoop '
                'both give the model a gallery: drop the hook from custom_hooks '
                "(the loop embeds its protocols' galleries)"
            )
        runner.logger.warning(MIGRATION)
        if self._dataloader is None:
            self._dataloader = self.dataloader_cfg
            if isinstance(self._dataloader, dict):
                self._dataloader = runner.build_dataloader(self._dataloader, seed=runner.seed)
        gallery = embed_gallery(
            runner.model, self._dataloader, progress=self.progress, owner='PrepareGalleryHook'
        )
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.set_gallery(**gallery)

    def before_val_epoch(self, runner) -> None:
        self.prepare(runner, runner.val_loop)

    def before_test_epoch(self, runner) -> None:
        self.prepare(runner, runner.test_loop)
