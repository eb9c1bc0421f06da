"""The state store's record kinds, one module each."""
