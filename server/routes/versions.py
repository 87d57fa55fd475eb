"""``GET /versions``: the API versions IBM lists, and which one is live."""

from __future__ import annotations

from fastapi import APIRouter

from .. import models
from .common import API_VERSIONS, errors


def router() -> APIRouter:
    """The versions route (no credentials needed: it is how a client negotiates)."""
    api = APIRouter(tags=["versions"])

    @api.get("/versions", summary="The supported IBM-API-Version values",
             response_model=models.VersionsResponse, response_model_exclude_none=True,
             responses=errors())
    def versions() -> models.VersionsResponse:
        return models.VersionsResponse(versions=[
            models.VersionInfo(version=v, status=status, sunset_date=sunset)
            for v, (status, sunset) in API_VERSIONS.items()])

    return api
