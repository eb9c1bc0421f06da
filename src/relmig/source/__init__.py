"""Source databases: connections, snapshot reads and (later) change streams."""
