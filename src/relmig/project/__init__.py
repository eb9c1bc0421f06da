"""The project file: source connection, relational model and MongoDB mapping rules."""
