import subprocess
import sys
import textwrap

import pytest
from mmengine.config import Config

from gleamkit.registry import (
    ADAPTERS,
    BACKBONES,
    EVALUATOR,
    EVALUATORS,
    EXPLAINERS,
    LOSSES,
    METRICS,
    MODELS,
    SAMPLERS,
    GleamkitRegistry,
)


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


@pytest.mark.slow
def test_custom_imports_registers_an_outside_module(tmp_path):
    (tmp_path / 'my_thermal_adapter.py').write_text(
        textwrap.dedent("""
        from gleamkit.models import IdentityAdapter
        from gleamkit.registry import ADAPTERS

        @ADAPTERS.register_module()
        class ThermalAdapter(IdentityAdapter):
            pass
    """)
    )
    (tmp_path / 'cfg.py').write_text(
        textwrap.dedent("""
        custom_imports = dict(imports=['my_thermal_adapter'], allow_failed_imports=False)
        model = dict(type='CrossViewRetriever',
                     backbone=dict(type='TimmBackbone', model_name='resnet10t'),
                     head=dict(type='EmbeddingHead', embed_dim=8),
                     adapter=dict(type='ThermalAdapter', views=('satellite', 'thermal')))
    """)
    )
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from mmengine.config import Config
        from gleamkit.registry import MODELS
        cfg = Config.fromfile({str(tmp_path / 'cfg.py')!r})
        model = MODELS.build(cfg.model)
        print(type(model.adapter).__name__, model.adapter.views)
    """)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ThermalAdapter ('satellite', 'thermal')" in out.stdout


def test_configs_parse_and_trace_to_classes():
    cfg = Config.fromfile('configs/gleam_c/phase2.py')
    assert cfg.default_scope == 'gleamkit'
    assert cfg.train_dataloader.sampler.type.__name__ == 'ViewBalancedSampler'
    assert set(cfg.train_dataloader.dataset.views) == {'uav', 'map', 'panorama', 'ground'}
    cfg1 = Config.fromfile('configs/gleam_c/phase1.py')
    assert cfg1.train_dataloader.dataset.views == ('panorama',)
    assert cfg1.test_dataloader.dataset.views == ('panorama',)


def test_models_serves_domain_registries_for_the_runner():
    # the Runner builds any model through MODELS; a loss or backbone type resolves too
    assert MODELS.get('SymmetricInfoNCELoss').__name__ == 'SymmetricInfoNCELoss'
    assert MODELS.get('TimmBackbone').__name__ == 'TimmBackbone'
    with pytest.raises(KeyError, match='not registered'):
        MODELS.get('NoSuchThing')


def _family(scope):
    models = GleamkitRegistry('model', scope=scope)
    return models, GleamkitRegistry('loss', family_of=models, scope=scope)


def test_a_family_registers_in_models_and_looks_up_one_way():
    models, losses = _family('gleamkit_test_one_way')

    @losses.register_module()
    class FamilyLoss:
        pass

    @models.register_module()
    class PlainModel:
        pass

    # the family's class is in MODELS itself (no search back into the family) ...
    assert models.module_dict['FamilyLoss'] is FamilyLoss
    assert models.get('FamilyLoss') is FamilyLoss
    # ... and the family finds MODELS' classes as its fallback
    assert losses.get('PlainModel') is PlainModel
    assert 'PlainModel' not in losses.module_dict
    assert not hasattr(models, 'members') and models.family_of is None
    # the shipped families hold their own classes and MODELS holds them too
    for family, name in (
        (BACKBONES, 'TimmBackbone'),
        (ADAPTERS, 'IdentityAdapter'),
        (LOSSES, 'SymmetricInfoNCELoss'),
        (EXPLAINERS, 'HuggingFaceVLMExplainer'),
    ):
        assert family.family_of is MODELS
        assert family.get(name) is MODELS.module_dict[name]
        assert name in family.module_dict
    assert 'EmbeddingHead' not in ADAPTERS.module_dict


def test_a_family_name_that_models_holds_already_is_refused():
    models, losses = _family('gleamkit_test_clash')

    @models.register_module(name='Clash')
    class ModelClash:
        pass

    with pytest.raises(KeyError) as err:

        @losses.register_module(name='Clash')
        class LossClash:
            pass

    msg = str(err.value)
    assert "'Clash'" in msg and "'loss'" in msg and "'model'" in msg and 'force=True' in msg
    assert models.get('Clash') is ModelClash
    assert 'Clash' not in losses.module_dict  # refused: registered nowhere

    # one class in two families is fine (registered in MODELS once)
    adapters = GleamkitRegistry('adapter', family_of=models, scope='gleamkit_test_clash')

    @adapters.register_module()
    @losses.register_module()
    class Both:
        pass

    assert models.get('Both') is Both is adapters.get('Both') is losses.get('Both')


def test_did_you_mean_prefers_the_family_then_models():
    with pytest.raises(KeyError) as err:
        LOSSES.get('EmbedingHead')  # not a loss: suggested from MODELS
    msg = str(err.value)
    assert "Did you mean: 'EmbeddingHead'" in msg
    assert "then 'model' and its parents" in msg
    with pytest.raises(KeyError) as err:
        BACKBONES.get('TimBackbone')
    assert str(err.value).count('TimmBackbone') >= 1
    assert "Did you mean: 'TimmBackbone'" in str(err.value)


def test_models_context_builds_a_family_class():
    # a downstream/mmengine MODELS build under default_scope='gleamkit' lands in
    # gleamkit's MODELS, which must find a backbone written in a nested config
    from mmengine.registry import MODELS as ROOT_MODELS
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope('gleamkit'):
        backbone = ROOT_MODELS.build(dict(type='TimmBackbone', model_name='resnet10t'))
    assert type(backbone).__name__ == 'TimmBackbone'


def test_evaluators_hold_metrics_evaluator_holds_the_container():
    from mmengine.evaluator import BaseMetric, Evaluator

    assert EVALUATORS is METRICS and EVALUATOR is not EVALUATORS
    assert issubclass(EVALUATORS.get('CrossViewRetrievalMetric'), BaseMetric)
    assert EVALUATOR.get('Evaluator') is Evaluator
    with pytest.raises(KeyError, match="'evaluator' registry"):
        EVALUATOR.get('CrossViewRetrievalMetric')


@pytest.mark.slow
def test_models_finds_family_classes_in_a_fresh_process():
    code = (
        'from gleamkit.registry import MODELS\n'
        "print(MODELS.get('SymmetricInfoNCELoss').__module__, "
        "MODELS.get('HuggingFaceVLMExplainer').__name__)"
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [
        'gleamkit.models.losses.symmetric_infonce',
        'HuggingFaceVLMExplainer',
    ]
