"""Detection of email-client-sensitive HTML and CSS features (one detector per caniemail slug)."""

from mailqa.checks.html_detect.detectors import DETECTORS, UNDETECTABLE, Detector
from mailqa.checks.html_detect.engine import MAX_CSS_CHARS, MAX_LOCATIONS, Detection, detect

__all__ = [
    "DETECTORS",
    "MAX_CSS_CHARS",
    "MAX_LOCATIONS",
    "UNDETECTABLE",
    "Detection",
    "Detector",
    "detect",
]
