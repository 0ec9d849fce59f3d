"""The data sample of GLEAM-X: one (query, satellite) pair to match and explain."""

from mmengine.structures import BaseDataElement

#: ``label`` / ``pred_label`` values.
MATCH, NO_MATCH, UNPARSEABLE = 1, 0, -1


class ExplanationDataSample(BaseDataElement):
    """One query image + satellite image pair, its reference explanation and,
    after ``predict``, the model's answer.

    Meta fields (set by :class:`~gleamkit.datasets.transforms.PackExplanationInputs`):
        id (str): the record id of the pair (see ``docs/gleam_x_data.md``).
        view (str): the query view: ``'uav'``, ``'map'``, ``'panorama'``,
            ``'ground'`` (or another name a dataset uses).
        lang (str): ``'en'`` or ``'zh'``: the language of the prompt, the
            reference and the expected answer.
        label (int): ``1`` when both images show the same place, ``0`` when not.
        reference (str): the reference explanation in ``lang`` (the target of
            training in explanation mode; what generated text is compared with).
        source (str): who wrote the reference (``'gpt-4o'``,
            ``'human:<annotator>'``, ``'synthetic:gleamkit-world'``, ...).

    Data fields (set by the model in ``predict`` mode):
        pred_text (str): the generated answer.
        pred_label (int): the verdict read from ``pred_text`` with
            :func:`gleamkit.evaluation.explanation.parse_verdict`: ``1`` match,
            ``0`` no match, ``-1`` unparseable.
        p_match (float): the scored verdict, P(match) from the model's own
            probabilities of the verdict words (``score_batch``; see
            ``docs/verification.md``), when the explainer scores verdicts.
        scored_label (int): ``p_match >= the explainer's match_threshold``.
    """
