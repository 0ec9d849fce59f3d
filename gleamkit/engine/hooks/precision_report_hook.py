"""Log the precision a run actually trains in."""

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from gleamkit.registry import HOOKS


@HOOKS.register_module()
class PrecisionReportHook(Hook):
    """Log ``precision: <autocast dtype or fp32> on <device>, parameters <dtype>`` once,
    when training starts (the optimizer wrapper and the model are built and placed by
    then). ``tools/train.py`` adds it to every run. No config keys.
    """

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        from gleamkit.engine.optimizers.precision import describe_precision

        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        runner.logger.info(describe_precision(runner.optim_wrapper, model))
