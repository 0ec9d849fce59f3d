"""GLEAM-X data: the JSONL format, converters, the chat dataset, the offline set."""

from gleamkit.synthetic.captions.synthetic_explanations import (  # the offline set's writer
    build_synthetic_set,
    ensure_synthetic_set,
)

from .converters import (
    CHAT_FORMATS,
    chat_to_record,
    detect_chat_format,
    export_chat,
    import_chat,
    record_to_chat,
)
from .dataset import GleamXDataset
from .format import GleamXFormatError, GleamXRecord, read_jsonl, resolve_path, write_jsonl
from .label_studio import from_label_studio, label_studio_config, to_label_studio_tasks
from .prompts import DEFAULT_PROMPTS, LABEL_ANSWERS, build_prompt, label_answer

__all__ = [
    'GleamXDataset',
    'GleamXRecord',
    'GleamXFormatError',
    'read_jsonl',
    'write_jsonl',
    'resolve_path',
    'CHAT_FORMATS',
    'record_to_chat',
    'chat_to_record',
    'detect_chat_format',
    'export_chat',
    'import_chat',
    'label_studio_config',
    'to_label_studio_tasks',
    'from_label_studio',
    'DEFAULT_PROMPTS',
    'LABEL_ANSWERS',
    'build_prompt',
    'label_answer',
    'build_synthetic_set',
    'ensure_synthetic_set',
]
