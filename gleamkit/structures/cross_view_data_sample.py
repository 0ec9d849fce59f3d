"""The data sample that travels with every image through gleamkit."""

from mmengine.structures import BaseDataElement


class CrossViewDataSample(BaseDataElement):
    """One query image, one reference (satellite) image, or a pair of both.

    Meta fields (set with ``set_metainfo``; plain Python values):
        view (str): the query view: ``'uav'``, ``'map'``, ``'panorama'``,
            ``'ground'`` or ``'satellite'`` (for gallery items).
        location_id (int): the place the image shows. Two images with the same
            ``location_id`` are a true match. ``-1`` marks junk gallery items.
        semi_positive_ids (list[int]): places whose satellite tile overlaps this
            one (VIGOR-style semi-positives), optional.
        lat, lon (float): WGS84 position of the place, optional.
        img_path / query_path / reference_path (str): where the image came from.

    Data fields (set by the model in ``predict`` mode):
        embedding (Tensor): the L2-normalised embedding of the query.
        pred_ranked_ids (np.ndarray[int64]): gallery ``location_id``\\ s sorted by
            descending similarity (the full ranking, length = gallery size).
        pred_scores (np.ndarray[float32]): the matching similarities.
        pred_lat, pred_lon (float): position of the top-1 gallery item, if known.
    """
