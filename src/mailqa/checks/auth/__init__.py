"""Sender authentication: SPF, DKIM, DMARC and ARC, plus the sending domain's DNS posture.

All lookups go through the shared ``DnsResolver`` and run concurrently. SPF is evaluated by
``mailqa.net.spf`` (RFC 7208); DKIM and ARC by dkimpy, handed a dictionary of key records
fetched beforehand (dkimpy's DNS hook is synchronous); DMARC (RFC 7489) finds the policy at
the From domain or its organizational domain (Public Suffix List, not DMARCbis' DNS tree
walk) and checks alignment; the DMARCbis tags np=, psd= and t= are read and reported.
The SPF domain's whole record tree is also walked statically (posture: lookups and errors an
evaluation that matched early never reaches). A non-public sending IP leaves SPF unevaluated.
Results use the RFC 8601 words and the report carries a ready ``Authentication-Results``.

The package: ``rules`` (the check's ``RULES``, imported by the others), ``details`` (the
report's payload), ``spf`` (evaluation and the record tree), ``dkim`` (DKIM and ARC),
``dmarc``, ``posture`` (MX, reverse DNS), ``results_header``, ``findings`` and ``check``
(``AuthCheck``, which runs them).
"""
