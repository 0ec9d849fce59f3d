"""Serve the web demo: localise images on a built gallery, verify with GLEAM-X.

    python tools/demo.py --gallery gallery \
        --explainer configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic.py \
        --explainer-checkpoint work_dirs/tiny_qwen2_5_vl_lora_synthetic/epoch_12.pth

The same as ``python -m gleamkit.demo``; see docs/demo.md.
"""

import os.path as osp
import sys

# run from a checkout without `pip install -e .` too
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from gleamkit.demo.__main__ import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
