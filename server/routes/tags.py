"""``GET /tags``: IBM's tag search, the distinct tags of the instance's jobs containing a string.

IBM's reference ("List tags") takes ``type`` (only ``job``) and ``search`` (3 to 100
characters) and answers at most five tags. The emulator answers the tags of the caller's
jobs (deleted ones excluded) that contain ``search``, as ``GET /workloads``'s ``search``
matches them (case-sensitive), newest job first; none found is an empty list, which IBM's
reference leaves undocumented.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request

from .. import models
from ..emulator import Emulator
from .common import errors, tenant


def router() -> APIRouter:
    """The tag-search route."""
    api = APIRouter(tags=["jobs"])

    @api.get("/tags", summary="Tags of the instance's jobs that contain a string",
             response_model=models.TagsFound, responses=errors(400, 401, 403))
    def tags(request: Request,
             kind: Literal["job"] = Query("job", alias="type",
                                          description="what carries the tags: only job"),
             search: str = Query(min_length=3, max_length=100,
                                 description="a part of the tags to find")
             ) -> models.TagsFound:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        with emulator.lock:
            tagged = [job.tags for job in emulator.jobs_of(owner)]
        found: list[str] = []
        for job_tags in reversed(tagged):  # jobs are kept in submission order
            found += [t for t in job_tags if search in t and t not in found]
        return models.TagsFound(tags=found[:models.MAX_TAGS_FOUND])

    return api
