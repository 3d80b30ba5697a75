"""An SSRF-safe HTTP fetcher for link validation.

Links in mail are attacker-controlled: a link checker that fetches whatever it is given can be
pointed at the cloud metadata service, at admin consoles on the loopback interface, or at the
private network. This fetcher:

- resolves each host itself and refuses loopback, private, link-local (169.254.169.254),
  multicast, reserved and otherwise non-global addresses unless an ``AddressPolicy``
  allow-lists the host name or the address range;
- dials the very address it vetted (a custom network backend under httpx), so a second DNS
  answer cannot swap the target (no DNS rebinding); the Host header, TLS SNI and certificate
  check still use the host name of the URL;
- never lets httpx follow redirects: every hop is a new request, vetted again;
- reads numeric host spellings the way browsers and ``inet_aton`` do (``127.1``,
  ``2130706433``, ``0x7f.1``) and ``localhost`` names as loopback, before any resolver;
- sends HEAD first and falls back to a streamed GET when HEAD is refused, with a body cap
  that holds while decoding too: gzip/deflate (any number of layers) is inflated
  incrementally and stops at the cap, so a small compressed body cannot expand in memory;
- bounds each request (``timeout``) and each link's whole redirect chain (``total_timeout``);
- limits concurrency globally and per host, rate-limits each host, and names itself in the
  User-Agent;
- keeps a TTL cache of results (with in-flight de-duplication) shared by the messages of one
  scope (a project: one project's mail never learns what another's linked to); a cache
  shared between processes is keyed by the address policy too, and its hits are vetted again
  before use.

Errors never escape ``LinkFetcher.fetch``: they come back in ``FetchResult.error`` with a
short ``error_kind`` (refused, dns, timeout, tls, connect, protocol, invalid-url,
redirect-loop, too-many-redirects).

Modules: ``policy`` (which addresses may be reached, numeric host spellings), ``transport``
(the httpx transport that resolves, vets and dials), ``body`` (bounded, incrementally
decoded body reads), ``fetcher`` (``LinkFetcher``: HEAD/GET, redirects, limits, caches and
its results), ``errors``.
"""
