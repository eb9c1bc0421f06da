"""Pre-migration analysis (`relmig analyze`): what will go wrong, measured before any job runs."""
