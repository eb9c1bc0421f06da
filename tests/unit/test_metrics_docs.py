"""The Grafana dashboard in docs/ queries only metrics that /metrics exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from relmig.runtime.store import StateStore
from relmig.server.metrics import registry

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_dashboard_queries_exported_metrics(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    job = store.create_job("p", "continuous", "mongodb://h", "db", {"on_error": "FAIL"}, {})
    store.save_partitions(job, [{"partition": 0, "end_offset": 5, "committed": 3, "lag": 2}])
    store.report_task(job, "sink-1", restarts=1)
    store.update_job(job, lag_seconds=0.5, slot_lag_bytes=10)
    store.start_collection(job, "orders", "public.orders", 10)
    store.checkpoint(job, "orders", "[5]", 5)
    exported = generate_latest(registry(store)).decode()
    store.close()
    names = set(re.findall(r"^(relmig_\w+)", exported, re.M))
    dashboard = json.loads((DOCS / "grafana-relmig.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"relmig_\w+", target["expr"])
    }
    assert queried and queried <= names, queried - names
    documented = set(re.findall(r"`(relmig_\w+)`", (DOCS / "metrics.md").read_text()))
    assert documented <= names, documented - names


def test_a_stopped_jobs_slot_lag_is_not_shown_stale(tmp_path: Path) -> None:
    """Issue 23 §3: a paused job's recorded slot lag ("56 B") is what it last measured, not
    what waits now: neither /metrics nor `describe` gives it once the job stops running."""
    from relmig.runtime.jobs import JobManager

    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    job = store.create_job("p", "continuous", "mongodb://h", "db", {"on_error": "FAIL"}, {})
    store.update_job(job, slot_lag_bytes=56)

    def slot_lag() -> tuple[str | None, int | None]:
        exported = generate_latest(registry(store)).decode()
        found = re.search(r"^relmig_job_slot_lag_bytes\{.*\} (\S+)$", exported, re.M)
        described = JobManager(store).describe(job)["stats"]["slot_lag_bytes"]
        return (found.group(1) if found else None, described)

    assert slot_lag() == ("56.0", 56)
    store.update_job(job, status="PAUSED")
    assert slot_lag() == (None, None)
    store.close()
