"""The names a DMARCbis tree walk queries (draft-ietf-dmarc-dmarcbis section 4.10)."""

from __future__ import annotations

from mailqa.checks.auth.dmarc import MAX_WALK_QUERIES, walk_targets


def test_a_short_domain_is_walked_label_by_label() -> None:
    assert walk_targets("a.mail.example.com") == [
        "a.mail.example.com",
        "mail.example.com",
        "example.com",
        "com",
    ]
    assert walk_targets("Example.COM.") == ["example.com", "com"]
    assert walk_targets("com") == ["com"]


def test_a_long_domain_jumps_to_seven_labels() -> None:
    # The example of section 4.10: eight queries, the second one 7 labels long.
    assert walk_targets("a.b.c.d.e.f.g.h.i.j.mail.example.com") == [
        "a.b.c.d.e.f.g.h.i.j.mail.example.com",
        "g.h.i.j.mail.example.com",
        "h.i.j.mail.example.com",
        "i.j.mail.example.com",
        "j.mail.example.com",
        "mail.example.com",
        "example.com",
        "com",
    ]


def test_no_walk_makes_more_than_eight_queries() -> None:
    for size in range(1, 20):
        domain = ".".join(f"l{n}" for n in range(size))
        targets = walk_targets(domain)
        assert len(targets) == min(size, MAX_WALK_QUERIES)
        assert targets[0] == domain and targets[-1] == f"l{size - 1}"
