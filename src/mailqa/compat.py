"""The official Mailtrap SDKs pointed at mailqa.

``mailtrap_client`` returns the Python SDK's own ``MailtrapClient`` whose sending and
testing APIs both talk to mailqa: the SDK binds its testing API to ``mailtrap.io`` and has
no option for another host. Every path, payload and pydantic model stays the SDK's.
The ``mailtrap`` package is not a dependency of mailqa: install it where the client runs
(``pip install mailtrap``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_ACCOUNT_ID = 1  # mailqa has one account: any id works in testing API paths


def mailtrap_client(
    base_url: str,
    token: str,
    *,
    inbox_id: int | str | None = None,
    account_id: int | str = DEFAULT_ACCOUNT_ID,
    ca_file: str | Path | None = None,
    timeout: int = 30,
) -> Any:
    """An official ``mailtrap.MailtrapClient`` for the mailqa at ``base_url``
    (``https://127.0.0.1:8025``; http works too).

    With ``inbox_id`` it is in sandbox mode: ``send``/``batch_send`` capture into that inbox.
    ``ca_file`` is the CA that signed mailqa's certificate (``mailqa serve --tls-self-signed``
    prints its path); without it, ``REQUESTS_CA_BUNDLE`` or the system CAs verify it.
    Call ``close()`` when done: it closes the client's one HTTP session.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must look like https://host:port, not {base_url!r}")
    client_class = _client_class()
    return client_class(
        token=token,
        api_host=parts.netloc,
        sandbox=inbox_id is not None,
        inbox_id=str(inbox_id) if inbox_id is not None else None,
        account_id=str(account_id),
        mailqa_url=f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}",
        mailqa_ca_file=str(ca_file) if ca_file is not None else None,
        mailqa_timeout=timeout,
    )


@cache
def _client_class() -> type[Any]:
    """The client classes, made on first use: importing mailqa never needs the SDK."""
    try:
        import mailtrap
        import requests
        from mailtrap.api.sending import SendingApi
        from mailtrap.api.testing import TestingApi
        from mailtrap.http import HttpClient
    except ImportError as exc:
        raise ImportError(
            "mailqa.compat.mailtrap_client needs the official Mailtrap SDK: pip install mailtrap"
        ) from exc

    class PinnedCaSession(requests.Session):
        """A session that verifies with ``ca_file`` even when ``REQUESTS_CA_BUNDLE`` is set
        (requests lets the environment win over ``Session.verify``)."""

        def __init__(self, ca_file: str) -> None:
            super().__init__()
            self.ca_file = ca_file

        def request(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("verify", self.ca_file)
            return super().request(*args, **kwargs)

    class MailqaHttpClient(HttpClient):  # type: ignore[misc]  # the SDK ships no types
        """The SDK's HTTP client on mailqa's URL instead of ``https://{host}``."""

        _session: requests.Session

        def __init__(
            self, url: str, headers: dict[str, str], ca_file: str | None, timeout: int
        ) -> None:
            super().__init__(host=urlsplit(url).netloc, headers=headers, timeout=timeout)
            if ca_file is not None:
                self._session.close()
                self._session = PinnedCaSession(ca_file)
                self._session.headers.update(headers)
            self._mailqa_url = url

        def _url(self, path: str) -> str:
            return f"{self._mailqa_url}/{path.lstrip('/')}"

        def close(self) -> None:
            self._session.close()

    class MailqaMailtrapClient(mailtrap.MailtrapClient):  # type: ignore[misc]
        """``MailtrapClient`` whose sending and testing APIs both go to mailqa, through one
        HTTP session (the SDK opens a new one per API object and never closes them)."""

        def __init__(
            self,
            *,
            mailqa_url: str,
            mailqa_ca_file: str | None,
            mailqa_timeout: int,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self._mailqa = MailqaHttpClient(
                mailqa_url, self.headers, mailqa_ca_file, mailqa_timeout
            )

        @property
        def testing_api(self) -> Any:
            self._validate_account_id()
            return TestingApi(
                account_id=str(self.account_id), inbox_id=self.inbox_id, client=self._mailqa
            )

        @property
        def sending_api(self) -> Any:
            return SendingApi(client=self._mailqa, inbox_id=self.inbox_id)

        def close(self) -> None:
            self._mailqa.close()

    return MailqaMailtrapClient
