"""Filling the slots of frozen dataclasses without their ``__init__``, for hot paths.

A frozen dataclass's ``__init__`` stores each field with ``object.__setattr__(self, name,
value)``, which looks the slot up by name on every call. The private constructors of the value
objects and records that every submission builds store through the slot descriptors instead: the
same stores (they bypass the frozen ``__setattr__`` the same way) at about half the cost. Each such
constructor fills every field, so the object it makes is equal to the one ``__init__`` makes
from the same values; tests in ``tests/unit/perf`` compare the two.
"""

from __future__ import annotations

from collections.abc import Callable

new_object = object.__new__
"""``new_object(cls)``: an instance with every slot empty, for a private constructor to fill."""


def slot_setter(cls: type, name: str) -> Callable[[object, object], None]:
    """The store of slot ``name`` of ``cls``: ``slot_setter(C, "x")(obj, v)`` sets ``obj.x = v``."""
    setter: Callable[[object, object], None] = cls.__dict__[name].__set__
    return setter
