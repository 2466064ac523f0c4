"""The search's building blocks against plain reference implementations."""

import numpy as np

from perfkit.search import top_k


def reference_top_k(scores, legal, k):
    """A full stable sort: best score first, ties to the lower cell; -1 pads (the SPEC's rule)."""
    out = []
    for row, ok in zip(scores, legal, strict=True):
        cells = [c for c in np.argsort(-row, kind="stable") if ok[c]][:k]
        out.append(cells + [-1] * (k - len(cells)))
    return np.array(out)


def test_top_k_matches_a_stable_sort_with_many_ties():
    """Scores drawn from 4 values force ties everywhere; legality removes cells, some rows
    have fewer legal cells than k."""
    rng = np.random.default_rng(7)
    for cells, k in ((9, 5), (25, 3), (169, 5), (4, 6)):
        scores = rng.integers(0, 4, size=(300, cells)).astype(float)
        legal = rng.random((300, cells)) < rng.random((300, 1))
        assert np.array_equal(top_k(scores, legal, k), reference_top_k(scores, legal, k))


def test_top_k_ranks_non_finite_legal_scores_last_but_keeps_them():
    """A NaN or -inf logit of a legal cell must not make the cell vanish (the root needs a move)."""
    scores = np.array([[np.nan, 0.5, -np.inf, 0.1]])
    legal = np.array([[True, False, True, True]])
    assert top_k(scores, legal, 4).tolist() == [[3, 0, 2, -1]]
