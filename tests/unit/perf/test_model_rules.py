"""`concentration_problem`'s context-based fast check answers exactly as the digit count did."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.model import (
    CONCENTRATION_RANGE_MESSAGE,
    MAX_CONCENTRATION,
    MAX_FRACTION_DIGITS,
    MAX_SIGNIFICANT_DIGITS,
    concentration_problem,
)


def reference_concentration_problem(value: Decimal) -> str | None:
    """The original rule: count the digits of ``value.as_tuple()``."""
    if not value.is_finite() or not 0 < value <= MAX_CONCENTRATION:
        return CONCENTRATION_RANGE_MESSAGE
    _, digits, exponent = value.as_tuple()
    if len(digits) > MAX_SIGNIFICANT_DIGITS:
        return (
            f"must have at most {MAX_SIGNIFICANT_DIGITS} significant digits, trailing zeros included "
            f"(it has {len(digits)})"
        )
    if isinstance(exponent, int) and -exponent > MAX_FRACTION_DIGITS:
        return f"must have at most {MAX_FRACTION_DIGITS} digits after the decimal point (it has {-exponent})"
    return None


def near_limits() -> st.SearchStrategy[Decimal]:
    """Coefficients of 1-45 digits (trailing zeros too) at exponents around the limits."""
    return st.builds(
        lambda sign, digits, exponent: Decimal((sign, digits, exponent)),
        st.sampled_from([0, 0, 0, 1]),
        st.lists(st.integers(0, 9), min_size=1, max_size=45).map(tuple),
        st.integers(-50, 3),
    )


@settings(max_examples=1500)
@given(
    st.one_of(
        near_limits(),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.decimals(min_value=Decimal("1E-45"), max_value=100),
        st.sampled_from(
            [
                Decimal("1E-999999999"),
                Decimal("1E-1000000"),
                Decimal("1E+2"),
                Decimal("0.5E+2"),
                Decimal("100." + "0" * 35),
                Decimal("100." + "0" * 36),
                Decimal("-0"),
                Decimal("sNaN"),
            ]
        ),
    )
)
def test_concentration_problem_matches_the_digit_count(value: Decimal) -> None:
    assert concentration_problem(value) == reference_concentration_problem(value)


@pytest.mark.parametrize(
    ("text", "fine"),
    [
        ("1." + "2" * 37, True),
        ("1." + "2" * 38, False),
        ("0." + "0" * 37 + "1", True),
        ("0." + "0" * 38 + "1", False),
        ("12." + "3" * 36, True),
        ("12." + "3" * 37, False),
        ("1E+2", True),
        ("100.0", True),
    ],
)
def test_the_digit_limits_at_their_edges(text: str, fine: bool) -> None:
    assert (concentration_problem(Decimal(text)) is None) is fine
    assert concentration_problem(Decimal(text)) == reference_concentration_problem(Decimal(text))
