"""protocol/openapi.yaml stays true to the running server.

(a) the document is valid OpenAPI 3.1 and internally consistent (the table enums match the row
    schemas);
(b) every documented operation that needs no body answers an anon-key request with one of its
    documented statuses (never a routing 404/405);
(c) the rows the server returns (service role, demo data) have exactly the documented columns,
    in the documented order, with the documented JSON types;
(d) a real password sign-in validates against the Session schema.

When this fails, fix the document (protocol/openapi.yaml), not the server — unless the server is
wrong.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[2] / "protocol" / "openapi.yaml"
DOC_URI = "urn:praxis:protocol:openapi.yaml"
HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")
ASHA = ("asha.patel@praxis.test", "practice-demo-1")
# Tables the demo data fills; the others are empty in a fresh demo database and are skipped.
DEMO_FILLED = {"profiles", "practice_rooms", "case_briefs", "scenarios", "users"}


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- document helpers


def resolve(spec: dict, node: Any) -> Any:
    """Follows local `$ref`s (`#/…`) until a node without one."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are expected, got {ref}"
        node = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def schema_validator(spec: dict, name: str) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator for components/schemas/<name>, resolving refs in the document."""
    registry = Registry().with_resource(DOC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{DOC_URI}#/components/schemas/{name}"}, registry=registry)


def row_schemas(spec: dict) -> dict[str, tuple[str, dict]]:
    """table name → (schema name, schema) for every row schema (marked `x-table`)."""
    found = {}
    for name, schema in spec["components"]["schemas"].items():
        if "x-table" in schema:
            assert schema["x-table"] not in found, f"two row schemas for {schema['x-table']}"
            found[schema["x-table"]] = (name, schema)
    return found


def operation_parameters(spec: dict, path_item: dict, operation: dict) -> list[dict]:
    """Path-level parameters overridden by operation-level ones (same name and location)."""
    merged: dict[tuple[str, str], dict] = {}
    for raw in path_item.get("parameters", []) + operation.get("parameters", []):
        parameter = resolve(spec, raw)
        merged[(parameter["name"], parameter["in"])] = parameter
    return list(merged.values())


def bodyless_requests(spec: dict) -> Iterator[tuple[str, str, str, dict, dict]]:
    """(method, template, concrete path, query, operation) for every operation needing no body.

    Path parameters are expanded over their enum; required query parameters take their enum's
    first value, their default or their first example.
    """
    for template, path_item in spec["paths"].items():
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            body = resolve(spec, operation.get("requestBody", {}))
            if body.get("required"):
                continue
            parameters = operation_parameters(spec, path_item, operation)
            query = {}
            for parameter in parameters:
                if parameter["in"] == "query" and parameter.get("required"):
                    schema = parameter["schema"]
                    candidates = schema.get("enum") or ([schema["default"]] if "default" in schema else schema.get("examples"))
                    value = candidates[0] if candidates else None
                    assert value is not None, f"{method.upper()} {template}: no value for required {parameter['name']}"
                    query[parameter["name"]] = value
            choices = []
            for parameter in parameters:
                if parameter["in"] == "path":
                    values = parameter["schema"].get("enum")
                    assert values, f"{method.upper()} {template}: path parameter {parameter['name']} needs an enum"
                    choices.append([(parameter["name"], value) for value in values])
            for combination in itertools.product(*choices):
                concrete = template
                for name, value in combination:
                    concrete = concrete.replace("{" + name + "}", value)
                assert "{" not in concrete, f"{template}: a path parameter is not declared"
                yield method, template, concrete, query, operation


def documented(status: int, responses: dict) -> bool:
    code = str(status)
    return code in responses or f"{code[0]}XX" in responses or "default" in responses


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise AssertionError(f"not a JSON value: {value!r}")


def allowed_types(property_schema: dict) -> set[str]:
    declared = property_schema["type"]
    types = {declared} if isinstance(declared, str) else set(declared)
    if "number" in types:
        types.add("integer")
    return types


# ---------------------------------------------------------------- (a) the document


def test_document_is_valid_openapi_3_1(spec):
    assert str(spec["openapi"]).startswith("3.1."), spec["openapi"]
    validate(spec, cls=OpenAPIV31SpecValidator)

    tables = row_schemas(spec)
    parameters = spec["components"]["parameters"]
    readable = parameters["TableName"]["schema"]["enum"]
    writable = parameters["WritableTableName"]["schema"]["enum"]
    assert sorted(readable) == sorted(tables), "the readable table enum and the row schemas differ"
    views = {table for table, (_, schema) in tables.items() if schema.get("readOnly")}
    assert sorted(writable) == sorted(set(tables) - views), "the writable table enum should be the tables that are not views"
    assert set(spec["components"]["securitySchemes"]) == {"apikey", "bearer"}
    for table, (name, schema) in tables.items():
        assert schema.get("additionalProperties") is False, f"{name} must list every column"
        for column, property_schema in schema["properties"].items():
            assert "type" in property_schema, f"{name}.{column} needs a JSON type"


# ---------------------------------------------------------------- (b) every bodyless operation


def test_every_bodyless_operation_answers_a_documented_status(demo_server, spec):
    requests = list(bodyless_requests(spec))
    assert len(requests) > 10, "expected the health, auth and data operations"
    failures = []
    with httpx.Client(base_url=demo_server.url, timeout=30) as client:
        for method, template, path, query, operation in requests:
            response = client.request(method.upper(), path, params=query, headers={"apikey": demo_server.anon_key})
            status = response.status_code
            label = f"{method.upper()} {path} ({template}) → {status}"
            if status in (404, 405):
                failures.append(f"{label}: the server does not serve this documented operation: {response.text[:200]}")
            elif not documented(status, operation["responses"]):
                failures.append(f"{label}: not among the documented {sorted(operation['responses'])}: {response.text[:200]}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- (c) rows against the row schemas


def test_rows_match_the_documented_row_schemas(demo_server, spec):
    headers = {"apikey": demo_server.service_key, "Authorization": f"Bearer {demo_server.service_key}"}
    checked, skipped, failures = set(), set(), []
    with httpx.Client(base_url=demo_server.url, timeout=30) as client:
        for table, (name, schema) in row_schemas(spec).items():
            response = client.get(f"/rest/v1/{table}", params={"limit": "1"}, headers=headers)
            assert response.status_code == 200, f"{table}: {response.status_code} {response.text[:300]}"
            rows = response.json()
            assert isinstance(rows, list) and len(rows) <= 1, f"{table}: {rows!r}"
            if not rows:
                skipped.add(table)
                continue
            checked.add(table)
            row = rows[0]
            properties = schema["properties"]
            if set(row) != set(properties):
                failures.append(
                    f"{name} ({table}): undocumented columns {sorted(set(row) - set(properties))}, "
                    f"documented but absent {sorted(set(properties) - set(row))}"
                )
                continue
            if list(row) != list(properties):
                failures.append(f"{name} ({table}): columns come as {list(row)}, documented as {list(properties)}")
            for column, value in row.items():
                if json_type(value) not in allowed_types(properties[column]):
                    failures.append(
                        f"{name}.{column}: the server sent {json_type(value)} ({value!r:.80}), "
                        f"documented {properties[column]['type']}"
                    )
            for error in schema_validator(spec, name).iter_errors(row):
                failures.append(f"{name} ({table}): {error.message} at {list(error.absolute_path)}")
    assert not failures, "\n".join(failures)
    assert DEMO_FILLED <= checked, f"expected rows in {sorted(DEMO_FILLED - checked)}; empty (skipped): {sorted(skipped)}"


# ---------------------------------------------------------------- (d) a real session


def test_password_sign_in_matches_the_session_schema(demo_server, spec):
    email, password = ASHA
    response = httpx.post(
        f"{demo_server.url}/auth/v1/token",
        params={"grant_type": "password"},
        headers={"apikey": demo_server.anon_key},
        json={"email": email, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert "200" in spec["paths"]["/auth/v1/token"]["post"]["responses"]
    body = response.json()
    errors = [f"{error.message} at {list(error.absolute_path)}" for error in schema_validator(spec, "Session").iter_errors(body)]
    assert not errors, "\n".join(errors)
    assert body["user"]["email"] == email
