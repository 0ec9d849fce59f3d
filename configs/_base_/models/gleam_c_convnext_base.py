# GLEAM-C with Sample4Geo's model (ICCV'23, Skyy93/Sample4Geo sample4geo/model.py):
# one timm ConvNeXt-B (ImageNet-22k -> 1k fine-tuned at 384 px) shared by every view; the
# embedding is timm's own average pooling + head LayerNorm (eps 1e-6), L2-normalised -
# Sample4Geo's F.normalize(model(img)) with num_classes=0. Symmetric InfoNCE, label
# smoothing 0.1, learnable temperature initialised at 0.07 (logit scale 1/0.07).
#
# pretrained=True downloads timm's weights from the Hugging Face hub (or uses its cache,
# HF_HUB_OFFLINE=1). Testing a trained checkpoint offline: add
# --cfg-options model.backbone.pretrained=False (the checkpoint holds every weight).
# A Sample4Geo checkpoint converts to this model with
# tools/model_converters/sample4geo_to_gleamkit.py SRC DST --head-norm backbone
# (the head LayerNorm stays in the backbone, which applies it; docs/pretrained_weights.md).
from gleamkit.models import (
    CrossViewDataPreprocessor,
    CrossViewRetriever,
    EmbeddingHead,
    SymmetricInfoNCELoss,
    TimmBackbone,
)

model = dict(
    type=CrossViewRetriever,
    backbone=dict(
        type=TimmBackbone,
        model_name='convnext_base.fb_in22k_ft_in1k_384',
        pretrained=True,
        # timm's pooling and head LayerNorm, initialised from the pretrained head
        pooled=True,
        global_pool='avg',
    ),
    # no projection, no second norm: the pooled 1024-d features are the embedding
    head=dict(type=EmbeddingHead, embed_dim=None, pooling='avg', norm=False),
    loss=dict(type=SymmetricInfoNCELoss, temperature=0.07, label_smoothing=0.1),
    # ImageNet mean / std on the 0-255 scale (timm's record for this model)
    data_preprocessor=dict(
        type=CrossViewDataPreprocessor, mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)
    ),
)
