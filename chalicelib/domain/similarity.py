"""How alike two formulas are: the weighted Jaccard (Ruzicka) similarity of their make-ups.

A make-up maps each canonical material key (`Material.key`, the same form the fingerprint
compares) to its concentration. With ``a_m`` the concentration of ``m`` in A (0 when absent)::

    similarity(A, B) = sum_m min(a_m, b_m) / sum_m max(a_m, b_m)

and since ``max = a + b - min`` the denominator is ``|A| + |B| - shared`` where ``|X|`` is X's
total concentration and ``shared`` the numerator. Everything is exact `Decimal` arithmetic
(`EXACT`: a rounding would trap); the quotient is truncated toward zero to 4 decimal places, so
it reads ``1.0000`` only for the same make-up. ``{Rose 10, Musk 5}`` vs ``{Rose 10, Musk 5.5}``
is 15/15.5 -> ``0.9677``.

The two bounds that let an index skip formulas without losing any are here too, beside the rule
they bound (`can_reach`, `prefix_length`); ``docs/similarity.md`` proves them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from chalicelib.domain.canonical import normalise_name
from chalicelib.domain.model import SUM_CONTEXT, total_concentration

Makeup = Mapping[str, Decimal]
"""Canonical material key -> concentration."""

EXACT = SUM_CONTEXT
"""Sums, differences and products of valid concentrations and thresholds, never rounded: the
model's own exact context (any rounding traps)."""

PLACES = 4
_SCALE = Decimal(10) ** PLACES
ZERO = Decimal(0)


def makeup_of(materials: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """The make-up of ``(display name, concentration)`` pairs, keyed by `normalise_name`."""
    return {normalise_name(name): concentration for name, concentration in materials}


def shared_weight(a: Makeup, b: Iterable[tuple[str, Decimal]]) -> tuple[Decimal, int]:
    """``sum_m min(a_m, b_m)`` over B's ``(key, concentration)`` pairs, and how many keys A has too."""
    shared = ZERO
    count = 0
    for key, value in b:
        mine = a.get(key)
        if mine is not None:
            shared = EXACT.add(shared, min(mine, value))
            count += 1
    return shared, count


def ratio(shared: Decimal, total_a: Decimal, total_b: Decimal) -> Decimal:
    """``shared / (total_a + total_b - shared)`` truncated toward zero to 4 places (0 if none is shared)."""
    if shared <= ZERO:
        return ZERO.scaleb(-PLACES)
    union = EXACT.subtract(EXACT.add(total_a, total_b), shared)
    quotient = EXACT.divide_int(EXACT.multiply(shared, _SCALE), union)
    return quotient.scaleb(-PLACES)


def similarity(a: Makeup, b: Makeup) -> Decimal:
    """The similarity of two make-ups, exact and truncated to 4 places (module docstring)."""
    shared, _ = shared_weight(a, b.items())
    return ratio(shared, total_concentration(a.values()), total_concentration(b.values()))


def can_reach(shared_bound: Decimal, total_a: Decimal, total_b: Decimal, threshold: Decimal) -> bool:
    """Whether a pair whose shared weight is at most ``shared_bound`` may have similarity >= ``threshold``.

    The similarity grows with the shared weight, which is at most the smaller total; so this is
    ``min(bound, |A|, |B|) / (|A| + |B| - min(...)) >= threshold`` in exact arithmetic. With
    ``shared_bound`` = the smaller total it is the length filter: ``min/max >= threshold``.
    """
    bound = min(shared_bound, total_a, total_b)
    union = EXACT.subtract(EXACT.add(total_a, total_b), bound)
    return bound >= EXACT.multiply(threshold, union)


def prefix_length(weights: Sequence[Decimal], total: Decimal, threshold: Decimal) -> int:
    """How many of A's materials (concentrations ``weights``, in the order an index reads them)
    must be looked up so that every formula reaching ``threshold`` shares at least one of them.

    A formula sharing none of the first ``n`` can share at most the rest, ``R``, so its
    similarity is at most ``R / |A|``; once ``R < threshold * |A|`` it cannot reach the threshold.
    """
    needed = EXACT.multiply(threshold, total)
    rest = total
    for position, weight in enumerate(weights):
        if rest < needed:
            return position
        rest = EXACT.subtract(rest, weight)
    return len(weights)
