"""The network links of a job, named as users see them in its conditions and failures.

A job talks to its servers over separate links, and a fault on one says where to look:
the source's queries (snapshot pages, routing, recompute), its change stream (the pgoutput
replication connection, the binlog dump), the MongoDB target, and in Kafka mode the brokers.
`RelmigError.link` carries the key of the link an error came from.
"""

from __future__ import annotations

LINKS: dict[str, str] = {
    "source": "source queries",
    "replication": "replication stream",
    "target": "target",
    "kafka": "Kafka",
}


def link_name(link: str) -> str:
    return LINKS.get(link, link)
