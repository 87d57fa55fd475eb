"""Print the OpenAPI document: ``python -m qsession.server.openapi > docs/openapi.json``."""

from __future__ import annotations

import json

from .app import openapi_document


def main() -> None:
    """Write the document to standard output."""
    print(json.dumps(openapi_document(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
