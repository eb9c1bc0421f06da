"""`relmig serve`: the REST API under /api/v1 and the web UI, with jobs running in-process."""
