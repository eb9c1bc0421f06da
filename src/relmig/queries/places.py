"""Where a table's rows are in the documents, and where each of their columns is.

A place is one node of a collection's compiled plan (`relmig.documents.plan`) at a path of the
document the pipeline works on: the root at the top, an embedded document at its field, an
array's element at its field once the array is unwound, another collection's root under the
field a `$lookup` put it in. A column is found where the document builder wrote it: its field,
the root's `_id`, or (a foreign key the rule left out) the field of the column it equals on the
other side of the embedding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from relmig.documents.plan import LinkPlan, NodePlan, RootPlan

Path = tuple[str, ...]


@dataclass
class Place:
    node: NodePlan
    base: Path
    collection: str
    root: RootPlan | None = None  # set at a collection's root
    parent: Place | None = None
    link: LinkPlan | None = None  # the embedding from `parent` to here
    unwound: bool = False  # an array's element, after $unwind
    optional: bool = False  # a LEFT JOIN's: absent (its columns null) where nothing matched
    children: dict[int, Place] = field(default_factory=dict)

    @property
    def maybe_absent(self) -> bool:
        place: Place | None = self
        while place is not None:
            if place.optional:
                return True
            place = place.parent
        return False

    @property
    def table(self) -> str:
        return self.node.table.id

    def child(self, link: LinkPlan) -> Place:
        """The place of an embedding's rows: an array stays an array until it is unwound."""
        key = id(link)
        if key not in self.children:
            self.children[key] = Place(
                link.node, self.base + link.path, self.collection, parent=self, link=link
            )
        return self.children[key]

    def path_of(self, column: str) -> Path | None:
        """The column's field, or None where the documents do not hold it."""
        return self._path_of(column, set())

    def _path_of(self, column: str, seen: set[tuple[int, str]]) -> Path | None:
        if (id(self), column) in seen:
            return None
        seen.add((id(self), column))
        root = self.root
        if root is not None and root.id_mode in ("inherit", "wrap") and column in root.key_columns:
            return (*self.base, "_id") if root.id_mode == "inherit" else (*self.base, "_id", column)
        link = self.link
        if link is not None and link.primitive is not None:
            return (
                self.base if column == link.primitive.column else self._through_parent(column, seen)
            )
        for f in self.node.fields:
            if f.column == column:
                return self.base + f.path
        return self._through_parent(column, seen) or self._through_documents(column, seen)

    def _through_parent(self, column: str, seen: set[tuple[int, str]]) -> Path | None:
        """A matching column equals the parent's column it was matched with."""
        link, parent = self.link, self.parent
        if link is None or parent is None or column not in link.match_columns:
            return None
        parent_column = parent.node.columns[link.parent_index[link.match_columns.index(column)]]
        return parent._path_of(parent_column, seen)

    def _through_documents(self, column: str, seen: set[tuple[int, str]]) -> Path | None:
        """A foreign key left out equals the key of the embedded document it references; a null
        key gives no document, so the missing field reads as null too."""
        for link in self.node.links:
            if link.kind != "document" or link.merge:
                continue
            parent_columns = [self.node.columns[i] for i in link.parent_index]
            if column in parent_columns:
                match = link.match_columns[parent_columns.index(column)]
                found = self.child(link)._path_of(match, seen)
                if found is not None:
                    return found
        return None


def dotted(path: Path) -> str:
    return ".".join(path)
