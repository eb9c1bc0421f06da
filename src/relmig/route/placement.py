"""Where each table's rows sit in the collections: the router's map of the mapping rules."""

from __future__ import annotations

from dataclasses import dataclass

from relmig.documents.plan import LinkPlan, NodePlan, RootPlan


@dataclass(slots=True, frozen=True)
class Placement:
    """Where a table's rows sit in one collection: the chain of embeddings from the root."""

    collection: str
    node: NodePlan
    chain: tuple[tuple[NodePlan, LinkPlan], ...]  # (parent node, link to the child) per level


def placements_of(plans: list[RootPlan]) -> dict[str, list[Placement]]:
    """Table id → every place its rows sit, in every collection."""
    found: dict[str, list[Placement]] = {}

    def place(
        collection: str, node: NodePlan, chain: tuple[tuple[NodePlan, LinkPlan], ...]
    ) -> None:
        found.setdefault(node.table.id, []).append(Placement(collection, node, chain))
        for link in node.links:
            place(collection, link.node, (*chain, (node, link)))

    for plan in plans:
        place(plan.collection.name, plan.node, ())
    return found
