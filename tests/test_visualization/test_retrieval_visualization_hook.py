"""The ``--show-dir`` hook's settings and its place in a config (the drawing itself runs in
test_test_show_dir.py through tools/test.py)."""

from types import SimpleNamespace

import pytest
from mmengine.config import Config

from gleamkit.engine.hooks import RetrievalVisualizationHook, add_visualization_hook
from gleamkit.registry import HOOKS


def test_add_visualization_hook_keeps_the_configs_own_hooks():
    cfg = Config(dict(custom_hooks=[dict(type='EMAHook')]))
    add_visualization_hook(cfg, 'show', 3)
    assert cfg.custom_hooks[0] == dict(type='EMAHook')
    hook = HOOKS.build(cfg.custom_hooks[1])  # a registered name: the config dumps as text
    assert isinstance(hook, RetrievalVisualizationHook)
    assert (hook.out_dir, hook.num_queries, hook.topk) == ('show', 3, 5)
    empty = Config(dict())
    add_visualization_hook(empty, 'show', 2, topk=3)
    assert empty.custom_hooks[0]['topk'] == 3


@pytest.mark.parametrize(
    'kwargs, message',
    [
        (dict(out_dir=''), 'out_dir is empty'),
        (dict(out_dir='d', num_queries=-1), 'num_queries=-1'),
        (dict(out_dir='d', topk=0), 'topk=0'),
        (dict(out_dir='d', max_k=2.5), 'max_k=2.5'),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RetrievalVisualizationHook(**kwargs)


def test_a_test_loop_without_a_gallery_is_refused():
    hook = RetrievalVisualizationHook('d')
    runner = SimpleNamespace(test_loop=SimpleNamespace(dataloader=object()))
    with pytest.raises(RuntimeError, match='RetrievalTestLoop'):
        hook.after_test_iter(runner, 0, data_batch={}, outputs=[])
