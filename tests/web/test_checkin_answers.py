"""The check-in records only what the patient said (issue 14 point 1).

Each test reads the rendered form (which inputs are checked) and what is stored: at no
step does a question gain an answer the patient did not choose, after an error, in the
edit form, in the clinician's diary, or in the patient's own pages.
"""

from __future__ import annotations

from html.parser import HTMLParser

import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import CheckIn
from tests.conftest import count
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import DAY3_FLAGS

# Walks and legs raised are not asked (tasks ticked on Today): stored as not asked.
OPTIONAL = ["lumps", "itching", "stockings_day", "stockings_night"]
# The skin list asks the skin-breakdown sign: a tick or "No skin changes" is required.
REQUIRED = [f"rf-{k}" for k in DAY3_FLAGS] + ["pain", "bruising", "skin"]


class _Form(HTMLParser):
    """The check-in form as a browser would see it: checked inputs, ids, the error
    summary's links and each field's aria-describedby."""

    def __init__(self) -> None:
        super().__init__()
        self.checked: dict[str, set[str]] = {}
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.described: list[str] = []
        self._in_summary = 0
        self.summary_role: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if a.get("id") == "error-summary":
            self._in_summary, self.summary_role = 1, a.get("role")
        elif self._in_summary and tag == "div":
            self._in_summary += 1
        if self._in_summary and tag == "a":
            self.links.append(a.get("href") or "")
        if tag == "input" and a.get("type") in ("radio", "checkbox") and "checked" in a:
            self.checked.setdefault(a["name"] or "", set()).add(a.get("value") or "")
        if a.get("aria-describedby"):
            self.described.append(a["aria-describedby"] or "")

    def handle_endtag(self, tag: str) -> None:
        if self._in_summary and tag == "div":
            self._in_summary -= 1


def parse(response) -> _Form:
    form = _Form()
    form.feed(response.get_data(as_text=True))
    return form


def chosen(data: dict[str, str]) -> dict[str, set[str]]:
    """What a browser shows as checked for ``data`` (empty answers are not answers).

    Both stockings answers show as the one question's choice; one of them alone (a page
    kept from before) shows in its own question, so an edit cannot lose it.
    """
    shown = {k: {v} for k, v in data.items() if k in REQUIRED + OPTIONAL + ["skin"] and v}
    pair = (data.get("stockings_day"), data.get("stockings_night"))
    choice = {"yes": {"yes": "both", "no": "day"}, "no": {"yes": "night", "no": "none"}}
    if all(pair):
        del shown["stockings_day"], shown["stockings_night"]
        shown["stockings"] = {choice[pair[0]][pair[1]]}
    return shown


def stored(in_app) -> dict:
    return in_app(lambda: db.session.scalar(sa.select(CheckIn.answers)))


def post(client, data: dict[str, str]):
    return client.post("/patient/checkin", data={"note": "", "client_key": "", **data})


def test_nothing_answered_then_one_field_at_a_time_never_invents_an_answer(
    app, client, world, in_app
):
    login(client, "alice@patients.example")
    assert parse(client.get("/patient/checkin")).checked == {}  # a new check-in
    r = post(client, {})
    page = parse(r)
    assert r.status_code == 400 and page.checked == {}
    # Every required question is in the summary, linked to its first control.
    assert page.links == [f"#{name}" for name in REQUIRED]
    assert {link[1:] for link in page.links} <= page.ids
    # Answer the required questions one by one (a "yes" among them), then a single
    # optional one: each step shows exactly what was chosen so far, nothing more.
    answers: dict[str, str] = {}
    steps = [(f"rf-{k}", "yes" if k == "calf-pain-swelling" else "no") for k in DAY3_FLAGS]
    steps += [("pain", "3"), ("stockings_day", "yes"), ("bruising", "mild"), ("skin", "none")]
    for i, (name, value) in enumerate(steps):
        answers[name] = value
        r = post(client, answers)
        if i < len(steps) - 1:  # the last step is accepted: the result page, no form
            page = parse(r)
            assert page.checked == chosen(answers), name
            missing = [f for f in REQUIRED if f not in answers]
            assert r.status_code == 400, name
            assert page.links == [f"#{f}" for f in missing]
            assert in_app(count, CheckIn) == 0
    assert r.status_code == 200
    saved = stored(in_app)
    assert saved["stockings_day"] is True
    for name in ("lumps", "itching", "stockings_night", "walked", "elevated"):
        assert saved[name] is None, name
    assert {"walked", "elevated"} <= set(saved["not_asked"])
    assert saved["red_flags"] == ["calf-pain-swelling"]
    assert saved["red_flags_no"] == sorted(set(DAY3_FLAGS) - {"calf-pain-swelling"})
    # The edit form shows exactly what was sent.
    assert parse(client.get("/patient/checkin")).checked == chosen(answers)
    # The clinic sees "not answered", never an invented "no".
    doc = app.test_client()
    login(doc, "doc1@north.example")
    diary = text_of(doc.get(f"/clinic/patients/{world.patient_a}"))
    assert "tender lumps not answered; itching not answered" in diary
    assert "day yes, night not answered; walked not asked; legs raised not asked" in diary
    # The patient sees which questions were left out, on the result and in the diary.
    result = text_of(r)
    assert "Not answered: Tender lumps, Itching, Stockings at night" in result
    assert "Not answered: Tender lumps, Itching" in text_of(client.get("/patient/diary"))


def test_a_check_in_with_questions_left_out_is_not_called_all_as_expected(client, world):
    login(client, "alice@patients.example")
    r = post(
        client,
        {f"rf-{k}": "no" for k in DAY3_FLAGS} | {"pain": "1", "bruising": "none", "skin": "none"},
    )
    page = text_of(r)
    assert r.status_code == 200 and "Everything you answered sounds as expected" in page
    assert "Everything you told us" not in page
    assert "Not answered: Tender lumps, Itching, Stockings in the day, Stockings at night." in page


def test_each_error_is_shown_at_its_field_and_in_the_summary(client, world):
    login(client, "alice@patients.example")
    data = {f"rf-{k}": "no" for k in DAY3_FLAGS if k != "infection"} | {"pain": "12"}
    r = post(client, data | {"note": "x" * 2001})
    page, html, text = parse(r), r.get_data(as_text=True), text_of(r)
    assert r.status_code == 400 and page.summary_role == "alert"
    assert text.startswith("Error: Daily check-in")  # the title says so first
    assert "There is a problem" in text
    assert page.links == ["#rf-infection", "#pain", "#bruising", "#skin", "#note"]
    for field in ("rf-infection", "pain", "bruising", "skin", "note"):
        assert f'id="{field}-error"' in html, field
        assert f"{field}-error" in page.described, field
    assert "Choose a pain score from 0 to 10." in text
    assert "Please answer yes or no: Spreading redness, heat, pus or a fever" in text
    # The answers given are kept, the pain score out of range is not shown as chosen.
    assert page.checked == {f: {"no"} for f in data if f.startswith("rf-")}


def test_an_old_check_in_still_shows_its_answers(app, client, world, in_app):
    """Stored by the earlier code: every asked warning sign was answered (yes keys only
    were kept), and the yes/no questions were booleans."""
    login(client, "alice@patients.example")
    post(
        client,
        {f"rf-{k}": "no" for k in DAY3_FLAGS} | {"pain": "2", "bruising": "none", "skin": "none"},
    )

    def make_old():
        checkin = db.session.scalar(sa.select(CheckIn))
        checkin.answers = {
            "pain": 2,
            "bruising": "none",
            "itching": False,
            "lumps": True,
            "skin": [],
            "stockings_day": True,
            "stockings_night": None,
            "walked": False,
            "elevated": True,
            "note": "",
            "red_flags": ["infection"],
        }
        db.session.commit()

    in_app(make_old)
    form = parse(client.get("/patient/checkin"))
    expected = {f"rf-{k}": {"yes" if k == "infection" else "no"} for k in DAY3_FLAGS}
    expected |= {
        "itching": {"no"},
        "lumps": {"yes"},
        "stockings_day": {"yes"},
        "pain": {"2"},
        "bruising": {"none"},
    }
    assert form.checked == expected
    doc = app.test_client()
    login(doc, "doc1@north.example")
    diary = text_of(doc.get(f"/clinic/patients/{world.patient_a}"))
    assert "tender lumps yes; itching no" in diary
    assert "day yes, night not answered; walked no; legs raised yes" in diary


FIELDS = st.fixed_dictionaries(
    {},
    optional={
        **{f"rf-{k}": st.sampled_from(["yes", "no"]) for k in DAY3_FLAGS},
        "pain": st.sampled_from(["0", "4", "9"]),
        "bruising": st.sampled_from(["none", "severe"]),
        "skin": st.sampled_from(["none", "brown"]),
        **{name: st.sampled_from(["yes", "no"]) for name in OPTIONAL},
    },
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=FIELDS)
def test_any_subset_of_answers_is_kept_exactly(app, client, world, in_app, data):
    """Whatever subset of questions is answered: the page shows exactly that, and a
    stored check-in holds exactly that (None for each optional question left out)."""
    login(client, "alice@patients.example")
    r = post(client, data)
    missing = [f for f in REQUIRED if f not in data]
    if missing:
        assert r.status_code == 400
        assert parse(r).checked == chosen(data)
        assert parse(r).links == [f"#{f}" for f in missing]
        return
    assert r.status_code == 200
    saved = stored(in_app)
    for name in OPTIONAL:
        assert saved[name] == {"yes": True, "no": False}.get(data.get(name, "")), name
    assert saved["red_flags"] == sorted(k for k in DAY3_FLAGS if data[f"rf-{k}"] == "yes")
    assert saved["red_flags_no"] == sorted(k for k in DAY3_FLAGS if data[f"rf-{k}"] == "no")
    assert parse(client.get("/patient/checkin")).checked == chosen(data)
