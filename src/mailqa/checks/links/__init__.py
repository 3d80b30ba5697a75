"""Links and images: extracted from the HTML and text parts, checked statically and over HTTP.

The static part (syntax, insecure or dangerous schemes, private and staging hosts, shorteners,
phishing-looking link text, missing anchors, template placeholders, unsubscribe link) always
runs, offline too. HTTP validation runs when the context carries a ``LinkFetcher`` and the
analysis is online; the summary says when it did not.

The package: ``rules`` (the check's ``RULES``, imported by the others), ``details`` (the
report's payload), ``extract`` (every URL of the message and where it occurs), ``static``
(the findings that need no network), ``http`` (fetching and what the answers show) and
``check`` (``LinksCheck``).
"""
