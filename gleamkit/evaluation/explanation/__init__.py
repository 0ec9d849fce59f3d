"""GLEAM-X explanation evaluation: verdict parsing, text metrics, sentence similarity."""

from .judge import ExplanationJudge
from .similarity import (
    DEFAULT_SBERT_MODEL,
    SentenceModelUnavailableError,
    SentenceSimilarity,
    language_coverage,
    load_sentence_model,
)
from .text_metrics import (
    corpus_bleu,
    lcs_length,
    ngram_stats,
    rouge_l,
    sentence_bleu,
    tokenize,
)
from .verdict import MATCH, NO_MATCH, UNPARSEABLE, parse_structured_verdict, parse_verdict

__all__ = [
    'parse_verdict',
    'parse_structured_verdict',
    'MATCH',
    'NO_MATCH',
    'UNPARSEABLE',
    'tokenize',
    'lcs_length',
    'rouge_l',
    'ngram_stats',
    'sentence_bleu',
    'corpus_bleu',
    'SentenceSimilarity',
    'SentenceModelUnavailableError',
    'load_sentence_model',
    'language_coverage',
    'DEFAULT_SBERT_MODEL',
    'ExplanationJudge',
]
