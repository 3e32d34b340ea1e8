"""The results line, per analytics version. Pure functions: the part worth testing.

1.0 shows counts (`Cats: 2 | Dogs: 4`); 1.1 and 2.0 add totals and whole percentages
(`Cats: 2/6 (33%) | Dogs: 4/6 (67%)`), rounded half up as people expect (1/8 → 13%),
which Python's round() (half to even) would not do.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def percent(count: int, total: int) -> int:
    """`count` as a whole percentage of `total`, half up; 0 when there are no votes."""
    if total <= 0:
        return 0
    share = Decimal(count * 100) / Decimal(total)
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def summary(version: str, first: tuple[str, int], second: tuple[str, int]) -> str:
    """The results text for `version` given two (name, count) pairs."""
    if version == "1.0":
        return " | ".join(f"{name}: {count}" for name, count in (first, second))
    total = first[1] + second[1]
    return " | ".join(
        f"{name}: {count}/{total} ({percent(count, total)}%)" for name, count in (first, second)
    )
