"""Property tests: whatever Pinpoint or HiBob answer, only the poller's own errors escape.

Bodies are arbitrary JSON (st.recursive), or the contract's shapes with any field swapped
for a wrong type, a huge or exotic string, or left out.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poller.cv import check_cv_url, document_name
from poller.errors import InvalidResponse, PollerError, UpstreamError
from poller.models import Application, Attachment
from poller.upstream import hibob, pinpoint
from poller.upstream.hibob import HibobClient
from poller.upstream.http import Answer, HttpClient
from poller.upstream.http_errors import classify, parse_json
from poller.upstream.pinpoint import PinpointClient
from poller.upstream.wire import (
    ApplicationDocument,
    ApplicationPage,
    DocumentsAnswer,
    JobsPage,
    NamedList,
    SearchAnswer,
    validate,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MARKER = "PII-7f3a"  # planted in string values: it must never reach a message

huge = st.builds(lambda ch, n: ch * n, st.characters(), st.integers(1000, 200_000))
strings = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8")),
    huge,
    st.sampled_from(
        ["", " ", "\x00", "\u202e", "2025-02-19T09:25:04+00:00", "2025-03-03", "9" * 400, "NaN"]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), strings)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)


def field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid value, sometimes anything at all."""
    return st.one_of(valid, valid, json_values)


def obj(
    required: dict[str, st.SearchStrategy[Any]],
    optional: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[Any]:
    """A JSON object of the contract's shape (keys may go missing), or anything else."""
    return field(
        st.fixed_dictionaries(
            {},
            optional={
                **{k: field(v) for k, v in required.items()},
                **{k: field(v) for k, v in (optional or {}).items()},
            },
        )
    )


ids = st.one_of(st.text(min_size=1, max_size=20), st.integers(0, 10**20))
timestamps = st.sampled_from(["2025-02-19T09:25:04+00:00", "2025-02-19T09:25:04", "x", ""])
ref = obj({"type": st.sampled_from(["jobs", "stages", "locations", "offers"]), "id": ids})
to_one = obj({"data": ref})
to_many = obj({"data": st.lists(ref, max_size=3)})
resource = obj(
    {"type": st.sampled_from(["jobs", "stages", "locations", "offers"]), "id": ids},
    {
        "attributes": obj(
            {},
            {
                "name": strings,
                "title": strings,
                "start_date": timestamps,
                "department": obj({"name": strings}),
            },
        ),
        "relationships": obj({}, {"location": to_one, "job": to_one, "stages": to_many}),
    },
)
application_body = obj(
    {
        "data": obj(
            {"id": ids},
            {
                "attributes": obj(
                    {},
                    {
                        "first_name": strings,
                        "last_name": strings,
                        "email": strings,
                        "updated_at": timestamps,
                        "attachments": st.lists(
                            obj(
                                {},
                                {
                                    "context": st.sampled_from(["cv", "pdf_cv"]),
                                    "filename": strings,
                                    "url": strings,
                                },
                            ),
                            max_size=3,
                        ),
                    },
                ),
                "relationships": obj({}, {"job": to_one, "stage": to_one}),
            },
        )
    },
    {"included": st.lists(resource, max_size=4)},
)
listing_body = obj(
    {
        "data": st.lists(
            obj(
                {"id": ids, "attributes": obj({"updated_at": timestamps})},
                {"relationships": obj({}, {"stage": to_one, "job": to_one})},
            ),
            max_size=4,
        )
    },
    {
        "included": st.lists(resource, max_size=2),
        "meta": obj({"stats": obj({"total": obj({"count": st.integers()})})}),
    },
)
jobs_body = obj(
    {
        "data": st.lists(
            obj(
                {"id": ids},
                {
                    "attributes": obj({"title": strings}),
                    "relationships": obj({}, {"stages": to_many}),
                },
            ),
            max_size=3,
        )
    },
    {"included": st.lists(resource, max_size=4)},
)
search_body = obj(
    {
        "employees": st.lists(
            obj(
                {},
                {
                    "id": ids,
                    "email": strings,
                    "/root/id": obj({"value": ids}),
                    "/root/email": obj({"value": strings}),
                },
            ),
            max_size=3,
        )
    }
)
documents_body = obj(
    {
        "documents": st.lists(
            st.one_of(
                obj({"documentName": strings}, {"downloadLink": strings}),
                obj(
                    {
                        "doc": obj(
                            {"name": strings}, {"id": ids, "tags": st.lists(strings, max_size=2)}
                        )
                    }
                ),
            ),
            max_size=3,
        )
    }
)
list_item = st.recursive(
    obj({"name": strings}, {"archived": st.booleans()}),
    lambda inner: obj(
        {"name": strings}, {"archived": st.booleans(), "children": st.lists(inner, max_size=3)}
    ),
    max_leaves=10,
)
named_list_body = obj({"items": st.lists(list_item, max_size=4)})
id_body = obj({"id": ids})

PARSERS: list[tuple[str, Callable[[Any], object], st.SearchStrategy[Any]]] = [
    ("application", pinpoint.parse_application, application_body),
    ("listing", pinpoint.parse_listing_page, listing_body),
    ("jobs", pinpoint.parse_jobs_page, jobs_body),
    ("comment", pinpoint.parse_comment, obj({"data": obj({"id": ids})})),
    ("search", lambda body: hibob.parse_search(body, "a@example.com"), search_body),
    ("documents", hibob.parse_documents, documents_body),
    ("named_list", hibob.parse_named_list, named_list_body),
    ("created", lambda body: hibob.parse_id(body, "POST /people"), id_body),
]


def only_invalid_response(parse: Callable[[Any], object], body: object) -> None:
    try:
        parse(body)
    except InvalidResponse as exc:
        assert len(str(exc)) < 600
        assert MARKER not in str(exc)
        assert exc.__context__ is None and exc.__cause__ is None


@pytest.mark.parametrize(("name", "parse", "shaped"), PARSERS, ids=[p[0] for p in PARSERS])
def test_parsers_raise_only_invalid_response_on_shaped_bodies(
    name: str, parse: Callable[[Any], object], shaped: st.SearchStrategy[Any]
) -> None:
    @FUZZ
    @given(body=shaped)
    def run(body: object) -> None:
        only_invalid_response(parse, body)

    run()


@pytest.mark.parametrize(("name", "parse", "shaped"), PARSERS, ids=[p[0] for p in PARSERS])
def test_parsers_raise_only_invalid_response_on_any_json(
    name: str, parse: Callable[[Any], object], shaped: st.SearchStrategy[Any]
) -> None:
    @FUZZ
    @given(body=json_values)
    def run(body: object) -> None:
        only_invalid_response(parse, body)

    run()


MODELS = [ApplicationDocument, ApplicationPage, JobsPage, SearchAnswer, DocumentsAnswer, NamedList]


@FUZZ
@given(model=st.sampled_from(MODELS), body=json_values)
def test_wire_models_only_raise_invalid_response(model: Any, body: object) -> None:
    only_invalid_response(lambda b: validate(model, b, api="x", endpoint="GET /x"), body)


planted = st.recursive(
    st.one_of(st.builds(lambda s: MARKER + s, st.text(max_size=20)), st.integers(), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                ["data", "attributes", "id", "first_name", "updated_at", "included", "type"]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


@FUZZ
@given(body=planted)
def test_validation_messages_never_quote_values(body: object) -> None:
    only_invalid_response(pinpoint.parse_application, body)
    only_invalid_response(pinpoint.parse_listing_page, body)


def test_deeply_nested_bodies_are_invalid_not_a_crash() -> None:
    item: dict[str, Any] = {"name": "x"}
    for _ in range(5000):
        item = {"name": "x", "children": [item]}
    with pytest.raises(InvalidResponse, match="nested too deeply"):
        hibob.parse_named_list({"items": [item]})


def response(status: int, body: bytes) -> Answer:
    return Answer(status, {}, body)


raw_bodies = st.one_of(
    st.binary(max_size=2000),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"", b"[" * 50_000, b"\xff\xfe\x00", b"<html>x</html>", b"null"]),
)


@FUZZ
@given(body=raw_bodies)
def test_parse_json_only_raises_invalid_response(body: bytes) -> None:
    try:
        parse_json(response(200, body), "hibob", "GET /x")
    except InvalidResponse as exc:
        assert exc.endpoint == "GET /x" and "HTTP 200" in exc.message


@FUZZ
@given(
    status=st.integers(100, 599),
    body=st.one_of(raw_bodies, strings),
    headers=st.dictionaries(
        st.sampled_from(["Retry-After", "X-RateLimit-Reset", "Content-Type", "retry-after"]),
        strings,
        max_size=3,
    ),
    api=st.sampled_from(["pinpoint", "hibob"]),
)
def test_classify_is_total(
    status: int, body: bytes | str, headers: dict[str, str], api: str
) -> None:
    err = classify(api, "POST /people", status, body, headers)
    assert isinstance(err, UpstreamError)
    assert len(err.message) <= 300
    assert all(ch.isprintable() for ch in err.message)


@FUZZ
@given(
    status=st.sampled_from([200, 201, 204, 301, 400, 401, 404, 413, 429, 500, 503]),
    body=raw_bodies,
    which=st.sampled_from(["application", "documents", "search", "list"]),
)
def test_clients_over_http_raise_only_poller_errors(status: int, body: bytes, which: str) -> None:
    base = "http://127.0.0.1:9"
    http = HttpClient("fuzz", base, headers={}, max_retries=0, sleep=lambda _: None)
    calls: dict[str, tuple[str, str, Callable[[], object]]] = {
        "application": (
            "GET",
            "/applications/1",
            lambda: PinpointClient(http).get_application("1"),
        ),
        "documents": ("GET", "/docs/people/1", lambda: HibobClient(http).list_documents("1")),
        "search": ("POST", "/people/search", lambda: HibobClient(http).find_by_email("a@b.c")),
        "list": ("GET", "/company/named-lists/site", lambda: HibobClient(http).named_list("site")),
    }
    method, path, call = calls[which]
    with responses.RequestsMock() as rsps:
        rsps.add(method, base + path, status=status, body=body)
        with contextlib.suppress(PollerError):
            call()


@FUZZ
@given(
    url=st.one_of(
        st.text(),
        st.builds(lambda h, p: f"https://{h}/{p}", st.text(), st.text()),
        st.from_regex(r"\Ahttps?://[a-z0-9.\[\]:@-]{0,40}(/[^\s]{0,20})?\Z"),
    )
)
def test_check_cv_url_only_rejects(url: str) -> None:
    with contextlib.suppress(PollerError):
        check_cv_url(
            url,
            allowed_hosts=["pinpointhq.com"],
            pinpoint_origin="https://a.pinpointhq.com",
            allow_loopback=False,
        )


@FUZZ
@given(
    first=st.one_of(st.none(), strings),
    last=st.one_of(st.none(), strings),
    filename=strings,
    max_len=st.integers(16, 300),
)
def test_document_name_is_always_a_safe_bounded_name(
    first: str | None, last: str | None, filename: str, max_len: int
) -> None:
    app = Application(
        id="1",
        first_name=first,
        last_name=last,
        email=None,
        phone=None,
        updated_at=None,
        job_id=None,
        job_title=None,
        department=None,
        location=None,
        offer_start_on=None,
    )
    name = document_name(
        app, Attachment(context="cv", filename=filename, url="https://x"), max_len=max_len
    )
    assert name.startswith("CV - ") and len(name) <= max_len
    assert name.rsplit(".", 1)[1] in {"pdf", "doc", "docx"}
    assert not set(name) & set('/\\:*?"<>|') and all(ch.isprintable() for ch in name)
