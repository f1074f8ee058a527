"""The one reader of a JSON request body in the local app: an object, or a typed 422.

Every view that takes a body reads it here, so a body that is not JSON, or JSON
that is not an object, is a ``ValidationError`` (422) and never a 500.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from accord.errors import ValidationError


async def json_object(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValidationError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValidationError("the body is not a JSON object")
    return data
