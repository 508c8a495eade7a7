"""Which request bodies the service reads as JSON: the ``Content-Type`` rule in one place.

``application/json`` or a ``+json`` type of ``application`` (any case), with no parameter other
than ``charset=utf-8`` (any case, quoted or not). A wildcard, a list of types or another charset
is refused (415), since the body is always decoded as UTF-8. No ``Content-Type`` at all is read
as JSON.
"""

from __future__ import annotations

import re

_JSON_TYPE = re.compile(r"application/(?:json|[a-z0-9!#$&^_.+-]+\+json)")


def is_json(content_type: str) -> bool:
    """True when a body declared with ``content_type`` may be read as UTF-8 JSON."""
    media_type, *parameters = content_type.split(";")
    if not _JSON_TYPE.fullmatch(media_type.strip(" \t").lower()):
        return False
    for parameter in parameters:
        name, sep, value = parameter.strip(" \t").partition("=")
        if not name and not sep:
            continue  # an empty parameter ("application/json;") is allowed
        value = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
        if name.lower() != "charset" or value.lower() != "utf-8":
            return False
    return True
