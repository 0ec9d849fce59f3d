"""``GeoLocalizer``: a trained GLEAM-C model, a gallery index, and the answer to
"where was this image taken?"."""

import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import print_log

from gleamkit.index import GalleryIndex, config_digest, finished_shards, sha256_file
from gleamkit.index.shards import write_embedding_shard
from gleamkit.index.storage import write_json

from .localization_result import (
    LocalizationResult,
    RetrievedTile,
    estimate_position,
    geodesic_distance_m,
)
from .query_images import as_query_list, read_image, resize_image, view_input_sizes

__all__ = ['GeoLocalizer', 'GALLERY_INFO', 'NO_CHECKPOINT']

GALLERY_INFO = 'gallery.json'  # what the gallery was built from (source, tiling, model)
SHARDS_DIR = 'shards'
INDEX_DIR = 'index'
#: The checkpoint digest recorded for a randomly initialised model.
NO_CHECKPOINT = 'none:randomly-initialised'
PathLike = Union[str, os.PathLike]


def _progress(total: int, enabled: bool):
    if not enabled or total <= 0:
        return None
    from mmengine.utils import ProgressBar

    return ProgressBar(total)


def _rank_world() -> tuple:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class GeoLocalizer:
    """Localise images with a GLEAM-C model (:class:`CrossViewRetriever`) and a
    gallery of georeferenced satellite tiles.

    Args:
        config: a config file path or :class:`mmengine.Config` whose ``model`` is
            the retriever.
        checkpoint: the trained weights (loaded strictly, with
            :func:`gleamkit.utils.checkpoint.safe_load_checkpoint`). Defaults to None
            (randomly initialised from ``seed``: for tests and smoke runs only).
        device: ``'auto'`` (CUDA if available), ``'cpu'``, ``'cuda:0'``, ...
            Defaults to ``'auto'``.
        input_sizes: ``{view: (h, w)}`` overriding the sizes read from the config's
            test pipeline. Defaults to None.
        seed: torch seed of a randomly initialised model. Defaults to 0.
        explainer: the GLEAM-X explainer that verifies tiles
            (``localize(..., rerank=k)``): a config dict, a config file, an adapter
            directory or a built explainer. Defaults to None: the config's
            ``verification.explainer``, loaded on the first re-ranking call.
        explainer_checkpoint: the explainer's trained weights (the checkpoint
            ``tools/train.py`` wrote for its config; safe loader). Defaults to None.
        fusion_weight: weight of P(match) in the fused score (see
            :mod:`gleamkit.apis.verification`). Defaults to None: the config's
            ``verification.fusion_weight``, else 0.5.

    Example:
        >>> loc = GeoLocalizer('configs/gleam_c/phase2.py', 'work_dirs/phase2/epoch_2.pth')
        >>> loc.build_gallery('region.tif', 'gallery', tile_m=150, stride_m=75)
        >>> result = loc.localize('drone.jpg', view='uav', topk=10)
        >>> result.lat, result.lon, result.radius_m
    """

    def __init__(
        self,
        config: Union[PathLike, Config],
        checkpoint: Optional[PathLike] = None,
        device: str = 'auto',
        input_sizes: Optional[Dict[str, Sequence[int]]] = None,
        seed: int = 0,
        explainer: Any = None,
        fusion_weight: Optional[float] = None,
        explainer_checkpoint: Optional[PathLike] = None,
    ):
        import gleamkit.datasets  # noqa: F401  register datasets and transforms
        import gleamkit.models  # noqa: F401  register the model components
        from gleamkit.registry import MODELS

        if not isinstance(config, Config):
            path = os.fspath(config)
            if not os.path.isfile(path):
                raise FileNotFoundError(f'config file not found: {path}')
            config = Config.fromfile(path)
        if 'model' not in config:
            raise KeyError(
                f'config {getattr(config, "filename", "")} has no "model" key; '
                'give a GLEAM-C config (e.g. configs/gleam_c/phase2.py)'
            )
        self.cfg = config
        filename = getattr(config, 'filename', None)
        self.config_path = os.path.abspath(filename) if filename else None
        if device == 'auto':
            # under torchrun each rank has set its own GPU (mmengine's init_dist)
            device = f'cuda:{torch.cuda.current_device()}' if torch.cuda.is_available() else 'cpu'
        self.device = torch.device(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = MODELS.build(config.model)
        if not hasattr(self.model, 'extract_feat') or not hasattr(self.model, 'embed'):
            raise TypeError(
                f'config model {type(self.model).__name__} is not a retriever '
                'with extract_feat/embed (CrossViewRetriever)'
            )
        self.checkpoint = None if checkpoint is None else os.path.abspath(checkpoint)
        if self.checkpoint is not None:
            self._load_checkpoint(self.checkpoint)
            self.checkpoint_digest = sha256_file(self.checkpoint)  # 'sha256:<hex>'
        else:
            print_log(
                'GeoLocalizer: no checkpoint given; the model is randomly initialised '
                '(its answers are meaningless except for tests).',
                logger='current',
                level=logging.WARNING,
            )
            self.checkpoint_digest = NO_CHECKPOINT
        self.config_digest = config_digest(config.model)
        self.model.to(self.device).eval()
        sizes, default = view_input_sizes(config)
        sizes.update({k: tuple(int(s) for s in v) for k, v in (input_sizes or {}).items()})
        self.input_sizes, self.default_size = sizes, default
        self.reference_view = getattr(self.model, 'reference_view', 'satellite')
        self.gallery: Optional[GalleryIndex] = None
        self.gallery_dir: Optional[Path] = None
        self.gallery_info: Dict[str, Any] = {}
        verification = dict(config.get('verification') or {})
        self._explainer_spec = explainer if explainer is not None else verification.get('explainer')
        self._explainer = None
        self._explainer_checkpoint = explainer_checkpoint
        from .verification import DEFAULT_FUSION_WEIGHT, fuse_score

        if fusion_weight is None:
            fusion_weight = verification.get('fusion_weight', DEFAULT_FUSION_WEIGHT)
        fuse_score(0.0, 0.5, float(fusion_weight))  # validates the weight
        self.fusion_weight = float(fusion_weight)

    # ------------------------------------------------------------------ model
    def _load_checkpoint(self, path: str) -> None:
        from gleamkit.utils.checkpoint import safe_load_checkpoint

        ckpt = safe_load_checkpoint(path, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict):
            raise ValueError(f'checkpoint {path} holds no state_dict (got {type(ckpt).__name__})')
        state = {k[len('module.') :] if k.startswith('module.') else k: v for k, v in state.items()}
        result = self.model.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise ValueError(
                f"checkpoint {path} does not fit the config's model: "
                f'{len(result.missing_keys)} missing keys (e.g. {result.missing_keys[:3]}), '
                f'{len(result.unexpected_keys)} unexpected (e.g. '
                f'{result.unexpected_keys[:3]}). Give the config the checkpoint was trained '
                'with.'
            )

    def input_size(self, view: str):
        """``(h, w)`` the model sees images of ``view`` at."""
        return self.input_sizes.get(view, self.default_size)

    @torch.no_grad()
    def _embed(self, images: List[Any], views: List[str], key: str) -> torch.Tensor:
        """Embed one batch with the code the evaluation gallery uses
        (:func:`~gleamkit.engine.gallery_embedding.iter_embeddings`: data preprocessor,
        then the model's ``tensor`` mode): ``images`` are CHW uint8 tensors (or
        S x C x H x W image sets)."""
        from gleamkit.engine.gallery_embedding import iter_embeddings
        from gleamkit.structures import CrossViewDataSample

        samples = []
        for view in views:
            sample = CrossViewDataSample()
            sample.set_metainfo(dict(view=view, reference_view=view))
            samples.append(sample)
        batch = dict(inputs={key: images}, data_samples=samples)
        emb, _ = next(iter_embeddings(self.model, [batch], key, owner='GeoLocalizer'))
        return emb.float().cpu()

    # ------------------------------------------------------------------ gallery
    def _gallery_dataset_cfg(self, source, tile_m, stride_m, tile_options) -> dict:
        from gleamkit.datasets.tile_gallery import gallery_dataset_config

        size = self.input_size(self.reference_view)
        pipeline = [
            dict(type='ResizeViews', sizes={self.reference_view: size}),
            dict(type='PackCrossViewInputs'),
        ]
        if isinstance(source, dict):
            cfg = dict(source)
            cfg.setdefault('pipeline', pipeline)
            return cfg
        options = dict(tile_options or {})
        # absolute: gallery.json is read (for report tiles) from other working directories
        path = os.path.abspath(os.path.expanduser(os.fspath(source)))
        if not os.path.exists(path):
            raise FileNotFoundError(
                f'gallery source not found: {path}; give a raster '
                '(GeoTIFF), a slippy-map folder <z>/<x>/<y>.png or a tile '
                'list (.csv/.json) (see docs/gallery_sources.md)'
            )
        is_raster = os.path.isfile(path) and not path.lower().endswith(
            ('.csv', '.tsv', '.txt', '.json', '.jsonl', '.ndjson')
        )
        if is_raster:
            if tile_m is not None:
                options.setdefault('tile_m', tile_m)
            if stride_m is not None:
                options.setdefault('stride_m', stride_m)
            options.setdefault('out_size', int(max(size)))
        elif tile_m is not None or stride_m is not None:
            raise ValueError(
                f'tile_m/stride_m cut a raster; {path} is a tile folder or list '
                'whose tiles are used as they are'
            )
        elif os.path.isfile(path):  # a tile list: its paths are relative to its folder
            options.setdefault('data_root', os.path.dirname(path))
        return gallery_dataset_config(path, pipeline=pipeline, **options)

    def build_gallery(
        self,
        source,
        out_dir: PathLike,
        tile_m: Optional[float] = None,
        stride_m: Optional[float] = None,
        batch_size: int = 64,
        index: Optional[str] = None,
        memory_budget: Optional[int] = None,
        shard_size: int = 4096,
        tile_options: Optional[dict] = None,
        num_workers: int = 0,
        overwrite: bool = False,
        progress: bool = True,
    ) -> GalleryIndex:
        """Embed every tile of ``source`` and save a searchable gallery in ``out_dir``.

        ``out_dir`` gets ``shards/`` (embeddings, written shard by shard: a build that
        was killed resumes from its finished shards and embeds only the rest),
        ``index/`` (the :class:`GalleryIndex` with its manifest: the model's config
        and checkpoint digests) and ``gallery.json`` (the source and tiling). Under
        ``torchrun`` (torch.distributed initialised) rank ``r`` of ``W`` embeds the
        shards ``r, r + W, ...`` and rank 0 builds the index once all are written.

        Args:
            source: a raster (GeoTIFF), a slippy-map folder, a tile list (.csv/.json)
                or a gallery dataset config dict.
            out_dir: the gallery directory.
            tile_m: raster tile side in ground metres. Defaults to None (the
                dataset's default).
            stride_m: raster tile step in metres. Defaults to None (half the tile).
            batch_size: tiles embedded at once. Defaults to 64.
            index: faiss ``index_factory`` string (``'Flat'``, ``'HNSW32'``,
                ``'IVF1024,PQ32'``, ...). Defaults to None (picked from the gallery
                size and ``memory_budget``).
            memory_budget: bytes the index may take (for the default pick).
                Defaults to None.
            shard_size: tiles per shard (the unit of resuming). Defaults to 4096.
            tile_options: more raster options (``out_size``, ``edge``, ``bands``,
                ``value_range``, ...; see docs/gallery_sources.md). Defaults to None.
            num_workers: data loader workers. Defaults to 0.
            overwrite: replace an existing index in ``out_dir`` (finished shards are
                still reused). Defaults to False.
            progress: show progress bars. Defaults to True.

        Returns:
            The built :class:`GalleryIndex`; it is also the one :meth:`localize` uses.
        """
        from mmengine.dataset import pseudo_collate
        from torch.utils.data import DataLoader, Subset

        from gleamkit.registry import DATASETS

        out_dir = Path(out_dir)
        index_dir = out_dir / INDEX_DIR
        if (index_dir / 'manifest.json').is_file() and not overwrite:
            raise FileExistsError(
                f'{index_dir} already holds a gallery index; load it with '
                'load_gallery(), or pass overwrite=True to rebuild it'
            )
        dataset_cfg = self._gallery_dataset_cfg(source, tile_m, stride_m, tile_options)
        dataset = DATASETS.build(dataset_cfg)
        total = len(dataset)
        if total == 0:
            raise ValueError(
                f'the gallery source {source} has no tiles; check the tile '
                'size against the region (and its nodata)'
            )
        if shard_size < 1:
            raise ValueError(f'shard_size must be >= 1, got {shard_size}')
        num_shards = math.ceil(total / shard_size)
        shard_root = out_dir / SHARDS_DIR
        self._check_resumable(out_dir, dataset_cfg, total, shard_size)
        rank, world = _rank_world()
        done = finished_shards(shard_root, world_size=num_shards)
        self._check_shard_models(done)
        todo = [s for s in range(num_shards) if s % world == rank and s not in done]
        if done:
            print_log(
                f'GeoLocalizer.build_gallery: {len(done)} of {num_shards} shards already '
                f'embedded in {shard_root}; embedding the other {len(todo)}.',
                logger='current',
            )
        bar = _progress(sum(min(shard_size, total - s * shard_size) for s in todo), progress)
        # shards of its own around the shared per-batch embedding (_embed): embed_gallery
        # gathers a whole gallery in memory on every rank, without shards or metadata
        for shard in todo:
            positions = list(range(shard * shard_size, min(total, (shard + 1) * shard_size)))
            loader = DataLoader(
                Subset(dataset, positions),
                batch_size=batch_size,
                shuffle=False,
                num_workers=num_workers,
                collate_fn=pseudo_collate,
            )
            chunks = []
            for batch in loader:
                images = batch['inputs']['reference']
                views = [
                    s.metainfo.get('reference_view', self.reference_view)
                    for s in batch['data_samples']
                ]
                chunks.append(self._embed(images, views, 'reference'))
                if bar is not None:
                    bar.update(len(images))
            metadata = [self._tile_row(dataset, p) for p in positions]
            write_embedding_shard(
                shard_root,
                shard,
                num_shards,
                torch.cat(chunks),
                positions,
                metadata,
                config_digest=self.config_digest,
                checkpoint_digest=self.checkpoint_digest,
            )
        if bar is not None:
            print()
        if world > 1:
            torch.distributed.barrier()
            if rank != 0:
                return None
        gallery = GalleryIndex.from_shards(
            shard_root,
            factory=index,
            expected_count=total,
            config_digest=self.config_digest,
            checkpoint_digest=self.checkpoint_digest,
            model_info=dict(config=self.config_path, checkpoint=self.checkpoint),
            memory_budget_bytes=memory_budget,
            device=str(self.device),
        )
        gallery.save(index_dir, overwrite=overwrite)
        self._write_info(out_dir, dataset_cfg, total, shard_size, gallery)
        return self.load_gallery(out_dir)

    @staticmethod
    def _tile_row(dataset, position: int) -> dict:
        info = dataset.get_data_info(position)
        row = dict(
            id=str(info.get('tile_id', position)),
            lat=float(info['lat']),
            lon=float(info['lon']),
            position=int(position),
        )
        footprint = info.get('footprint')
        if footprint is not None and len(footprint) == 4:
            row['footprint'] = np.asarray(footprint, dtype=np.float64)
        return row

    def _check_shard_models(self, done: Dict[int, Path]) -> None:
        for path in done.values():
            model = json.loads((path / 'shard.json').read_text()).get('model') or {}
            if (
                model.get('config_digest') != self.config_digest
                or model.get('checkpoint_digest') != self.checkpoint_digest
            ):
                raise ValueError(
                    f'{path} was embedded by another model (config {model.get("config_digest")}'
                    f', checkpoint {model.get("checkpoint_digest")}); this model is config '
                    f'{self.config_digest}, checkpoint {self.checkpoint_digest}. Use another '
                    f'out_dir, or delete {path.parent} to embed the gallery again.'
                )

    @staticmethod
    def _plan(dataset_cfg: dict, total: int, shard_size: int) -> dict:
        return dict(
            dataset=json.loads(json.dumps(dataset_cfg, default=str)),
            count=total,
            shard_size=shard_size,
        )

    def _check_resumable(
        self, out_dir: Path, dataset_cfg: dict, total: int, shard_size: int
    ) -> None:
        """Shards are only reused for the same tiles: record the plan, refuse another."""
        plan = self._plan(dataset_cfg, total, shard_size)
        path = out_dir / SHARDS_DIR / 'plan.json'
        rank, world = _rank_world()
        if rank == 0 and not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f'.plan.json.tmp-{os.getpid()}')
            write_json(tmp, plan)
            os.replace(tmp, path)  # other ranks never read a half-written plan
        if world > 1:
            torch.distributed.barrier()
        previous = json.loads(path.read_text())
        if previous != plan:
            raise ValueError(
                f'{out_dir / SHARDS_DIR} holds shards of another gallery plan '
                f'({previous.get("count")} tiles, shard_size {previous.get("shard_size")}, '
                f'dataset {previous.get("dataset")}); now: {total} tiles, shard_size '
                f'{shard_size}, dataset {plan["dataset"]}. Use another out_dir or delete '
                'the old shards.'
            )

    def _write_info(
        self, out_dir: Path, dataset_cfg: dict, total: int, shard_size: int, gallery: GalleryIndex
    ) -> None:
        dataset = json.loads(json.dumps(dataset_cfg, default=str))
        write_json(
            out_dir / GALLERY_INFO,
            dict(
                dataset=dataset,
                raster=dataset.get('raster'),
                count=total,
                shard_size=shard_size,
                factory=gallery.factory,
                reference_view=self.reference_view,
                input_sizes={k: list(v) for k, v in self.input_sizes.items()},
                model=dict(
                    config=self.config_path,
                    checkpoint=self.checkpoint,
                    config_digest=self.config_digest,
                    checkpoint_digest=self.checkpoint_digest,
                ),
            ),
        )

    def load_gallery(self, gallery_dir: PathLike) -> GalleryIndex:
        """Load a gallery written by :meth:`build_gallery` (its directory, or its
        ``index/``), refusing one embedded by another model
        (:class:`gleamkit.index.GalleryIndexMismatchError`)."""
        gallery_dir = Path(gallery_dir)
        index_dir = gallery_dir / INDEX_DIR
        if not index_dir.is_dir() and (gallery_dir / 'manifest.json').is_file():
            index_dir, gallery_dir = gallery_dir, gallery_dir.parent
        self.gallery = GalleryIndex.load(
            index_dir,
            config_digest=self.config_digest,
            checkpoint_digest=self.checkpoint_digest,
            device=str(self.device),
        )
        if len(self.gallery) == 0:
            raise ValueError(
                f'gallery {gallery_dir} is empty; build it again from a source with tiles'
            )
        info_path = gallery_dir / GALLERY_INFO
        self.gallery_info = json.loads(info_path.read_text()) if info_path.is_file() else {}
        self.gallery_dir = gallery_dir
        return self.gallery

    def gallery_dataset(self):
        """The gallery's dataset (to read tile pixels for a report), or None."""
        from gleamkit.registry import DATASETS

        cfg = self.gallery_info.get('dataset')
        return DATASETS.build(cfg) if cfg else None

    # ------------------------------------------------------------------ queries
    def embed_queries(
        self, images, view: Union[None, str, Sequence[str]] = None, batch_size: int = 32
    ):
        """``(embeddings (Q, D), views, names, single)`` of the queries (see
        :meth:`localize` for what ``images`` and ``view`` may be)."""
        queries, single = as_query_list(images)
        if view is None or isinstance(view, str):
            views = [view or ('ground' if len(q) > 1 else 'uav') for q in queries]
        else:
            views = list(view)
            if len(views) != len(queries):
                raise ValueError(f'{len(views)} views for {len(queries)} queries')
        names = [
            ' + '.join(
                os.fspath(m) if isinstance(m, (str, os.PathLike)) else f'query_{i}' for m in q
            )
            for i, q in enumerate(queries)
        ]
        embeddings = []
        for start in range(0, len(queries), batch_size):
            tensors = []
            for i in range(start, min(len(queries), start + batch_size)):
                size = self.input_size(views[i])
                # np.array: a writable copy (PIL arrays are read-only)
                members = [
                    torch.from_numpy(np.array(resize_image(read_image(m, f'query {i}'), size)))
                    .permute(2, 0, 1)
                    .contiguous()
                    for m in queries[i]
                ]
                tensors.append(members[0] if len(members) == 1 else torch.stack(members))
            embeddings.append(self._embed(tensors, views[start : start + len(tensors)], 'query'))
        return torch.cat(embeddings).numpy(), views, names, single

    def localize(
        self,
        images,
        view: Union[None, str, Sequence[str]] = None,
        topk: int = 10,
        true_latlon=None,
        margin: float = 0.05,
        batch_size: int = 32,
        rerank: int = 0,
        explain: bool = False,
        language: str = 'en',
    ):
        """Where were ``images`` taken?

        Args:
            images: a file path, PIL image or ``H x W x 3`` array (one query); a list
                of them (one query each); a list item that is itself a list is an
                image set (e.g. several ground photos of one place): one query whose
                embedding aggregates its members (the model's ``set_aggregation``).
            view: the queries' view (``'uav'``, ``'ground'``, ``'panorama'``,
                ``'map'``), one for all or one per query. Defaults to None:
                ``'uav'`` for single images, ``'ground'`` for image sets.
            topk: tiles returned per query. Defaults to 10.
            true_latlon: ``(lat, lon)`` per query (or one pair for one query) to
                measure ``error_m``; None entries skip it. Defaults to None.
            margin: score margin of the tiles the estimate averages
                (:func:`estimate_position`). Defaults to 0.05.
            batch_size: queries embedded at once. Defaults to 32.
            rerank: re-score the top ``rerank`` tiles with the explainer and re-order
                them by the fused score (:mod:`gleamkit.apis.verification`); the
                estimate then averages the re-ranked tiles by fused score. 0: off.
                Defaults to 0.
            explain: also have the explainer write an explanation per verified
                tile (slower: it generates). Defaults to False.
            language: ``'en'`` or ``'zh'``, the explainer's prompt language.
                Defaults to ``'en'``.

        Returns:
            One :class:`LocalizationResult` for one query, else a list of them.
        """
        if self.gallery is None:
            raise RuntimeError('no gallery loaded: call build_gallery() or load_gallery() first')
        embeddings, views, names, single = self.embed_queries(images, view, batch_size)
        truths = self._truths(true_latlon, len(names), single)
        found = self.gallery.search(embeddings, k=topk)
        results = []
        for q in range(len(names)):
            tiles = []
            for rank, (score, row) in enumerate(zip(found.scores[q], found.rows[q]), 1):
                if row is None:
                    continue
                footprint = row.get('footprint')
                tiles.append(
                    RetrievedTile(
                        rank=rank,
                        tile_id=str(row['id']),
                        score=float(score),
                        lat=float(row['lat']),
                        lon=float(row['lon']),
                        footprint=[list(map(float, c)) for c in footprint]
                        if footprint is not None
                        else [],
                        index=int(row.get('position', found.indices[q][rank - 1])),
                    )
                )
            verification = None
            if rerank > 0 and tiles:
                tiles, verification = self._rerank(
                    images, q, single, views[q], tiles, rerank, explain, language
                )
            lat, lon, radius, support = estimate_position(_by_fused(tiles), margin=margin)
            result = LocalizationResult(
                verification=verification,
                query=names[q],
                view=views[q],
                tiles=tiles,
                lat=lat,
                lon=lon,
                radius_m=radius,
                num_support=support,
            )
            if truths[q] is not None:
                result.true_lat, result.true_lon = map(float, truths[q])
                result.error_m = geodesic_distance_m(lat, lon, *truths[q])
                result.top1_error_m = geodesic_distance_m(tiles[0].lat, tiles[0].lon, *truths[q])
            results.append(result)
        return results[0] if single else results

    # ------------------------------------------------------------------ verification
    @property
    def explainer(self):
        """The GLEAM-X explainer (loaded on first use), or None when none is set."""
        if self._explainer is None and self._explainer_spec is not None:
            from .verification import load_explainer

            self._explainer = load_explainer(
                self._explainer_spec, self._explainer_checkpoint, device=str(self.device)
            )
        return self._explainer

    def _rerank(self, images, q, single, view, tiles, rerank, explain, language):
        """Verify the top ``rerank`` tiles; on any failure keep the retrieval order."""
        import time

        from .verification import fuse_score, verify_tiles

        info = dict(
            status='ok',
            message='',
            rerank=int(rerank),
            fusion_weight=self.fusion_weight,
            language=language,
        )
        start = time.perf_counter()
        head = tiles[:rerank]
        try:
            explainer = self.explainer
            if explainer is None:
                raise RuntimeError(
                    'no explainer: give GeoLocalizer(explainer=...) or '
                    'verification=dict(explainer=...) in the config'
                )
            queries, _ = as_query_list(images)
            query_image = read_image(queries[0 if single else q][0], f'query {q}')
            dataset = self.gallery_dataset()
            if dataset is None:
                raise RuntimeError('the gallery records no source to read tile pixels from')
            verdicts = verify_tiles(
                explainer,
                np.asarray(query_image),
                [_tile_pixels(dataset, t.index) for t in head],
                view=view,
                language=language,
                explain=explain,
            )
        except Exception as err:  # a failed verifier must not lose the retrieval answer
            info.update(status='failed', message=f'{type(err).__name__}: {err}')
            info['seconds'] = time.perf_counter() - start
            print_log(
                f'GeoLocalizer: verification failed, keeping the retrieval order: '
                f'{info["message"]}',
                logger='current',
                level=logging.WARNING,
            )
            return tiles, info
        for tile, v in zip(head, verdicts):
            tile.retrieval_rank = tile.rank
            tile.p_match, tile.verdict = v['p_match'], v['verdict']
            tile.explanation = v['explanation']
            tile.fused_score = fuse_score(tile.score, v['p_match'], self.fusion_weight)
        head = sorted(head, key=lambda t: -t.fused_score)
        for tile in tiles[rerank:]:
            tile.retrieval_rank = tile.rank
        tiles = head + tiles[rerank:]
        for rank, tile in enumerate(tiles, 1):
            tile.rank = rank
        info['seconds'] = time.perf_counter() - start
        return tiles, info

    @staticmethod
    def _truths(true_latlon, count: int, single: bool) -> list:
        if true_latlon is None:
            return [None] * count
        if single and len(true_latlon) == 2 and np.isscalar(true_latlon[0]):
            true_latlon = [true_latlon]
        truths = list(true_latlon)
        if len(truths) != count:
            raise ValueError(f'true_latlon has {len(truths)} entries for {count} queries')
        for i, t in enumerate(truths):
            if t is not None and (len(t) != 2 or not all(np.isfinite(np.asarray(t, float)))):
                raise ValueError(f'true_latlon[{i}] must be (lat, lon), got {t!r}')
        return [None if t is None else (float(t[0]), float(t[1])) for t in truths]


def _tile_pixels(dataset, position: int):
    """A gallery tile as an ``H x W x 3`` uint8 array, or None when unreadable."""
    if position < 0:
        return None
    try:
        image = dataset[position]['inputs']['reference']
    except Exception:  # a missing tile file: verify_tiles says so
        return None
    image = image.permute(1, 2, 0).numpy() if hasattr(image, 'permute') else np.asarray(image)
    return np.ascontiguousarray(image.astype(np.uint8))


def _by_fused(tiles):
    """The tiles the position estimate uses: the re-ranked ones with their fused score
    as the score (re-ranked order), or all of them untouched without re-ranking."""
    import dataclasses

    if not tiles or tiles[0].fused_score is None:
        return tiles
    return [dataclasses.replace(t, score=t.fused_score) for t in tiles if t.fused_score is not None]
