"""The similarity rule: the issue's worked examples, and the properties any make-ups satisfy."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.similarity import can_reach, makeup_of, prefix_length, ratio, similarity

D = Decimal

ROSE_MUSK = makeup_of([("Rose", D(10)), ("Musk", D(5))])


def test_the_worked_examples_of_the_issue() -> None:
    assert similarity(ROSE_MUSK, makeup_of([("Rose", D(10)), ("Musk", D("5.5"))])) == D("0.9677")
    assert similarity(ROSE_MUSK, makeup_of([("Rose", D(10))])) == D("0.6666")
    assert similarity(ROSE_MUSK, makeup_of([("Oud", D(3))])) == 0


def test_results_have_four_places_and_truncate_toward_zero() -> None:
    assert str(similarity(ROSE_MUSK, makeup_of([("Rose", D(10))]))) == "0.6666"  # 0.66666...
    assert str(similarity(ROSE_MUSK, ROSE_MUSK)) == "1.0000"
    assert str(similarity(ROSE_MUSK, makeup_of([("Oud", D(3))]))) == "0.0000"
    assert str(ratio(D("99999"), D("100000"), D("100000"))) == "0.9999"  # 99999/100001, not rounded up


def test_names_compare_in_their_canonical_form() -> None:
    assert similarity(ROSE_MUSK, makeup_of([("  ROSE ", D(10)), ("musk", D("5.0"))])) == 1


def test_exact_with_38_fractional_digits() -> None:
    tiny = D("0." + "0" * 37 + "1")
    a = {"x": D(50), "y": tiny}
    assert similarity(a, {"x": D(50)}) == D("0.9999")
    assert similarity(a, dict(a)) == 1


concentration = st.decimals(min_value=D("0.001"), max_value=D(10), places=3)
makeups = st.dictionaries(st.sampled_from("abcdefgh"), concentration, min_size=1, max_size=8)


@given(makeups, makeups)
def test_symmetric_and_bounded(a: dict[str, Decimal], b: dict[str, Decimal]) -> None:
    value = similarity(a, b)
    assert value == similarity(b, a)
    assert 0 <= value <= 1
    assert value == value.quantize(D("0.0001"))


@given(makeups, makeups)
def test_one_only_for_the_same_makeup(a: dict[str, Decimal], b: dict[str, Decimal]) -> None:
    assert similarity(a, dict(a)) == 1
    assert (similarity(a, b) == 1) == (a == b)


@given(makeups, makeups)
def test_zero_when_disjoint(a: dict[str, Decimal], b: dict[str, Decimal]) -> None:
    disjoint = {key.upper(): value for key, value in b.items()}
    assert similarity(a, disjoint) == 0


@given(makeups, makeups, st.decimals(min_value=D("0.01"), max_value=D(1), places=2))
def test_the_bounds_never_drop_a_pair_that_reaches_the_threshold(
    a: dict[str, Decimal], b: dict[str, Decimal], threshold: Decimal
) -> None:
    if similarity(a, b) < threshold:
        return
    total_a, total_b = sum(a.values()), sum(b.values())
    assert can_reach(total_b, total_a, total_b, threshold)  # the length filter keeps it
    order = sorted(a)
    read = prefix_length([a[key] for key in order], total_a, threshold)
    assert set(order[:read]) & set(b)  # the prefix meets it
