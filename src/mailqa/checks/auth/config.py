"""What the auth check reads of the settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuthConfig:
    """The receiving host the message is authenticated as."""

    receiver: str
    """The receiving host's name: SPF's ``%{r}`` macro (``MAILQA_SMTP_HOSTNAME``)."""
    serv_id: str
    """The authserv-id of the Authentication-Results header (``MAILQA_AUTH_SERV_ID``, else
    the receiving host's name)."""
