"""``GET /accounts/{id}``: the account's plans, with their backends and session limits.

An account is the ``a/ID`` part of its instances' CRNs: the server's own (``qsession``)
and those of the CRNs programs bring (tenants on first use). IBM: "If no account
information is found, returns the default configuration": an account id the server has
no instance of answers the plan a new instance gets here, with its default limits.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Path, Query, Request

from .. import models
from ..emulator import CRN_PREFIX, Emulator, Instance
from ..platform import plan_id
from .analytics import subscription_id
from .common import errors, tenant

ACCOUNT_ID = CRN_PREFIX.split(":a/")[1].rstrip(":")
"""The server's own account (the ``a/…`` part of the CRNs of the instances it names)."""


def account_of(crn: str) -> str | None:
    """The account id of a CRN (``…:a/ID:INSTANCE::``), or None."""
    match = re.search(r":a/([^:/]+):", crn)
    return match.group(1) if match else None


def router() -> APIRouter:
    """The account route."""
    api = APIRouter(tags=["accounts"])

    @api.get("/accounts/{account_id}",
             summary="The account's plans: backends, session limits (an account with no "
                     "instance here: the default configuration, as IBM's)",
             response_model=models.AccountConfiguration, response_model_exclude_none=True,
             responses=errors(400, 401, 403))
    def account(request: Request,
                account_id: str = Path(min_length=1, max_length=64,
                                       pattern=r"^[a-zA-Z0-9_-]+$",
                                       description="The account id, without 'a/'"),
                plan_id_: str | None = Query(None, alias="plan_id", min_length=1,
                                             max_length=64)
                ) -> models.AccountConfiguration:
        tenant(request)
        emulator: Emulator = request.app.state.emulator
        with emulator.lock:
            mine = [i for i in emulator.instances.values() if account_of(i.crn) == account_id]
            quotas = {i.name: emulator.quota_seconds(i) for i in mine}
        settings = next(iter(emulator.service.schedulers.values())).settings
        plans: dict[str, models.PlanConfiguration] = {}
        # No instance of that account: the default configuration, the plan a new
        # instance gets (Instance's default plan, without a quota of its own).
        for instance in mine or [Instance(name="default")]:
            pid = plan_id(instance)
            quota = quotas.get(instance.name)
            plans.setdefault(pid, models.PlanConfiguration(
                plan_id=pid, subscription_id=subscription_id(instance.plan),
                subscription_name=instance.plan.capitalize(),
                backends=list(emulator.backends),
                max_ttl=int(settings.max_time) if instance.plan != "open" else None,
                interactive_ttl=max(1, int(settings.interactive_timeout)),
                usage_limit_seconds=None if quota is None else int(quota)))
        chosen = [p for p in plans.values() if plan_id_ in (None, p.plan_id)]
        return models.AccountConfiguration(plans=chosen)

    return api
