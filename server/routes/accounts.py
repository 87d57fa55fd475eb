"""``GET /accounts/{id}``: the account's plans, with their backends and session limits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request

from .. import models
from ..emulator import CRN_PREFIX, Emulator, NotFound
from ..platform import plan_id
from .analytics import subscription_id
from .common import errors, tenant

ACCOUNT_ID = CRN_PREFIX.split(":a/")[1].rstrip(":")
"""The one account the emulator serves (the ``a/…`` part of its instances' CRNs)."""


def router() -> APIRouter:
    """The account route."""
    api = APIRouter(tags=["accounts"])

    @api.get("/accounts/{account_id}", summary="The account's plans: backends, session limits",
             response_model=models.AccountConfiguration, response_model_exclude_none=True,
             responses=errors(400, 401, 403, 404))
    def account(request: Request,
                account_id: str = Path(min_length=1, max_length=64,
                                       pattern=r"^[a-zA-Z0-9_-]+$",
                                       description="The account id, without 'a/'"),
                plan_id_: str | None = Query(None, alias="plan_id", min_length=1,
                                             max_length=64)) -> dict[str, Any]:
        tenant(request)
        emulator: Emulator = request.app.state.emulator
        if account_id != ACCOUNT_ID:
            raise NotFound(f"Account not found: {account_id!r}; this service's account is "
                           f"{ACCOUNT_ID!r}")
        settings = next(iter(emulator.service.schedulers.values())).settings
        plans: dict[str, dict[str, Any]] = {}
        for instance in emulator.instances.values():
            pid = plan_id(instance)
            quota = emulator.quota_seconds(instance)
            plans.setdefault(pid, {
                "plan_id": pid, "subscription_id": subscription_id(instance.plan),
                "subscription_name": instance.plan.capitalize(),
                "backends": list(emulator.backends),
                "max_ttl": int(settings.max_time) if instance.plan != "open" else None,
                "interactive_ttl": max(1, int(settings.interactive_timeout)),
                "usage_limit_seconds": None if quota is None else int(quota),
            })
        chosen = [p for p in plans.values() if plan_id_ in (None, p["plan_id"])]
        return {"plans": chosen}

    return api
