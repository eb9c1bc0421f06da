"""Where a parallel snapshot splits each collection: key ranges of about equal row counts.

The boundaries come from the primary key's distribution, one query per table
(`SqlSource.key_tiles`: NTILE over the key in key order), so composite keys and skewed keys
(most rows under a few values, long gaps) split into ranges of equal rows, not equal widths. A
collection with a row limit is not split: the limit counts roots from the first key on.
"""

from __future__ import annotations

import itertools
import math

from relmig.documents.plan import RootPlan
from relmig.runtime.keys import dumps_key
from relmig.runtime.snapshot import rows_totals
from relmig.runtime.store import RangeBounds
from relmig.source.sql import SqlSource

MAX_RANGES = 256  # per collection: enough to spread over any worker group, few work items


def plan_ranges(
    plans: list[RootPlan], source: SqlSource, range_rows: int
) -> list[tuple[str, str, int | None, list[RangeBounds]]]:
    """(collection, root table, rows total, ranges) for every plan, ready for
    `StateStore.plan_ranges`."""
    totals = rows_totals(plans, source)
    return [
        (
            plan.collection.name,
            plan.node.table.id,
            total := totals[plan.collection.name],
            split(plan, source, _pieces(plan, source, total, range_rows)),
        )
        for plan in plans
    ]


def split(plan: RootPlan, source: SqlSource, pieces: int) -> list[RangeBounds]:
    """`pieces` ranges (fewer for a table of fewer rows) covering every key: the first open
    below, the last open above, so rows inserted while the snapshot runs are in one of them."""
    if pieces <= 1:
        return [(None, None)]
    node = plan.node
    cuts = [dumps_key(k) for k in source.key_tiles(node.table, pieces, node.where)]
    bounds: list[str | None] = [None, *cuts, None]
    return list(itertools.pairwise(bounds))


def _pieces(plan: RootPlan, source: SqlSource, total: int | None, range_rows: int) -> int:
    if plan.limit is not None:
        return 1
    if total is None:  # no catalog estimate yet (never analyzed): count
        total = source.count(plan.node.table, plan.node.where)
    return max(1, min(MAX_RANGES, math.ceil(total / range_rows)))
