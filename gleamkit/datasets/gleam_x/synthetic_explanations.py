"""Deprecated alias of :mod:`gleamkit.synthetic.captions.synthetic_explanations` (the captioner left the data
layer); kept for one release."""
import sys
import warnings

from gleamkit.synthetic.captions import synthetic_explanations as _moved

warnings.warn('gleamkit.datasets.gleam_x.synthetic_explanations moved to gleamkit.synthetic.captions.synthetic_explanations; '
              'the old path is kept for one release', DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
