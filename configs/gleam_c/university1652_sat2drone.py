# University-1652 satellite -> drone: the same training as university1652_drone2sat.py
# (Sample4Geo trains one model for both directions); evaluation with the 701 test
# satellite tiles as queries against the 51,355 drone images of gallery_drone.
# results: configs/gleam_c/README.md
from mmengine.config import read_base

with read_base():
    from .university1652_drone2sat import *

for _loader in (
    val_dataloader,
    test_dataloader,
    val_cfg['gallery_dataloader'],
    test_cfg['gallery_dataloader'],
):
    _loader['dataset']['protocol'] = 'satellite->drone'
del _loader
