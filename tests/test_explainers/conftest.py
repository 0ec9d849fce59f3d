"""Fixtures of the GLEAM-X explainer tests (helpers live in explainer_fixtures.py)."""

import pytest


@pytest.fixture(scope='session')
def tiny_vlm_dir(tmp_path_factory):
    """A tiny Qwen2.5-VL saved to disk once per test session."""
    from gleamkit.models.explainers import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(str(tmp_path_factory.mktemp('tiny_qwen2_5_vl')))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The tiny models' ops are far too small to split across threads; on a busy
    machine intra-op threads only wait for each other (a 60-step fine-tune went from
    4 s to 150 s with two threads on two shared cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
