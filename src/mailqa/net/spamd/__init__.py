"""SpamAssassin's spamd: ``client`` (one long-lived async client per process), ``process``
(a spamd child process managed by mailqa) and ``provision`` (which of the two a process uses,
from its settings)."""
