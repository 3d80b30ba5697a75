"""Accessibility: WCAG 2.2-mapped findings over the HTML, with what target clients keep.

``rules`` declares one registry rule per finding kind (criterion, impact, fix); ``styles``
computes what can be known of each element's colours and text from the cascade; ``analyse``
runs the rules over the shared scan; ``overlay`` reads the caniemail data for whether a fix
(``lang``, ``dir``, ``role``, ``aria-*``) survives the target clients; ``check`` is the
pipeline's check. What a machine cannot decide goes to ``details.needs_review``.
"""
