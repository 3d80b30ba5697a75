"""The exception tree.

MailqaError
├── MessageParseError    the bytes could not be read as a message at all
├── RulesError           bundled rules data is missing or invalid
├── ConfigError          a setting or option has a bad value
├── NotFound             a stored object does not exist (or is not visible)
│   └── SourceExpired    the message exists but retention dropped its raw source
├── Forbidden            the caller sees the object but may not do this (not an admin)
├── QuotaExceeded        an inbox has no room for a message
├── AnalysisQueueFull    capture refused for now: too many analyses are queued
├── LimitExceeded        a project token asked beyond an admin-set limit (inboxes, quota)
└── CheckError           a check could not finish
    └── TransientCheckError   ...for a reason that may pass (daemon down, DNS timeout)
"""


class MailqaError(Exception):
    """Base of every error mailqa raises on purpose."""


class MessageParseError(MailqaError):
    pass


class RulesError(MailqaError):
    pass


class ConfigError(MailqaError):
    pass


class NotFound(MailqaError):
    pass


class SourceExpired(NotFound):
    pass


class Forbidden(MailqaError):
    pass


class QuotaExceeded(MailqaError):
    pass


class LimitExceeded(MailqaError):
    pass


class AnalysisQueueFull(MailqaError):
    """Too many stored messages wait for their analysis: capture refuses new ones until
    the queue drains (SMTP ``451``, HTTP ``503``); nothing was stored, the sender retries."""

    retry_after = 5
    """Seconds a client is asked to wait before it tries again."""


class AnalysisFailed(MailqaError):
    """The analysis could not run now (its process died, or none can start): try again."""


class AnalysisCrashed(AnalysisFailed):
    """The analysis process died while analysing the message."""


class AnalysisUnavailable(AnalysisFailed):
    """The analysis processes cannot start (a configuration they refuse): nothing can run."""


class CheckError(MailqaError):
    pass


class TransientCheckError(CheckError):
    """A check failure worth retrying later (spamd unreachable, DNS timeout...)."""
