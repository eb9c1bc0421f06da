"""Verification: the target must equal a fresh snapshot computed from the source."""
