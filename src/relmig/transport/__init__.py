"""Transports between the change reader and the applier: in-process (embedded) or Kafka."""
