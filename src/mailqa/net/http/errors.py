"""Why a fetch failed: each error carries the short ``kind`` results report."""

from __future__ import annotations


class FetchError(Exception):
    """A fetch failed for a reason worth reporting as is."""

    kind = "error"


class AddressRefused(FetchError):
    """The SSRF policy refused the address a host resolves to."""

    kind = "refused"


class ResolveError(FetchError):
    """The host name does not resolve."""

    kind = "dns"


class ChainTimeout(FetchError):
    """The link's requests (every redirect hop, HEAD and GET) took longer than the total."""

    kind = "timeout"
