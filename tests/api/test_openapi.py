"""Issue 13 point 4 (part): the OpenAPI names the media type errors are sent with, and the edge's statuses."""

from __future__ import annotations

from app.main import create_app
from tests.conftest import make_settings


def test_every_error_answer_is_problem_json_and_body_operations_document_400_408_422() -> None:
    spec = create_app(make_settings("sqlite+aiosqlite://")).openapi()
    assert "Problem" in spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if (
                    int(status) >= 400
                ):  # Outbound Messages answer SOAP faults too (text/xml), as Salesforce expects
                    own = {"text/xml"} if path.endswith("/outbound-messages/{token}") else set()
                    assert "application/problem+json" in response["content"], (method, path, status)
                    assert set(response["content"]) - {"application/problem+json"} <= own, (
                        method,
                        path,
                        status,
                    )
            if "requestBody" in operation:
                assert {"400", "408", "422"} <= set(operation["responses"]), (method, path)
            if path.startswith("/api/v1"):
                assert {"401", "403", "422", "503"} <= set(operation["responses"]), (method, path)


def test_each_documented_error_shows_an_example_of_that_operation_and_status() -> None:
    spec = create_app(make_settings("sqlite+aiosqlite://")).openapi()
    webhook_codes = {"SIGNATURE_INVALID", "ENVELOPE_INVALID", "STORE_UNAVAILABLE", "BODY_TOO_LARGE"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                example = response["content"]["application/problem+json"]["example"]
                assert example["status"] == int(status), (method, path, status)
                if path.startswith("/api/v1"):
                    assert example["code"] not in webhook_codes, (method, path, status)
    deliveries = spec["paths"]["/api/v1/deliveries/{delivery_id}/replay"]["post"]["responses"]
    assert deliveries["404"]["content"]["application/problem+json"]["example"]["code"] == "DELIVERY_NOT_FOUND"
    ctms = spec["paths"]["/webhooks/ctms"]["post"]["responses"]
    assert ctms["401"]["content"]["application/problem+json"]["example"]["code"] == "SIGNATURE_INVALID"
