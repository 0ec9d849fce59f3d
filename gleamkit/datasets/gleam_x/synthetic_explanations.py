"""Deprecated alias of :mod:`gleamkit.synthetic.captions.synthetic_explanations`
(the captioner left the data layer); kept for one release."""

import sys
import warnings

from gleamkit.synthetic.captions import synthetic_explanations as _moved

warnings.warn(
    f'{__name__} moved to {_moved.__name__}; the old path is kept for one release',
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
