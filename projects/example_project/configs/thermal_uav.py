# A new query view - thermal UAV -> satellite - trained by gleamkit from a project,
# without changing gleamkit. Run from the repository root:
#   python tools/train.py projects/example_project/configs/thermal_uav.py
from mmengine.config import read_base

with read_base():
    # the shipped configs as a package: works from any folder (docs/tutorials/
    # new_loss_and_adapter.md), not only inside the checkout
    from gleamkit.configs.gleam_c.phase1 import *

# registers PseudoThermal into gleamkit's TRANSFORMS (tools/train.py and tools/test.py
# import it; the checkout root is on their path)
custom_imports = dict(imports=['projects.example_project.thermal_view'], allow_failed_imports=False)

_thermal_pipeline = [dict(type='PseudoThermal', view='thermal'), dict(type=PackCrossViewInputs)]
for _loader in (train_dataloader, val_dataloader, test_dataloader):
    _loader['dataset']['views'] = ('uav',)
    _loader['dataset']['pipeline'] = _thermal_pipeline
model['adapter'] = dict(type=ViewSpecificNorm, views=('satellite', 'thermal'))
