"""A University-1652-layout folder rendered from the built-in world.

The benchmarks that train a real-data config need images that look like the
benchmark's (a drone view and a north-up tile of each place) in its exact folder
layout, without the 1652 buildings. :func:`make_university1652_replica` renders
them from :class:`~gleamkit.datasets.synthetic.SyntheticWorld` and writes
``University-Release/{train,test}/...`` as the real release names its files, so
``University1652Dataset`` reads it unchanged:

* ``train/drone/<id>/image-XX.jpeg``: ``drones_train`` drone views per training
  place (the canonical render and further draws of camera, light and season);
* ``train/satellite/<id>/<id>.jpg``: the place's tile;
* ``test/query_drone/<id>/...``: ``drones_test`` drone views per test place;
* ``test/gallery_satellite/<id>/<id>.jpg``: the test places' tiles and the
  distractor tiles (places with no query folder, as the real 250).

Test places lie in the world's eastern strip, spatially apart from the training
ones (cross-area). The folder is cached by its arguments (a ``DONE`` file).
"""

import json
import os
import os.path as osp

import cv2


def _write(path: str, img) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    # RGB -> BGR for OpenCV; quality 95 as JPEGs of the real release
    cv2.imwrite(path, img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])


def make_university1652_replica(
    root: str,
    num_train: int = 400,
    num_test: int = 150,
    num_distractors: int = 100,
    image_size: int = 128,
    drones_train: int = 3,
    drones_test: int = 2,
    seed: int = 0,
) -> dict:
    """Write (or reuse) the replica under ``root`` and return its description.

    Args:
        root (str): the ``University-Release`` folder to write.
        num_train (int): training places. Defaults to 400.
        num_test (int): test places (query folders). Defaults to 150.
        num_distractors (int): gallery-only tiles. Defaults to 100.
        image_size (int): side of every image in pixels. Defaults to 128.
        drones_train (int): drone images per training place. Defaults to 3.
        drones_test (int): drone images per test place. Defaults to 2.
        seed (int): the world's seed. Defaults to 0.
    """
    from gleamkit.datasets.synthetic import SyntheticWorld

    args = dict(
        num_train=num_train,
        num_test=num_test,
        num_distractors=num_distractors,
        image_size=image_size,
        drones_train=drones_train,
        drones_test=drones_test,
        seed=seed,
    )
    done = osp.join(root, 'DONE')
    if osp.isfile(done):
        with open(done) as f:
            if json.load(f) == args:
                return dict(args, root=root)
        raise FileExistsError(
            f'{root} holds a replica made with other arguments ({done}); pick another folder'
        )
    # enough locations for both splits; the test strip is the eastern quarter
    world = SyntheticWorld(
        seed=seed,
        num_locations=int((num_train + num_test) * 1.35),
        num_distractors=num_distractors,
        image_size=image_size,
        test_fraction=0.3,
    )
    train_ids = world.split_ids('train')[:num_train]
    test_ids = world.split_ids('test')[:num_test]
    if len(train_ids) < num_train or len(test_ids) < num_test:
        raise ValueError(
            f'the world has {len(train_ids)} training and {len(test_ids)} test '
            f'places, fewer than asked ({num_train}, {num_test})'
        )

    def name(i):
        return f'{i:04d}'

    for i in train_ids:
        _write(
            osp.join(root, 'train', 'satellite', name(i), f'{name(i)}.jpg'),
            world.render(i, 'satellite'),
        )
        for k in range(drones_train):
            _write(
                osp.join(root, 'train', 'drone', name(i), f'image-{k + 1:02d}.jpeg'),
                world.render(i, 'uav', rng_seed=None if k == 0 else k),
            )
    for i in test_ids:
        _write(
            osp.join(root, 'test', 'gallery_satellite', name(i), f'{name(i)}.jpg'),
            world.render(i, 'satellite'),
        )
        for k in range(drones_test):
            # draws no training image uses (rng_seed 100+)
            _write(
                osp.join(root, 'test', 'query_drone', name(i), f'image-{k + 1:02d}.jpeg'),
                world.render(i, 'uav', rng_seed=100 + k),
            )
    for i in world.distractor_ids:
        _write(
            osp.join(root, 'test', 'gallery_satellite', name(i), f'{name(i)}.jpg'),
            world.render(i, 'satellite'),
        )
    with open(done, 'w') as f:
        json.dump(args, f)
    return dict(args, root=root)
