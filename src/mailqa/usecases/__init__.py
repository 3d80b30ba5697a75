"""The use cases: what a caller may do with projects, inboxes, messages, tokens and audits.

Each function takes the ``Principal`` acting (see :mod:`mailqa.auth`) and raises ``NotFound``
for what it may not see and ``Forbidden`` for what it sees but may not do. The API (native,
sandbox contract, Mailtrap), the web UI, the CLI and SMTP AUTH call these; they only parse
their input and reshape the results.
"""
