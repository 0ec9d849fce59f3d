# GLEAM-C phase 2 with the speed switches for a GPU: mixed precision (bf16 where the GPU has
# it, else fp16 with loss scaling), channels-last convolutions, torch.compile, 8 persistent
# loader workers per process with pinned memory and asynchronous copies. Same model, data
# and schedule as phase2.py:
#   bash tools/dist_train.sh configs/gleam_c/phase2_fast_gpu.py 8
# What each switch does and what it measured: docs/performance.md. On a CPU without
# AMX / AVX512-bf16, bf16 is slower than fp32; pinned memory needs CUDA (torch ignores
# it, with a warning, elsewhere).
from mmengine.config import read_base

from gleamkit.datasets import PackCrossViewInputs
from gleamkit.engine import MixedPrecisionOptimWrapper

with read_base():
    from .phase2 import *

# tools/train.py --amp does the same; dtype 'auto': bf16 on Ampere or newer, else fp16
optim_wrapper.update(type=MixedPrecisionOptimWrapper, dtype='auto')
model['backbone']['channels_last'] = True
model['data_preprocessor']['non_blocking'] = True  # overlaps copies from pinned memory

# mmengine's Runner compiles model.train_step. Dynamo guards on the Python values in the
# data samples and cannot trace numpy ones: the sample index that BaseDataset adds (a
# numpy int from the sampler) fails the first step, so training keeps only these keys.
# The step still recompiles until torch's recompile limit, then runs the data
# preprocessor eagerly (docs/performance.md, "torch.compile"); compile=False turns it off.
compile = True
# (phase2.py's augmentations stay; only the packing step changes)
train_dataloader['dataset']['pipeline'] = train_dataloader['dataset']['pipeline'][:-1] + [
    dict(
        type=PackCrossViewInputs,
        meta_keys=(
            'view',
            'reference_view',
            'location_id',
            'semi_positive_ids',
            'semi_positive_weights',
            'positive_ids',
            'weight',
            'set_size',
        ),
    ),
]

loading = dict(num_workers=8, persistent_workers=True, pin_memory=True)
train_dataloader.update(loading)
val_dataloader.update(loading)
test_dataloader.update(loading)
val_cfg['gallery_dataloader'].update(loading)  # the galleries the loops embed
test_cfg['gallery_dataloader'].update(loading)
