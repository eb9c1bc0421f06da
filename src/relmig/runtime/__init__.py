"""The job runtime: the state store, error policy, progress and the jobs that drive the flow."""
