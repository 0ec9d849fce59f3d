"""Deprecated alias of :mod:`gleamkit.synthetic.captions.explanation_writer`
(the captioner left the data layer); kept for one release."""

import sys
import warnings

from gleamkit.synthetic.captions import explanation_writer as _moved

warnings.warn(
    f'{__name__} moved to {_moved.__name__}; the old path is kept for one release',
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
