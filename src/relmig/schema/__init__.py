"""Schema import: read a live source's tables, keys and indexes into the relational model."""
