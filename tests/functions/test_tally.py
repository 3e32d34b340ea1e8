"""The results line: exact strings and half-up whole percentages."""

from __future__ import annotations

import pytest

from functions.results.tally import percent, summary


def test_version_1_0_shows_counts_only() -> None:
    assert summary("1.0", ("Cats", 2), ("Dogs", 4)) == "Cats: 2 | Dogs: 4"


@pytest.mark.parametrize("version", ["1.1", "2.0"])
def test_versions_1_1_and_2_0_show_totals_and_percentages(version: str) -> None:
    assert summary(version, ("Cats", 2), ("Dogs", 4)) == "Cats: 2/6 (33%) | Dogs: 4/6 (67%)"


def test_no_votes_show_zero_of_zero() -> None:
    assert summary("1.1", ("Cats", 0), ("Dogs", 0)) == "Cats: 0/0 (0%) | Dogs: 0/0 (0%)"


@pytest.mark.parametrize(
    ("count", "total", "expected"),
    [(1, 3, 33), (2, 3, 67), (0, 0, 0), (1, 8, 13), (3, 8, 38), (5, 8, 63), (1, 200, 1)],
    ids=["1/3", "2/3", "0/0", "1/8", "3/8", "5/8", "1/200"],
)
def test_percent_rounds_half_up_to_a_whole_number(count: int, total: int, expected: int) -> None:
    assert percent(count, total) == expected


def test_one_in_eight_rounds_up_where_bankers_rounding_would_not() -> None:
    assert round(12.5) == 12
    assert summary("1.1", ("Cats", 1), ("Dogs", 7)) == "Cats: 1/8 (13%) | Dogs: 7/8 (88%)"
