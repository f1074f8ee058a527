"""``/openapi.json``, built from the endpoint declarations and the wire types.

Because request and response schemas come from :mod:`accord.wire.messages`
(the same declarations the server decodes with), the document cannot drift
from what the server accepts.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from accord.server.routes import RAW, SPECS, Spec
from accord.wire import federation as fw
from accord.wire import json_schema
from accord.wire import messages as m
from accord.wire import rendezvous as rv
from accord.wire.binary import MLS_MEDIA_TYPE

ERROR_STATUSES = {
    "400": "undecodable input",
    "401": "missing or invalid session, or a bad signature",
    "404": "not found (or not yours)",
    "409": "conflict (epoch taken, replayed nonce, existing name)",
    "413": "body too large",
    "422": "input breaks a rule",
    "429": "rate limited",
}


def _components() -> dict[str, Any]:
    todo: list[type] = [
        obj
        for obj in (*vars(m).values(), *vars(fw).values(), *vars(rv).values())
        if isinstance(obj, type) and dataclasses.is_dataclass(obj)
    ]
    return {cls.__name__: json_schema(cls) for cls in todo}


def _ref(cls: type) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{cls.__name__}"}


def _operation(spec: Spec) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": spec.summary,
        "operationId": spec.method.lower() + spec.path.replace("/", "_").replace("{", "")
        .replace("}", ""),
        "parameters": [
            {"name": p.name, "in": p.where, "required": p.where == "path", "schema": p.schema}
            | ({"description": p.description} if p.description else {})
            for p in spec.params
        ],
        "responses": {},
    }
    if spec.auth:
        op["security"] = [{"session": []}]
    elif spec.auth_if_shown:  # none, or a session (OpenAPI 3.0.3: {} makes it optional)
        op["security"] = [{}, {"session": []}]
    if spec.request is RAW:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    elif spec.request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(spec.request)}},
        }
        if spec.binary is not None:  # the MLS message as the body (wire.binary)
            op["requestBody"]["content"][MLS_MEDIA_TYPE] = {
                "schema": {"type": "string", "format": "binary"}}
    ok: dict[str, Any] = {"description": "success"}
    if spec.response is RAW:
        ok["content"] = {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
        }
    elif spec.response is not None:
        ok["content"] = {"application/json": {"schema": _ref(typing.cast(type, spec.response))}}
        if spec.binary_response is not None:  # asked for with Accept (wire.binary)
            ok["content"][spec.binary_response[0]] = {
                "schema": {"type": "string", "format": "binary"}}
    op["responses"][str(spec.status)] = ok
    for status, text in ERROR_STATUSES.items():
        op["responses"][status] = {
            "description": text,
            "content": {"application/json": {"schema": _ref(m.ErrorBody)}},
        }
    return op


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    from accord.server.consent_routes import SPECS as CONSENT_SPECS
    from accord.server.privacy_routes import SPECS as PRIVACY_SPECS
    from accord.server.rendezvous import SPECS as RENDEZVOUS_SPECS

    for spec in (*SPECS, *PRIVACY_SPECS, *CONSENT_SPECS, *RENDEZVOUS_SPECS):
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Accord provider API",
            # The API's version, never the software's (T15: no software version is sent).
            "version": "v1",
            "description": "Client-provider API of an Accord provider. Binary fields are "
            "unpadded base64url; times are milliseconds since the Unix epoch. Push: "
            "WebSocket /v1/ws (first frame WsAuth, then WsItems frames; under the "
            "subprotocol accord.queue.v1, binary frames each holding a queue page as "
            "application/vnd.accord.queue).",
        },
        "paths": paths,
        "components": {
            "schemas": _components(),
            "securitySchemes": {"session": {"type": "http", "scheme": "bearer"}},
        },
    }
