"""The OpenAPI 3.1 document of a peer's HTTP API, built from the JSON Schemas `peerkit
generate` writes beside each service (``generated/{service}.schema.json``): one schema, every
surface. Pure: the gateway hands in what its services are."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, NamedTuple

#: how every error answers (the gateway's one error shape)
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "the error's code (ValidationFailed: usage)"},
        "message": {"type": "string"},
        "hint": {"type": "string"},
    },
    "required": ["error", "message"],
}
ACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"type": {"const": "peerkit.Ack"}},
    "description": "the reply of a request whose handler returns nothing",
}


class Operation(NamedTuple):
    service: str
    handler: str
    request: str  # the message's name in the service's schema
    reply: str | None
    events: bool = False


def load_schema(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def build_openapi(
    title: str, version: str, schemas: dict[str, dict[str, Any]], operations: list[Operation]
) -> dict[str, Any]:
    """``schemas``: each service's JSON Schema document; ``operations``: what is served."""
    components: dict[str, Any] = {"peerkit.Error": ERROR_SCHEMA, "peerkit.Ack": ACK_SCHEMA}
    for service, document in schemas.items():
        for name, schema in document.get("$defs", {}).items():
            components[f"{service}.{name}"] = _component(service, schema)
    paths: dict[str, Any] = {}
    for op in operations:
        if op.events:
            paths[f"/api/{op.service}/events"] = {"get": _events(op)}
            continue
        reply = (
            {"$ref": f"#/components/schemas/{op.service}.{op.reply}"}
            if op.reply
            else {"$ref": "#/components/schemas/peerkit.Ack"}
        )
        request_schema = schemas[op.service]["$defs"][op.request]
        paths[f"/api/{op.service}/{op.handler}"] = {
            "post": {
                "operationId": f"{op.service}.{op.handler}",
                "summary": request_schema.get("description", f"{op.request} ({op.service})"),
                "tags": [op.service],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{op.service}.{op.request}"}
                        }
                    },
                },
                "responses": {
                    "200": {"description": "the reply", "content": _json(reply)},
                    **{
                        code: {"description": text, "content": _json(_error())}
                        for code, text in _ERRORS.items()
                    },
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "The services of a peerkit peer over HTTP+JSON: the same types,"
            " validation and errors as over libp2p. Calls act as the peer's local user.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "gatewayToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "needed off loopback (the peer's gateway.token file)",
                }
            },
        },
    }


_ERRORS = {
    "400": "the body does not fit the request type (ValidationFailed names the field)",
    "401": "the gateway is off loopback and the request has no token",
    "403": "refused (authorization)",
    "404": "no such service or handler on this peer",
    "501": "the handler is not written yet",
    "503": "busy: retry",
    "504": "the handler did not answer in time",
}


def _error() -> dict[str, Any]:
    return {"$ref": "#/components/schemas/peerkit.Error"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _events(op: Operation) -> dict[str, Any]:
    return {
        "operationId": f"{op.service}.events",
        "summary": f"the {op.service} service's events as they arrive (Server-Sent Events:"
        " `event:` the type's tag, `data:` its JSON)",
        "tags": [op.service],
        "responses": {
            "200": {"description": "an event stream", "content": {"text/event-stream": {}}},
            "401": {"description": _ERRORS["401"], "content": _json(_error())},
        },
    }


def _component(service: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A message's schema as an OpenAPI component: refs point into components, and ``type``
    (the tag) is optional, since the path says which type a body is."""
    out = copy.deepcopy(schema)
    _rewrite_refs(out, service)
    required = out.get("required")
    if isinstance(required, list) and "type" in required:
        out["required"] = [r for r in required if r != "type"]
    return out


def _rewrite_refs(node: Any, service: str) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node["$ref"] = f"#/components/schemas/{service}.{ref.removeprefix('#/$defs/')}"
        for value in node.values():
            _rewrite_refs(value, service)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, service)
