"""Extension point: an LLM (or any) judge of explanation quality for ``GleamXMetric``.

Geo-reasoning benchmarks judge explanations with an LLM as well as with
embedding similarity. ``GleamXMetric(judge=...)`` calls a judge on every
evaluated batch and reports the mean score as ``judge_score`` (overall, per
language, per view). No judge is built in yet and none runs by default (it
needs an endpoint). To add one, subclass :class:`ExplanationJudge`, register it
in ``gleamkit.registry.EXPLAINERS`` (next to the OpenAI-compatible explainer it
would reuse) and pass ``judge=dict(type='YourJudge', ...)`` or an instance.
"""

from typing import List, Sequence

__all__ = ['ExplanationJudge']


class ExplanationJudge:
    """Scores generated explanations against references (higher is better).

    ``score`` receives one dict per sample with ``id, lang, view, label,
    pred_label, pred_text, reference`` and, when the evaluated batch carries
    them, ``images`` (``[query, satellite]`` uint8 arrays); it returns one
    float per item, on a scale the judge documents (e.g. 1-5 or 0-100).
    """

    #: the name printed next to ``judge_score`` in the metric's table.
    name = 'judge'

    def score(self, items: Sequence[dict]) -> List[float]:
        raise NotImplementedError(f'{type(self).__name__}.score(items) -> list of floats')
