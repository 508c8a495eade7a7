"""SSM Parameter Store: the text of one SecureString parameter (the stage's API keys)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws.tables import error_code
from chalicelib.errors import InfrastructureError


class SecureParameter:
    """One parameter, read decrypted with ``GetParameter``.

    ``client``: a boto3 SSM client; ``make_client`` makes one on the first read when none is
    given, so a function that never reads the parameter never creates the client.
    """

    def __init__(
        self, name: str, *, client: Any = None, make_client: Callable[[], Any] | None = None
    ) -> None:
        if client is None and make_client is None:
            raise ValueError("SecureParameter needs a client or a way to make one")
        self.name = name
        self._client = client
        self._make_client = make_client

    def read(self) -> str:
        """The parameter's decrypted value; `InfrastructureError` naming the cause when it cannot be read."""
        if self._client is None and self._make_client is not None:
            self._client = self._make_client()
        try:
            response = self._client.get_parameter(Name=self.name, WithDecryption=True)
        except (ClientError, BotoCoreError) as exc:
            cause = error_code(exc) or type(exc).__name__
            raise InfrastructureError(f"the key parameter could not be read: {cause}") from exc
        value = response["Parameter"]["Value"]
        return value if isinstance(value, str) else ""
