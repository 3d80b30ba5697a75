"""The Mailtrap-compatible API: the send API (``send.py``) and the testing API
(``testing.py``), with Mailtrap's error shapes (``errors.py``) and JSON shapes
(``shapes.py``)."""

from __future__ import annotations

from fastapi import APIRouter

from mailqa.api.routes.mailtrap import send, testing

router = APIRouter()
router.include_router(send.router)
router.include_router(testing.router)
