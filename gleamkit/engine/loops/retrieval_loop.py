"""Validation and test loops that own the retrieval protocol: queries, gallery, metric."""

import copy
import logging
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

from mmengine.evaluator import Evaluator
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop
from torch.utils.data import DataLoader

from gleamkit.engine.gallery_embedding import embed_gallery
from gleamkit.index.topk_searcher import TopKIndexSearcher, check_index_option
from gleamkit.registry import LOOPS

PROTOCOL_KEYS = ('name', 'dataloader', 'gallery_dataloader', 'evaluator')


@dataclass
class RetrievalProtocol:
    """One evaluation protocol: queries ranked against a gallery, scored by an evaluator.

    Args:
        name (str, optional): prefix of its metrics (``'u1652'`` gives ``u1652/R@1``);
            None keeps the metric's own keys (``retrieval/R@1``).
        dataloader (DataLoader): the queries.
        gallery_dataloader (DataLoader): the gallery, embedded before the queries.
        evaluator (Evaluator): its own metric state.
    """

    name: Optional[str]
    dataloader: DataLoader
    gallery_dataloader: DataLoader
    evaluator: Evaluator


class RetrievalLoopMixin:
    """What :class:`RetrievalValLoop` and :class:`RetrievalTestLoop` share: building the
    protocols and running them one after the other inside one evaluation epoch."""

    stage = 'val'

    def __init__(
        self,
        runner,
        dataloader: Union[DataLoader, dict, None] = None,
        evaluator: Union[Evaluator, dict, list, None] = None,
        gallery_dataloader: Union[DataLoader, dict, None] = None,
        protocols: Optional[Sequence[dict]] = None,
        fp16: bool = False,
        progress: bool = True,
        index: Optional[dict] = None,
    ) -> None:
        # no ValLoop/TestLoop.__init__: it would build the default dataloader even when
        # no protocol uses it
        self._runner = runner
        self.fp16 = fp16
        self.progress = progress
        self.index = check_index_option(index, type(self).__name__)
        setattr(self, f'{self.stage}_loss', dict())  # mmengine's val_loss / test_loss
        self.gallery_embed_count = 0
        self.protocols = self._build_protocols(
            runner, dataloader, evaluator, gallery_dataloader, protocols
        )
        self.dataloader = self.protocols[0].dataloader
        self.evaluator = self.protocols[0].evaluator
        if hasattr(self.dataloader.dataset, 'metainfo'):
            runner.visualizer.dataset_meta = self.dataloader.dataset.metainfo

    def run(self) -> dict:
        """Embed each gallery, rank its queries, return every protocol's metrics."""
        stage = self.stage
        self.runner.call_hook(f'before_{stage}')
        self.runner.call_hook(f'before_{stage}_epoch')
        self.runner.model.eval()
        getattr(self, f'{stage}_loss').clear()
        metrics = self._run_protocols()
        self.runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{stage}')
        return metrics

    def _build_protocols(
        self, runner, dataloader, evaluator, gallery_dataloader, protocols: Optional[Sequence[dict]]
    ) -> List[RetrievalProtocol]:
        owner = type(self).__name__
        if protocols is None:
            if gallery_dataloader is None:
                raise ValueError(
                    f'{owner}: no gallery. Set {self.stage}_cfg = dict(type={owner}, '
                    'gallery_dataloader=dict(...)) (a dataset with mode="gallery"), or '
                    'protocols=[dict(name=..., dataloader=..., gallery_dataloader=...), ...]'
                )
            protocols = [dict(name=None, gallery_dataloader=gallery_dataloader)]
        elif gallery_dataloader is not None:
            raise ValueError(
                f'{owner}: set either gallery_dataloader (one protocol) or '
                'protocols (each with its gallery_dataloader), not both'
            )
        if not isinstance(protocols, (list, tuple)) or not protocols:
            raise ValueError(
                f'{owner}: protocols must be a non-empty list of dicts, got {protocols!r}'
            )
        built, names = [], set()
        for i, spec in enumerate(protocols):
            where = f'{self.stage}_cfg.protocols[{i}]'
            if not isinstance(spec, dict):
                raise TypeError(
                    f'{owner}: {where} must be a dict with keys {PROTOCOL_KEYS}, '
                    f'got {type(spec).__name__}'
                )
            unknown = sorted(set(spec) - set(PROTOCOL_KEYS))
            if unknown:
                raise ValueError(
                    f'{owner}: {where} has unknown keys {unknown}; expected {PROTOCOL_KEYS}'
                )
            name = spec.get('name')
            if len(protocols) > 1 and not name:
                raise ValueError(
                    f'{owner}: {where} needs a name: with several protocols '
                    'the name tells their metrics apart (u1652/R@1, vigor/R@1)'
                )
            if name in names:
                raise ValueError(f'{owner}: two protocols are named {name!r}')
            names.add(name)
            if spec.get('gallery_dataloader') is None:
                raise ValueError(f'{owner}: {where} has no gallery_dataloader')
            # a protocol without its own queries / evaluator uses the runner's
            # {stage}_dataloader / {stage}_evaluator (each built once)
            queries = spec.get('dataloader')
            if queries is None:
                queries = dataloader
            metric = spec.get('evaluator')
            if metric is None:
                metric = evaluator
            loader = self._loader(runner, queries)
            built.append(
                RetrievalProtocol(
                    name=name,
                    dataloader=loader,
                    gallery_dataloader=self._loader(runner, spec['gallery_dataloader']),
                    evaluator=self._evaluator(runner, metric, name, loader),
                )
            )
        return built

    @staticmethod
    def _loader(runner, loader: Union[DataLoader, dict]) -> DataLoader:
        if isinstance(loader, dict):
            diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
            return runner.build_dataloader(loader, seed=runner.seed, diff_rank_seed=diff_rank_seed)
        return loader

    @staticmethod
    def _evaluator(runner, evaluator, name: Optional[str], loader) -> Evaluator:
        if isinstance(evaluator, (dict, list)):
            # a copy per protocol: each keeps its own results and prefix
            evaluator = runner.build_evaluator(copy.deepcopy(evaluator))
        if not isinstance(evaluator, Evaluator):
            raise TypeError(
                f'evaluator must be a dict, a list or an Evaluator, got {type(evaluator).__name__}'
            )
        if name:
            for metric in evaluator.metrics:
                own = metric.prefix
                # the metric's default prefix ('retrieval') gives way to the protocol's
                default = getattr(metric, 'default_prefix', None)
                metric.prefix = name if own in (None, default) else f'{name}/{own}'
        if hasattr(loader.dataset, 'metainfo'):
            evaluator.dataset_meta = loader.dataset.metainfo
        return evaluator

    def _gallery(self, protocol: RetrievalProtocol) -> None:
        runner = self.runner
        gallery = embed_gallery(
            runner.model,
            protocol.gallery_dataloader,
            progress=self.progress,
            owner=type(self).__name__,
        )
        self.gallery_embed_count += 1
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if self.index is None:
            model.set_gallery(**gallery)
        else:
            self._gallery_through_index(model, protocol, gallery)
        ids = gallery['location_ids']
        label = f' ({protocol.name})' if protocol.name else ''
        runner.logger.info(
            f'{type(self).__name__}{label}: embedded {len(ids)} gallery images '
            f'({len(set(ids))} places)'
        )

    def _gallery_through_index(self, model, protocol: RetrievalProtocol, gallery: dict) -> None:
        # the model keeps each query's top K from a faiss index; the metric gets the
        # gallery's ids (|G|, n_good) and, for exact AP, its embeddings
        opt = self.index
        searcher = TopKIndexSearcher.build(
            gallery['embeddings'],
            opt['factory'],
            topk=opt['topk'],
            nprobe=opt.get('nprobe'),
            ef_search=opt.get('ef_search'),
            train_size=opt.get('train_size'),
            seed=opt.get('seed', 0),
        )
        model.set_gallery(**gallery, searcher=searcher)
        note = searcher.describe() + (
            '; AP exact (from exact scores)' if opt['exact_ap'] else '; AP unavailable'
        )
        for metric in protocol.evaluator.metrics:
            if hasattr(metric, 'set_gallery'):
                metric.set_gallery(
                    gallery['location_ids'],
                    gallery['embeddings'] if opt['exact_ap'] else None,
                    ranking_note=note,
                )
        self.runner.logger.info(f'{type(self).__name__}: {note}')

    def _run_protocols(self) -> Dict[str, float]:
        metrics: Dict[str, float] = {}
        for protocol in self.protocols:
            # hooks (logger, visualiser) read the running loop's dataloader
            self.dataloader, self.evaluator = protocol.dataloader, protocol.evaluator
            if hasattr(protocol.dataloader.dataset, 'metainfo'):
                self.runner.visualizer.dataset_meta = protocol.dataloader.dataset.metainfo
            self._gallery(protocol)
            if protocol.name:
                print_log(
                    f'{self.stage} protocol {protocol.name}: '
                    f'{len(protocol.dataloader.dataset)} queries',
                    logger='current',
                    level=logging.INFO,
                )
            for idx, data_batch in enumerate(protocol.dataloader):
                self.run_iter(idx, data_batch)
            found = protocol.evaluator.evaluate(len(protocol.dataloader.dataset))
            clash = sorted(set(found) & set(metrics))
            if clash:
                raise ValueError(
                    f'{type(self).__name__}: protocols give the same metric keys '
                    f'{clash}; name each protocol'
                )
            metrics.update(found)
        return metrics


@LOOPS.register_module()
class RetrievalValLoop(RetrievalLoopMixin, ValLoop):
    """``ValLoop`` that embeds each protocol's gallery, then ranks its queries against it.

    One protocol (the runner's ``val_dataloader`` and ``val_evaluator``)::

        val_cfg = dict(type=RetrievalValLoop, gallery_dataloader=gallery_dataloader)

    Several, each embedding its own gallery once per validation, their metrics
    prefixed with their names (``u1652/R@1``, ``vigor/R@1``)::

        val_cfg = dict(type=RetrievalValLoop, protocols=[
            dict(name='u1652', gallery_dataloader=u1652_gallery),  # val_dataloader's queries
            dict(name='vigor', dataloader=vigor_queries, gallery_dataloader=vigor_gallery),
        ])

    The gallery goes to the model's ``set_gallery`` (the retriever owns it, as
    mmpretrain's retriever owns its prototype). Under distributed evaluation each rank
    embeds a shard of the gallery and the shards are gathered in dataset order
    (:func:`~gleamkit.engine.gallery_embedding.embed_gallery`), so every metric equals
    one process's.

    Args:
        runner (Runner): the runner (mmengine passes it).
        dataloader (dict or DataLoader): ``val_dataloader`` (mmengine passes it): the
            queries of a protocol that names none. Built only if a protocol uses it.
        evaluator (dict, list or Evaluator): ``val_evaluator`` (mmengine passes it): the
            metric of a protocol that names none; each protocol gets its own copy.
        gallery_dataloader (dict or DataLoader, optional): the gallery of the single,
            unnamed protocol. Defaults to None.
        protocols (list[dict], optional): ``dict(name, gallery_dataloader, dataloader=None,
            evaluator=None)`` each. Defaults to None.
        fp16 (bool): evaluate under autocast. Defaults to False.
        progress (bool): a progress bar on rank 0 while a gallery is embedded.
            Defaults to True.
        index (dict, optional): rank through a faiss gallery index and keep only
            each query's top K: ``dict(factory='IVF1024,PQ32', topk=100, nprobe=None,
            ef_search=None, exact_ap=True, train_size=None, seed=0)``. ``factory`` is
            a faiss ``index_factory`` string (``'Flat'`` = exact search);
            ``exact_ap=True`` scores each query exactly against the whole gallery
            for AP (nothing of size N kept), False leaves AP out. What stays exact
            under which index: ``docs/gallery_index.md``. Defaults to None (exact
            search, full ranking).
    """

    stage = 'val'


@LOOPS.register_module()
class RetrievalTestLoop(RetrievalLoopMixin, TestLoop):
    """``TestLoop`` twin of :class:`RetrievalValLoop` (same arguments; mmengine passes
    ``test_dataloader`` and ``test_evaluator``)::

        test_cfg = dict(type=RetrievalTestLoop, gallery_dataloader=gallery_dataloader)
    """

    stage = 'test'
