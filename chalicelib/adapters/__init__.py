"""Adapters: implementations of the ports in `chalicelib.ports` (memory: the default; aws)."""
