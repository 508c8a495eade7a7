"""Use cases: submit formulas, read them, and (later) process their messages."""
