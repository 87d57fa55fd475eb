"""Print the OpenAPI document, as installed beside the pages of ``qsession docs`` (openapi.json).

In a clone, ``make docs`` writes it over the repository's copy; a test fails when that copy
differs from what this prints.
"""

from __future__ import annotations

import json

from .app import openapi_document


def main() -> None:
    """Write the document to standard output."""
    print(json.dumps(openapi_document(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
