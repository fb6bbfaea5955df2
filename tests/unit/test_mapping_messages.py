"""The mapping's errors, word for word: each names the field, what is wrong and the fix a
person applies (a config key, or the Pinpoint field and `poller retry`/`resolve`). A failed
row shows exactly this text, so it is part of what the product promises."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from poller import mapping
from poller.config import MappingSettings
from poller.errors import MappingError
from poller.models import Application

TODAY = date(2026, 1, 1)


def app(**kw: Any) -> Application:
    values: dict[str, Any] = {
        "id": "7",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": None,
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
        "job_id": "1",
        "job_title": "Engineer",
        "department": "Eng",
        "location": "London",
        "offer_start_on": None,
    }
    values.update(kw)
    return Application(**values)


FIX_BY_HAND = (
    "create the employee in HiBob by hand, then `poller resolve {}`, or change "
    "mapping.work_email_template"
)
CASES: dict[str, tuple[Callable[[], object], str]] = {
    "a malformed template": (
        lambda: mapping._work_email("{first", "A", "B", "7"),
        "mapping.work_email_template: expected '}' before end of string",
    ),
    "a template with another field": (
        lambda: mapping._work_email("{middle}@acme.com", "A", "B", "7"),
        'mapping.work_email_template: must be like "{first}.{last}@acme.com"',
    ),
    "a name with no usable letters": (
        lambda: mapping._work_email("{first}.{last}@acme.com", "李", "Wang", "7"),
        "email: can't build a work email: the candidate's first name has no letters usable in "
        f"an email address (a-z, 0-9) (fix: {FIX_BY_HAND.format(7)})",
    ),
    "the same, with no application to name": (
        lambda: mapping.work_email("{first}.{last}@acme.com", "李", "Wang"),
        "email: can't build a work email: the candidate's first name has no letters usable in "
        f"an email address (a-z, 0-9) (fix: {FIX_BY_HAND.format('<application id>')})",
    ),
    "an address that isn't one": (
        lambda: mapping._work_email("{first}.{last}@acme", "Ada", "King", "7"),
        "email: the work email built from mapping.work_email_template is not valid "
        f"(fix: {FIX_BY_HAND.format(7)})",
    ),
    "a field inside another's value": (
        lambda: mapping.build_employee(
            app(),
            MappingSettings(default_site="L", extra_fields={"a.b": "1", "a.b.c": "2"}),
            today=TODAY,
        ),
        "a.b.c: collides with the field a.b (fix: change mapping.extra_fields)",
    ),
    "a field set twice": (
        lambda: mapping.build_employee(
            app(),
            MappingSettings(default_site="L", extra_fields={"a.b.c": "1", "a.b": "2"}),
            today=TODAY,
        ),
        "a.b: collides with a field already set (fix: change mapping.extra_fields)",
    ),
    "a template naming what the hire lacks": (
        lambda: mapping.build_employee(
            app(),
            MappingSettings(default_site="L", extra_fields={"work.custom.x": "{phone}"}),
            today=TODAY,
        ),
        "work.custom.x: mapping.extra_fields['work.custom.x'] uses {phone}, which this "
        "application doesn't have (fix: fill in phone in Pinpoint, or change "
        "mapping.extra_fields['work.custom.x'])",
    ),
    "a department HiBob lacks": (
        lambda: mapping.build_employee(
            app(department="Enginering"),
            MappingSettings(default_site="L", on_unknown_department="fail"),
            today=TODAY,
            hibob_lists={"department": ["Engineering", "Engineers", "Sales"]},
        ),
        "work.department: application 7: 'Enginering' is not in HiBob's department list; "
        "closest: 'Engineering', 'Engineers' (fix: map it in mapping.department_map, or add it "
        "to HiBob's department list)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_mapping_error_says_what_and_how_to_fix_it(case: str) -> None:
    call, text = CASES[case]
    with pytest.raises(MappingError) as info:
        call()
    assert str(info.value) == text
    assert info.value.field == text.split(": ", 1)[0]


def test_a_work_email_may_be_as_long_as_an_address_may_be() -> None:
    domain = f"{'c' * 63}.{'d' * 63}.{'e' * 57}.com"
    address = mapping._work_email(f"{{first}}.{{last}}@{domain}", "a" * 32, "b" * 31, "7")
    assert len(address) == mapping.MAX_EMAIL == 254
    with pytest.raises(MappingError, match="not valid"):
        mapping._work_email(f"{{first}}.{{last}}@{domain}x", "a" * 32, "b" * 31, "7")


def custom_field(template: str) -> Any:
    """What mapping.extra_fields["work.custom.x"] = template sends to HiBob."""
    payload = mapping.build_employee(
        app(),
        MappingSettings(default_site="L", extra_fields={"work.custom.x": template}),
        today=TODAY,
    )
    return payload.body["work"]["custom"]


def test_templates_fill_every_field_and_names_fold_to_their_letters() -> None:
    assert custom_field("{application_id}-{first}") == {"x": "7-Ada"}
    assert mapping.work_email("{first}.{last}@acme.com", "--Jean--Luc--", "Núñez") == (
        "jean-luc.nunez@acme.com"
    )


def test_closest_gives_at_most_n_names() -> None:
    names = ["Engineering", "Engineers", "Sales"]
    assert mapping.closest("Enginering", names, n=1) == ["Engineering"]
    assert mapping.closest("Enginering", names) == ["Engineering", "Engineers"]
    many = ["Engineering", "Engineers", "Engineerings", "Engineer", "Enginery"]
    assert len(mapping.closest("Enginering", many)) == 3  # three at most by default


def test_a_value_with_nothing_close_gets_no_suggestion() -> None:
    with pytest.raises(MappingError) as info:
        mapping.build_employee(
            app(department="Zzyzx"),
            MappingSettings(default_site="L", on_unknown_department="fail"),
            today=TODAY,
            hibob_lists={"department": ["Engineering", "Sales"]},
        )
    assert str(info.value) == (
        "work.department: application 7: 'Zzyzx' is not in HiBob's department list "
        "(fix: map it in mapping.department_map, or add it to HiBob's department list)"
    )


def test_escaped_braces_in_a_template_are_literal_and_the_fields_after_them_filled() -> None:
    assert custom_field("{{id}}-{application_id}") == {"x": "{id}-7"}


def test_an_email_part_is_lowercase_even_from_compatibility_capitals() -> None:
    assert mapping._email_part("\N{BLACK-LETTER CAPITAL H}ans") == "hans"
    assert mapping._email_part("\N{MATHEMATICAL BOLD CAPITAL X}avier") == "xavier"
