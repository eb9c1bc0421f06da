"""Applying changes: route them to roots, rebuild those roots, write them."""
