"""Deprecated alias of :mod:`gleamkit.synthetic` (the simulator left the data layer).

``import gleamkit.datasets.synthetic`` (and its old submodules ``world``, ``layout``,
``geo``, ``render``, ``cache``, ``preview``) and ``python -m gleamkit.datasets.synthetic``
keep working for one release with a ``DeprecationWarning``; use ``gleamkit.synthetic`` and
``python -m gleamkit.synthetic``.
"""

import sys
import warnings

from gleamkit.synthetic import *  # noqa: F401,F403
from gleamkit.synthetic import (  # noqa: F401
    __all__,  # noqa: F401
    cache,
    preview,
    render,
)
from gleamkit.synthetic import __main__ as _cli
from gleamkit.synthetic.world import geo, layout  # noqa: F401
from gleamkit.synthetic.world import synthetic_world as world  # noqa: F401

_OLD = 'gleamkit.datasets.synthetic'
MESSAGE = (
    f'{_OLD} moved to gleamkit.synthetic (the command line: python -m gleamkit.synthetic); '
    'the old path is kept for one release'
)

# `from gleamkit.datasets.synthetic.cache import ...` keeps finding the moved modules
for _name, _module in dict(
    world=world, layout=layout, geo=geo, render=render, cache=cache, preview=preview, __main__=_cli
).items():
    sys.modules.setdefault(f'{_OLD}.{_name}', _module)

if __name__ == '__main__':
    # a command line user does not see DeprecationWarnings by default: say it plainly
    print(f'DeprecationWarning: {MESSAGE}', file=sys.stderr)
    sys.exit(_cli.main())
warnings.warn(MESSAGE, DeprecationWarning, stacklevel=2)
