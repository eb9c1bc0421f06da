"""Routing: which root documents a change affects."""
