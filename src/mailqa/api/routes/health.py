"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from mailqa.api.deps import ServiceDep
from mailqa.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(service: ServiceDep) -> Response:
    try:
        await service.store.ping()
    except Exception as exc:
        return JSONResponse({"status": f"database unavailable: {exc}"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")
