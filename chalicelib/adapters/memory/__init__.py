"""In-memory adapters: the default backend, used by `make run` and the unit tests."""
