"""MongoDB targets: server capabilities and the document writer."""
