"""The pure mapping from a Pinpoint application to a HiBob create-employee payload."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from poller.config import MappingSettings
from poller.errors import MappingError
from poller.mapping import build_employee, closest, comment_text, work_email
from poller.models import Application

TODAY = date(2025, 3, 10)


def make_app(**kw: Any) -> Application:
    base: dict[str, Any] = {
        "id": "8863902",
        "first_name": "Brian",
        "last_name": "Farrell",
        "email": "Brian.Farrell@Example.com ",
        "phone": "+44 7700 900000",
        "updated_at": None,
        "job_id": "17",
        "job_title": "Backend Engineer",
        "department": "Product",
        "location": "London, United Kingdom",
        "offer_start_on": date(2025, 4, 1),
        "attributes": {"source": "LinkedIn", "salary": 50000, "remote": True, "tags": ["a"]},
    }
    base.update(kw)
    return Application(**base)


def make_cfg(**kw: Any) -> MappingSettings:
    base: dict[str, Any] = {
        "site_map": {"London, United Kingdom": "London", "New York, United States": "New York"},
        "default_site": None,
        "department_map": {"Product": "Engineering"},
        "title_map": {"Backend Engineer": "Software Engineer"},
    }
    base.update(kw)
    return MappingSettings(**base)


def build(app: Application | None = None, cfg: MappingSettings | None = None, **kw: Any) -> Any:
    return build_employee(app or make_app(), cfg or make_cfg(), today=TODAY, **kw)


def test_full_payload() -> None:
    payload = build()
    assert payload.body == {
        "firstName": "Brian",
        "surname": "Farrell",
        "email": "brian.farrell@example.com",
        "work": {
            "site": "London",
            "department": "Engineering",
            "title": "Software Engineer",
            "startDate": "2025-04-01",
        },
    }
    assert payload.email == "brian.farrell@example.com"


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("Zoë", "Saldaña"),
        ("José", "Álvarez-Núñez"),
        ("Seán", "O'Brien"),
        ("Łukasz", "Żółć"),
        ("李", "小龙"),
        ("  Anne\tMarie ", "von\u202e Trapp\n"),
    ],
)
def test_names_keep_unicode_and_lose_control_chars(first: str, last: str) -> None:
    body = build(make_app(first_name=first, last_name=last)).body
    assert body["firstName"] == " ".join(first.split())
    assert body["surname"] == " ".join(last.replace("\u202e", "").split())


def test_names_are_nfc_normalised_and_bounded() -> None:
    body = build(make_app(first_name="Zoe\u0308", last_name="x" * 400)).body
    assert body["firstName"] == "Zoë"
    assert len(body["surname"]) == 255


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("first_name", {"first_name": None}),
        ("first_name", {"first_name": "  "}),
        ("last_name", {"first_name": "Björk", "last_name": None}),
        ("last_name", {"last_name": "\x00\x07"}),
    ],
)
def test_missing_names(field: str, kw: dict[str, Any]) -> None:
    with pytest.raises(MappingError) as exc:
        build(make_app(**kw))
    assert exc.value.field == field
    assert "anonymised screening" in str(exc.value)
    assert exc.value.fix is not None
    assert "poller retry 8863902" in exc.value.fix


@pytest.mark.parametrize("email", [None, "", "   "])
def test_missing_email(email: str | None) -> None:
    with pytest.raises(MappingError) as exc:
        build(make_app(email=email))
    assert exc.value.field == "email"
    assert "anonymised" in str(exc.value)
    assert (
        exc.value.fix == "complete the candidate's email in Pinpoint, then `poller retry 8863902`"
    )


@pytest.mark.parametrize("email", ["brian", "brian@", "@example.com", "a b@example.com", "a@b"])
def test_invalid_email(email: str) -> None:
    with pytest.raises(MappingError) as exc:
        build(make_app(email=email))
    assert exc.value.field == "email"
    assert "not a valid address" in str(exc.value)


@pytest.mark.parametrize(
    ("offer", "own", "offset", "expected", "source"),
    [
        (date(2025, 4, 1), date(2025, 5, 1), 14, "2025-04-01", "offer"),
        (None, date(2025, 5, 1), 14, "2025-05-01", "application"),
        (None, None, 14, "2025-03-24", "default"),
        (None, None, 0, "2025-03-10", "default"),
        (None, None, 365, "2026-03-10", "default"),
    ],
)
def test_start_date_from_the_accepted_offer_then_the_application_then_the_offset(
    offer: date | None, own: date | None, offset: int, expected: str, source: str
) -> None:
    cfg = make_cfg(default_start_offset_days=offset)
    payload = build(make_app(offer_start_on=offer, start_on=own), cfg)
    assert payload.body["work"]["startDate"] == expected
    assert (payload.start_date.isoformat(), payload.start_source) == (expected, source)


@pytest.mark.parametrize(
    ("location", "default_site", "expected"),
    [
        ("London, United Kingdom", None, "London"),
        ("new york, united states", None, "New York"),  # case-insensitive fallback
        ("Paris, France", "London", "London"),
        (None, "London", "London"),
    ],
)
def test_site(location: str | None, default_site: str | None, expected: str) -> None:
    body = build(make_app(location=location), make_cfg(default_site=default_site)).body
    assert body["work"]["site"] == expected


@pytest.mark.parametrize(
    ("location", "text"), [("Paris, France", "location 'Paris, France'"), (None, "no job location")]
)
def test_site_missing(location: str | None, text: str) -> None:
    with pytest.raises(MappingError) as exc:
        build(make_app(location=location))
    assert exc.value.field == "work.site"
    assert text in str(exc.value)
    assert "8863902" in str(exc.value)
    assert exc.value.fix == "add it to mapping.site_map or set mapping.default_site"


@pytest.mark.parametrize(
    ("department", "title", "work"),
    [
        (
            "Product",
            "Backend Engineer",
            {"department": "Engineering", "title": "Software Engineer"},
        ),
        ("Sales", "Account Exec", {"department": "Sales", "title": "Account Exec"}),
        (None, None, {}),
        ("", " ", {}),
    ],
)
def test_department_and_title_maps(
    department: str | None, title: str | None, work: dict[str, str]
) -> None:
    got = build(make_app(department=department, job_title=title)).body["work"]
    assert {k: v for k, v in got.items() if k in ("department", "title")} == work


# ------------------------------------------------------------------------- work email


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Brian", "Farrell", "brian.farrell@acme.com"),
        ("Zoë", "Saldaña", "zoe.saldana@acme.com"),
        ("José", "Álvarez-Núñez", "jose.alvarez-nunez@acme.com"),
        ("Seán", "O'Brien", "sean.obrien@acme.com"),
        ("Łukasz", "Żółć", "lukasz.zolc@acme.com"),
        ("Søren", "Kierkegaard", "soren.kierkegaard@acme.com"),
        ("Ægir", "Strauß", "aegir.strauss@acme.com"),
        ("Mary Ann", "Van der Berg", "maryann.vanderberg@acme.com"),
        ("Jean-Luc", "O\u2019Neil", "jean-luc.oneil@acme.com"),
        ("ANNA", "SMITH", "anna.smith@acme.com"),
        (
            "\uff2a\uff4f\uff48\uff4e",
            "Doe",
            "john.doe@acme.com",
        ),  # full-width letters fold via NFKD
    ],
)
def test_work_email(first: str, last: str, expected: str) -> None:
    assert work_email("{first}.{last}@acme.com", first, last) == expected


@pytest.mark.parametrize(
    ("first", "last", "text"),
    [
        ("李", "小龙", "first name has no letters"),
        ("Brian", "小龙", "last name has no letters"),
        ("Brian", "", "last name has no letters"),
        ("'", "Smith", "first name has no letters"),
    ],
)
def test_work_email_unusable_names(first: str, last: str, text: str) -> None:
    with pytest.raises(MappingError) as exc:
        work_email("{first}.{last}@acme.com", first, last)
    assert exc.value.field == "email"
    assert text in str(exc.value)


def test_work_email_template_using_one_name_ignores_the_other() -> None:
    assert work_email("{first}@acme.com", "Björk", "") == "bjork@acme.com"


@pytest.mark.parametrize("template", ["", "{first}.{nick}@acme.com", "{first"])
def test_work_email_bad_template(template: str) -> None:
    with pytest.raises(MappingError) as exc:
        work_email(template, "a", "b")
    assert exc.value.field == "mapping.work_email_template"


def test_work_email_invalid_result() -> None:
    with pytest.raises(MappingError, match="not valid"):
        work_email("{first}.{last}@", "a", "b")


def test_email_field_personal() -> None:
    cfg = make_cfg(email_field="personal", work_email_template="{first}.{last}@Acme.com")
    payload = build(make_app(first_name="José", last_name="Álvarez-Núñez"), cfg)
    assert payload.body["email"] == "jose.alvarez-nunez@acme.com"
    assert payload.body["home"] == {"privateEmail": "brian.farrell@example.com"}
    assert payload.email == "jose.alvarez-nunez@acme.com"


def test_email_field_personal_with_cjk_name_fails_with_resolve_hint() -> None:
    cfg = make_cfg(email_field="personal", work_email_template="{first}.{last}@acme.com")
    with pytest.raises(MappingError) as exc:
        build(make_app(first_name="李", last_name="小龙"), cfg)
    assert exc.value.field == "email"
    assert exc.value.fix is not None
    assert "poller resolve 8863902" in exc.value.fix


# ------------------------------------------------------------------------ extra fields


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"work.custom.pinpointId": "{application_id}"}, {"work.custom.pinpointId": "8863902"}),
        ({"home.mobilePhone": "{phone}"}, {"home.mobilePhone": "+44 7700 900000"}),
        ({"about.source": "Pinpoint"}, {"about.source": "Pinpoint"}),  # a constant
        (
            {"about.note": "{first} {last} <{email}> via {source}, {salary}, remote={remote}"},
            {
                "about.note": "Brian Farrell <brian.farrell@example.com> via LinkedIn, 50000, "
                "remote=true"
            },
        ),
        (
            {"work.custom.job": "{job_title} / {department} / {location}"},
            {"work.custom.job": "Backend Engineer / Product / London, United Kingdom"},
        ),
        (
            {"a.b.c": "1", "a.b.d": "2", "a.e": "3"},
            {"a.b.c": "1", "a.b.d": "2", "a.e": "3"},
        ),
    ],
)
def test_extra_fields(extra: dict[str, str], expected: dict[str, str]) -> None:
    body = build(cfg=make_cfg(extra_fields=extra)).body
    for path, value in expected.items():
        node = body
        for part in path.split("."):
            node = node[part]
        assert node == value
    assert body["work"]["site"] == "London"  # nesting into work keeps the core fields


def test_extra_field_attribute_wins_only_when_no_fixed_name() -> None:
    app = make_app(attributes={"first": "ATTR", "referrer": "Ann"})
    body = build(app, make_cfg(extra_fields={"x.y": "{first}/{referrer}"})).body
    assert body["x"]["y"] == "Brian/Ann"


@pytest.mark.parametrize(
    ("extra", "app_kw", "field", "text"),
    [
        ({"home.mobilePhone": "{phone}"}, {"phone": None}, "home.mobilePhone", "uses {phone}"),
        ({"x.y": "{nope}"}, {}, "x.y", "uses {nope}"),
        ({"x.y": "{tags}"}, {}, "x.y", "uses {tags}"),  # a list is not a plain value
        ({"x.y": "{a.b}"}, {}, "x.y", "bad template"),
    ],
)
def test_extra_field_missing_names(
    extra: dict[str, str], app_kw: dict[str, Any], field: str, text: str
) -> None:
    cfg = MappingSettings.model_construct(**{**make_cfg().__dict__, "extra_fields": extra})
    with pytest.raises(MappingError) as exc:
        build(make_app(**app_kw), cfg)
    assert exc.value.field == field
    assert text in str(exc.value)
    assert field in str(exc.value)


@pytest.mark.parametrize(
    ("extra", "email_field"),
    [
        ({"work.site": "Paris"}, "work"),
        ({"work": "x"}, "work"),
        ({"email.primary": "x"}, "work"),
        ({"home.privateEmail": "x"}, "personal"),
        ({"x": "1", "x.y": "2"}, "work"),  # two extra fields overlapping each other
    ],
)
def test_extra_field_collisions(extra: dict[str, str], email_field: str) -> None:
    # Config validation rejects the core collisions; the mapping re-checks, so build the
    # settings without validation to reach it.
    fields = {
        **make_cfg().__dict__,
        "extra_fields": extra,
        "email_field": email_field,
        "work_email_template": "{first}.{last}@acme.com",
    }
    with pytest.raises(MappingError, match="collides"):
        build(cfg=MappingSettings.model_construct(**fields))


def test_extra_field_private_email_allowed_in_work_mode() -> None:
    body = build(cfg=make_cfg(extra_fields={"home.privateEmail": "{email}"})).body
    assert body["home"]["privateEmail"] == "brian.farrell@example.com"


def test_extra_field_values_are_cleaned() -> None:
    app = make_app(attributes={"note": "line1\nline2\x00\u202e"})
    body = build(app, make_cfg(extra_fields={"about.note": "{note}"})).body
    assert body["about"]["note"] == "line1 line2"


# ------------------------------------------------------------------------- HiBob lists


LISTS = {
    "site": ["London", "New York", "Berlin"],
    "department": ["Engineering", "Sales"],
    "title": ["Software Engineer", "Account Executive"],
}


def test_hibob_lists_pass() -> None:
    payload = build(hibob_lists=LISTS)
    assert payload.body["work"] == {
        "site": "London",
        "department": "Engineering",
        "title": "Software Engineer",
        "startDate": "2025-04-01",
    }
    assert payload.notes == ()


def test_sites_match_without_regard_to_case_and_are_sent_as_hibob_spells_them() -> None:
    cfg = make_cfg(site_map={"London, United Kingdom": "LONDON"})
    assert build(cfg=cfg, hibob_lists=LISTS).body["work"]["site"] == "London"


def test_list_values_are_sent_as_the_list_spells_them() -> None:
    cfg = make_cfg(department_map={"Product": "engineering"}, title_map={})
    app = make_app(job_title="account executive")
    work = build(app, cfg, hibob_lists=LISTS).body["work"]
    assert (work["department"], work["title"]) == ("Engineering", "Account Executive")


@pytest.mark.parametrize(
    ("app_kw", "cfg_kw", "field", "suggestion", "fix"),
    [
        ({"location": "Berlin"}, {"default_site": "Londn"}, "work.site", "'London'", "site_map"),
        ({"department": "Engineerin"}, {}, "work.department", "'Engineering'", "department_map"),
        ({"department": "Marketing"}, {}, "work.department", None, "department_map"),
        ({"job_title": "Wizard"}, {"on_unknown_title": "fail"}, "work.title", None, "title_map"),
        (
            {"job_title": "Sofware Engineer"},
            {"on_unknown_title": "fail", "title_map": {}},
            "work.title",
            "'Software Engineer'",
            "title_map",
        ),
    ],
)
def test_hibob_lists_reject_unknown_values(
    app_kw: dict[str, Any], cfg_kw: dict[str, Any], field: str, suggestion: str | None, fix: str
) -> None:
    with pytest.raises(MappingError) as exc:
        build(make_app(**app_kw), make_cfg(**cfg_kw), hibob_lists=LISTS)
    assert exc.value.field == field
    assert "is not in HiBob's" in str(exc.value)
    if suggestion:
        assert f"closest: {suggestion}" in str(exc.value)
    else:
        assert "closest" not in str(exc.value)
    assert exc.value.fix is not None
    assert fix in exc.value.fix


def test_an_unknown_title_is_left_out_by_default_and_said() -> None:
    payload = build(make_app(job_title="Senior Wizard"), make_cfg(title_map={}), hibob_lists=LISTS)
    assert "title" not in payload.body["work"]
    (note,) = payload.notes
    assert "work.title 'Senior Wizard' left out" in note and "title_map" in note


def test_an_unknown_department_fails_by_default_and_can_be_left_out() -> None:
    app = make_app(department="Kitchen")
    with pytest.raises(MappingError, match="department_map"):
        build(app, hibob_lists=LISTS)
    payload = build(app, make_cfg(on_unknown_department="omit"), hibob_lists=LISTS)
    assert "department" not in payload.body["work"]
    assert payload.notes and "work.department 'Kitchen' left out" in payload.notes[0]


def test_hibob_lists_only_check_given_lists() -> None:
    build(make_app(department="Anything", job_title="Anything"), hibob_lists={"site": ["London"]})


@pytest.mark.parametrize(
    ("value", "choices", "expected"),
    [
        ("Londn", ["London", "Berlin"], ["London"]),
        ("london", ["Berlin", "London", "Londres"], ["London", "Londres"]),
        ("Tokyo", ["London", "Berlin"], []),
        ("Engineering", ["engineering", "Engineers"], ["engineering", "Engineers"]),
    ],
)
def test_closest(value: str, choices: list[str], expected: list[str]) -> None:
    assert closest(value, choices) == expected


# ---------------------------------------------------------------------------- comments


@pytest.mark.parametrize(
    ("link", "first", "last", "expected"),
    [
        (
            "created",
            "Brian",
            "Farrell",
            "Employee created in HiBob with ID 3397352260643062621 for Brian Farrell.",
        ),
        (
            "linked_existing",
            "Brian",
            "Farrell",
            "Linked to existing HiBob employee ID 3397352260643062621 for Brian Farrell "
            "(already in HiBob).",
        ),
        ("created", None, None, "Employee created in HiBob with ID 3397352260643062621."),
        (
            "created",
            "Björk",
            None,
            "Employee created in HiBob with ID 3397352260643062621 for Björk.",
        ),
        (
            "created",
            "Evil\nName\x1b[31m",
            "X",
            "Employee created in HiBob with ID 3397352260643062621 for Evil Name[31m X.",
        ),
    ],
)
def test_comment_text(link: str, first: str | None, last: str | None, expected: str) -> None:
    assert comment_text("3397352260643062621", link, first, last) == expected


def test_comment_text_is_bounded() -> None:
    text = comment_text("1" * 1000, "created", "A" * 1000, "B" * 1000)
    assert len(text) <= 500


def test_comment_text_rejects_unknown_link() -> None:
    with pytest.raises(ValueError, match="unknown employee link"):
        comment_text("1", "merged", None, None)


def test_build_is_pure() -> None:
    app, cfg = make_app(), make_cfg(extra_fields={"work.custom.id": "{application_id}"})
    assert build(app, cfg) == build(app, cfg)
    assert dataclasses.asdict(app) == dataclasses.asdict(make_app())
