"""The snapshot's progress display costs the same per update whatever the number of
collections (issue 31): finished collections leave it for the summary line."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress

from relmig.cli.running import CollectionBars, progress_bars


def quiet_bars() -> Progress:
    bars = progress_bars()
    bars.live.console = Console(file=io.StringIO(), width=120, force_terminal=False)
    return bars


def test_a_thousand_collections_never_show_more_than_the_active_ones() -> None:
    bars = quiet_bars()
    shown = CollectionBars(bars)
    most = 0
    for i in range(1000):
        name = f"table_{i}"
        shown.update(name, 0, 10, False)
        shown.update(name, 5, 10, False)
        most = max(most, len(bars.tasks))
        shown.update(name, 10, 10, True)
    assert most == 2  # the collection being copied and the summary
    assert len(bars.tasks) == 1
    assert bars.tasks[0].description == "1,000 collection(s) copied, 10,000 rows"


def test_collections_copied_side_by_side_each_have_a_bar_until_they_finish() -> None:
    bars = quiet_bars()
    shown = CollectionBars(bars)
    for name in ("a", "b", "c"):
        shown.update(name, 1, None, False)  # unknown totals: a bar all the same
    assert sorted(t.description for t in bars.tasks)[1:] == ["a", "b", "c"]
    shown.update("b", 7, None, True)
    assert sorted(t.description for t in bars.tasks) == ["1 collection(s) copied, 7 rows", "a", "c"]
    shown.update("a", 3, 3, True)  # a resumed job reports a finished collection at once
    shown.update("d", 4, 4, True)
    assert [t.description for t in bars.tasks] == ["3 collection(s) copied, 14 rows", "c"]
