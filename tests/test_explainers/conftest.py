"""Fixtures of the GLEAM-X explainer tests (helpers live in explainer_fixtures.py)."""
import pytest


@pytest.fixture(scope='session')
def tiny_vlm_dir(tmp_path_factory):
    """A tiny Qwen2.5-VL saved to disk once per test session."""
    from gleamkit.models.explainers import build_tiny_qwen2_5_vl
    return build_tiny_qwen2_5_vl(str(tmp_path_factory.mktemp('tiny_qwen2_5_vl')))
