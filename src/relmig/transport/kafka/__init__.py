"""Kafka mode: CDC through a Kafka cluster (DESIGN-NOTES §6; docs/kafka.md).

One source task per job reads the change stream, routes each change to the root documents it
affects and publishes one message per (change, root) to the job's topic, partitioned by root;
sink workers in a consumer group rebuild those roots with the embedded engine's applier. A
supervisor runs the tasks as processes, checks their health and restarts what fails.
"""
