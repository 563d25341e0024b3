"""The one JSON error format (callcenter.api): every helper answers the same shape."""

from __future__ import annotations

import json

from aiohttp import web

from callcenter import api, auth, bodies, inputs
from callcenter.contract.describe import ErrorBody


def body(exc: web.HTTPException) -> dict[str, object]:
    assert exc.content_type == "application/json"
    assert exc.text is not None
    data = json.loads(exc.text)
    ErrorBody.model_validate(data)  # the OpenAPI error schema: error and detail required
    return dict(data)


def test_invalid_names_the_field_and_reads_as_a_sentence() -> None:
    exc = api.invalid("limit", "must be an integer")
    assert exc.status == 400
    assert body(exc) == {
        "error": "invalid",
        "detail": "limit: must be an integer",
        "field": "limit",
        "reason": "must be an integer",
    }


def test_not_found_with_and_without_a_field() -> None:
    assert body(api.not_found("no callback 7")) == {"error": "not_found", "detail": "no callback 7"}
    exc = api.not_found("no tenant 'x'", field="tenant")
    assert exc.status == 404
    assert body(exc) == {"error": "not_found", "detail": "no tenant 'x'", "field": "tenant"}


def test_error_keeps_a_machine_reason() -> None:
    exc = api.error(422, "destination_refused", "premium numbers are not dialled", "premium")
    assert exc.status == 422
    assert body(exc) == {
        "error": "destination_refused",
        "detail": "premium numbers are not dialled",
        "reason": "premium",
    }
    assert api.error(418, "x", "y").status == 400  # unknown status: 400


def test_the_older_entry_points_are_the_same_helpers() -> None:
    assert auth.json_error is api.json_error
    assert inputs.invalid is api.invalid
    assert body(bodies.too_large(10)) == {
        "error": "too_large",
        "detail": "body: larger than 10 bytes",
    }
    assert body(auth.json_error(web.HTTPForbidden, "forbidden", "no")) == {
        "error": "forbidden",
        "detail": "no",
    }


def test_every_feature_answers_a_bad_input_in_the_one_format() -> None:
    from callbacks import http as callbacks_http
    from crm.routes import common as crm_common
    from lines import http as lines_http
    from stats import http as stats_http
    from voicemail.routes import common as voicemail_common

    for make in (
        crm_common.invalid,
        stats_http._invalid,
        voicemail_common.invalid,
        callbacks_http._invalid,
        lines_http._invalid,
    ):
        assert body(make("queue", "unknown")) == body(api.invalid("queue", "unknown"))
