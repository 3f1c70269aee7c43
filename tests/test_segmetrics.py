"""Segmentation metrics: agreement with nltk's string form, P/R/F1, the Choi loader."""

from __future__ import annotations

import pytest
from conftest import shared_path
from nltk.metrics.segmentation import pk as nltk_pk
from nltk.metrics.segmentation import windowdiff as nltk_wd

from pipeline_kit.stages._segmetrics import (
    boundary_prf,
    default_k,
    load_choi,
    pk,
    segmentation_scores,
    sentence_to_word_boundaries,
    to_mask,
    windowdiff,
)


def test_mask_convention():
    assert to_mask([2, 5], 7) == "0100100"
    assert to_mask([0, 7], 7) == "0000000"  # the text's own edges are not boundaries
    with pytest.raises(ValueError, match="boundaries"):
        to_mask([9], 7)


def test_pk_and_windowdiff_match_nltk():
    ref, hyp, n = [10, 20, 30], [11, 25], 40
    k = default_k(ref, n)
    assert k == 5  # half of the mean segment length 10
    assert pk(ref, hyp, n) == pytest.approx(nltk_pk(to_mask(ref, n), to_mask(hyp, n), k))
    assert windowdiff(ref, hyp, n) == pytest.approx(nltk_wd(to_mask(ref, n), to_mask(hyp, n), k))
    assert pk(ref, ref, n) == 0.0 and windowdiff(ref, ref, n) == 0.0
    assert pk(ref, [], n) > 0.3


def test_boundary_prf_with_tolerance():
    assert boundary_prf([10, 20], [10, 21]) == pytest.approx((0.5, 0.5, 0.5))
    assert boundary_prf([10, 20], [10, 21], tolerance=1) == pytest.approx((1.0, 1.0, 1.0))
    assert boundary_prf([10], [9, 11], tolerance=1) == pytest.approx((0.5, 1.0, 2 / 3))
    assert boundary_prf([], []) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="tolerance"):
        boundary_prf([1], [1], tolerance=-1)
    scores = segmentation_scores([10, 20], [10], 30)
    assert set(scores) == {"precision", "recall", "f1", "pk", "windowdiff"}


def test_load_choi_real_file():
    sents, bounds = load_choi(shared_path("textseg/choi_dev/3-11/0.ref"))
    assert len(bounds) == 9  # 10 segments
    assert all(0 < b < len(sents) for b in bounds)
    assert "==========" not in sents
    words = sentence_to_word_boundaries(sents, bounds)
    assert words[0] == sum(len(s.split()) for s in sents[: bounds[0]])


@pytest.mark.parametrize("metric", [pk, windowdiff])
def test_short_text_rule_when_the_text_fits_in_one_window(metric):
    """n <= k: nltk would divide by zero; the score is 0 when the masks agree, else 1."""
    assert metric([2], [2], 4, k=4) == 0.0  # n == k, same boundary
    assert metric([2], [3], 4, k=4) == 1.0  # n == k, boundary moved
    assert metric([], [], 3, k=5) == 0.0  # n < k, no boundaries at all
    assert metric([], [1, 2], 3, k=5) == 1.0
    assert metric([2], [], 3, k=5) == 1.0


@pytest.mark.parametrize("metric,nltk_metric", [(pk, nltk_pk), (windowdiff, nltk_wd)])
def test_one_unit_longer_than_the_window_is_nltks_score(metric, nltk_metric):
    ref, hyp, n, k = [2], [3], 5, 4
    assert metric(ref, hyp, n, k=k) == pytest.approx(nltk_metric(to_mask(ref, n),
                                                                 to_mask(hyp, n), k))


def test_short_text_rule_with_the_default_window():
    """Two units and one reference boundary: default k is 1, so the text is not short;
    one unit is always short (k >= 1), and its only possible mask is the same."""
    assert default_k([1], 2) == 1
    assert pk([1], [], 2) == pytest.approx(nltk_pk("10", "00", 1))
    assert pk([], [], 1) == 0.0 and windowdiff([], [], 1) == 0.0
