"""Many problems, reported readably: exact repeats dropped, one repeated on many rows counted.

A wrong value shared by many rows (a missing image named by every row of a CSV) would
otherwise print one line per row; it is listed a few times, then "and N more".
"""

from __future__ import annotations

from runner.core import Problem

__all__ = ["condense"]


def condense(problems: list[Problem], keep: int = 5) -> list[Problem]:
    """Drop exact repeats; a problem repeated on many rows is listed `keep` times, then counted."""
    unique = list(dict.fromkeys(problems))
    sizes: dict[tuple[str | None, str], int] = {}
    for problem in unique:
        group = (problem.field, problem.message)
        sizes[group] = sizes.get(group, 0) + 1
    seen: dict[tuple[str | None, str], int] = {}
    out: list[Problem] = []
    for problem in unique:
        group = (problem.field, problem.message)
        index = seen[group] = seen.get(group, 0) + 1
        if index <= keep:
            out.append(problem)
        elif index == keep + 1:
            more = sizes[group] - keep
            where = problem.location if more == 1 else f"{problem.location} and {more - 1:,} more"
            out.append(Problem(where, problem.field, problem.message))
    return out
