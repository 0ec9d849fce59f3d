# GLEAM-C: one shared timm encoder for every view + per-view normalisation adapter.
from gleamkit.models import (
    CrossViewDataPreprocessor,
    CrossViewRetriever,
    EmbeddingHead,
    SymmetricInfoNCELoss,
    TimmBackbone,
    ViewSpecificNorm,
)

model = dict(
    type=CrossViewRetriever,
    # pretrained=True downloads timm's ImageNet weights (needs internet)
    backbone=dict(type=TimmBackbone, model_name='resnet18', pretrained=False),
    adapter=dict(type=ViewSpecificNorm),
    head=dict(type=EmbeddingHead, embed_dim=256, pooling='avg'),
    loss=dict(type=SymmetricInfoNCELoss, temperature=0.07, label_smoothing=0.1),
    data_preprocessor=dict(type=CrossViewDataPreprocessor),
)
