"""Models: backbones, modality adapters, heads, losses, retrievers (GLEAM-C)."""

from .adapters import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .explainers import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403  (deprecated alias of heads)
from .retrievers import *  # noqa: F401,F403
