import subprocess
import sys
import textwrap

import pytest
from mmengine.config import Config

from gleamkit.registry import ADAPTERS, BACKBONES, EVALUATORS, LOSSES, METRICS, MODELS, SAMPLERS


def test_unknown_type_names_registry_and_suggests():
    with pytest.raises(KeyError) as err:
        BACKBONES.build(dict(type='TimBackbone', model_name='resnet18'))
    msg = str(err.value)
    assert "'backbone' registry" in msg
    assert "Did you mean: 'TimmBackbone'" in msg
    assert 'custom_imports' in msg
    with pytest.raises(KeyError, match='SymmetricInfoNCELoss'):
        LOSSES.build(dict(type='SymmetricInfoNceLoss'))


def test_domain_registries_fall_back_to_models_and_downstream_scopes():
    assert BACKBONES.get('mmpretrain.ResNet').__name__ == 'ResNet'
    assert ADAPTERS.get('EmbeddingHead').__name__ == 'EmbeddingHead'  # via MODELS
    assert SAMPLERS.get('DefaultSampler').__name__ == 'DefaultSampler'  # mmengine parent
    assert METRICS is EVALUATORS
    assert MODELS.get('CrossViewRetriever').__name__ == 'CrossViewRetriever'


def test_custom_imports_registers_an_outside_module(tmp_path):
    (tmp_path / 'my_thermal_adapter.py').write_text(textwrap.dedent('''
        from gleamkit.models import IdentityAdapter
        from gleamkit.registry import ADAPTERS

        @ADAPTERS.register_module()
        class ThermalAdapter(IdentityAdapter):
            pass
    '''))
    (tmp_path / 'cfg.py').write_text(textwrap.dedent('''
        custom_imports = dict(imports=['my_thermal_adapter'], allow_failed_imports=False)
        model = dict(type='CrossViewRetriever',
                     backbone=dict(type='TimmBackbone', model_name='resnet10t'),
                     head=dict(type='EmbeddingHead', embed_dim=8),
                     adapter=dict(type='ThermalAdapter', views=('satellite', 'thermal')))
    '''))
    code = textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from mmengine.config import Config
        from gleamkit.registry import MODELS
        cfg = Config.fromfile({str(tmp_path / 'cfg.py')!r})
        model = MODELS.build(cfg.model)
        print(type(model.adapter).__name__, model.adapter.views)
    ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ThermalAdapter ('satellite', 'thermal')" in out.stdout


def test_configs_parse_and_trace_to_classes():
    cfg = Config.fromfile('configs/gleam_c/phase2.py')
    assert cfg.default_scope == 'gleamkit'
    assert cfg.train_dataloader.sampler.type.__name__ == 'ViewBalancedSampler'
    assert set(cfg.train_dataloader.dataset.views) == {'uav', 'map', 'panorama', 'ground'}
    cfg1 = Config.fromfile('configs/gleam_c/phase1.py')
    assert cfg1.train_dataloader.dataset.views == ('panorama', )
    assert cfg1.test_dataloader.dataset.views == ('panorama', )


def test_models_serves_domain_registries_for_the_runner():
    # the Runner builds any model through MODELS; a loss or backbone type resolves too
    assert MODELS.get('SymmetricInfoNCELoss').__name__ == 'SymmetricInfoNCELoss'
    assert MODELS.get('TimmBackbone').__name__ == 'TimmBackbone'
    with pytest.raises(KeyError, match='not registered'):
        MODELS.get('NoSuchThing')
