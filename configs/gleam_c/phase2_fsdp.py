# GLEAM-C phase 2 with FSDP: parameters, gradients and AdamW state sharded over the
# processes (mmengine's FlexibleRunner + FSDPStrategy), for encoders whose DDP replica and
# optimizer state do not fit one GPU. Same model, data and schedule as phase2.py:
#   bash tools/dist_train.sh configs/gleam_c/phase2_fsdp.py 8
# On CPU (gloo) add --cfg-options strategy.model_wrapper.device_id=cpu. Tested against DDP
# in tests/test_tools/test_fsdp.py; details in docs/performance.md ("FSDP").
from mmengine.config import read_base

with read_base():
    from .phase2 import *

runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(type='MMFullyShardedDataParallel', use_orig_params=True),
    # one ordinary checkpoint on rank 0 (tools/test.py loads it in one process);
    # 'local' saves a shard per rank instead
    state_dict_cfg='full',
)
# OptimWrapper's clip_grad would clip each rank's gradient shard by that shard's own norm
optim_wrapper['clip_grad'] = None
