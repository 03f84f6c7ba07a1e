"""FHIR R4 building blocks for a patient's record (issue 20 point 2): stable ids, the
code systems and codes we use, body sites, and the check-in as a Questionnaire and its
QuestionnaireResponse items. Plain dicts of JSON values, so the bundle is written with
``json.dumps`` and validated in the tests with ``fhir.resources`` (R4B models).

Which code comes from which system, and why, is the table in docs/fhir.md. A code is
only used where we are sure of it (SNOMED CT laterality, body structures and severity
qualifiers, LOINC 72514-3 for the 0-10 pain score, UCUM units); anything else carries
our own code system (``LOCAL``) and its plain words in ``text``, so a receiving system
can map it rather than trusting a guess.

Pure functions: rows' values in, dicts out; no clock, no database.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable
from collections.abc import Mapping

from app.domain.protocol.requirements import BRUISING_CHOICES
from app.domain.protocol.requirements import SKIN_CHOICES

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
MEDIA_TYPE = "http://terminology.hl7.org/CodeSystem/media-type"
LANGUAGE = "urn:ietf:bcp:47"  # the patient's language, e.g. "es" (app/i18n.py LANGUAGES)
# Our own codes (what has no standard code we are sure of): a URN, so it names no web
# address that could change with a clinic's domain.
LOCAL = "urn:sclerocare:fhir:code"
# Identifier systems: the app's row ids, per kind ("urn:sclerocare:fhir:id:patient").
ID_SYSTEM = "urn:sclerocare:fhir:id:"

# Every fullUrl is urn:uuid:<uuid5 of the row's key in this namespace>, so the same row
# has the same id in every export (a receiver can update rather than duplicate) and the
# bundle names no database id in its references. Frozen: changing it renames everything.
NAMESPACE = uuid.UUID("6f2d1a3c-5b7e-4c1d-9a8f-2e4b6c8d0f12")

# SNOMED CT body structures for the photo sites and the treated areas
# (app/domain/photos.py: side, region). Laterality is a qualifier of its own.
REGIONS = {
    "thigh": ("68367000", "Thigh structure"),
    "knee": ("72696002", "Knee region structure"),
    "calf": ("53840002", "Structure of calf of leg"),
    "ankle": ("344001", "Ankle region structure"),
    "foot": ("56459004", "Foot structure"),
}
LOWER_LIMB = ("61685007", "Lower limb structure")
SIDES = {"left": ("7771000", "Left"), "right": ("24028007", "Right")}
# SNOMED CT |Laterality (attribute)|: refines a body structure in an expression.
LATERALITY = "272741003"
# SNOMED CT severity qualifiers for the bruising answer (app/domain/protocol/
# requirements.py BRUISING_CHOICES); "none" is our own code: "absent" is not a severity.
SEVERITY = {
    "mild": ("255604002", "Mild"),
    "moderate": ("6736007", "Moderate"),
    "severe": ("24484000", "Severe"),
}
PAIN_LOINC = ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")

# The check-in's fixed questions (app/domain/checkin.py) with their words; the red flags
# come from the protocol version. The optional yes/no ones are stored True/False/None:
# None (not answered) is left out of the response, never sent as "no".
PAIN_ITEM = "Pain score (0 = no pain, 10 = worst imaginable)"
BRUISING_ITEM = "Bruising"
SKIN_ITEM = "Skin changes"
NOTE_ITEM = "Note to the clinic"
BOOLEAN_ITEMS = {
    "lumps": "Tender lumps",
    "itching": "Itching",
    "stockings_day": "Stockings in the day",
    "stockings_night": "Stockings at night",
    "walked": "Walked",
    "elevated": "Legs raised",
}
FLAG_PREFIX = "flag-"


def install_space(install: str) -> uuid.UUID:
    """The namespace of one installation's ids, from what names it (its configured
    ``SCLERO_FHIR_INSTALL``, else its address): see :func:`finished`."""
    return uuid.uuid5(NAMESPACE, install)


def reachable(email: str) -> bool:
    """Whether an address can receive mail, so is a contact worth sending: not one in
    ``.invalid`` (RFC 2606), the domain of the placeholder a closed account keeps
    (app/services/clinic/closure_steps.py: closed_email)."""
    return not email.rpartition("@")[2].lower().endswith(".invalid")


def urn(kind: str, key: object) -> str:
    """The fullUrl of a row, e.g. ``urn("Patient", 12)``: stable across exports."""
    return f"urn:uuid:{resource_id(kind, key)}"


def resource_id(kind: str, key: object) -> str:
    """The resource id matching :func:`urn` (a FHIR id: 36 characters of [a-f0-9-])."""
    return _uuid5(NAMESPACE, f"{kind}/{key}")


@functools.lru_cache(maxsize=65536)
def _uuid5(space: uuid.UUID, name: str) -> str:
    """uuid5 as text, remembered: a bundle names the patient, each session and each
    check-in in many references, and each id is moved into the installation's space
    again in :func:`finished` (a profile of the patient's zip put most of the bundle's
    time in these hashes, bench/export.py)."""
    return str(uuid.uuid5(space, name))


def ref(kind: str, key: object, display: str | None = None) -> dict[str, str]:
    """A Reference to another entry of the bundle."""
    out = {"reference": urn(kind, key)}
    if display:
        out["display"] = display
    return out


def identifier(kind: str, key: object) -> dict[str, str]:
    """The app's own id of a row, so a receiver can trace it back to the clinic's app."""
    return {"system": ID_SYSTEM + kind.lower(), "value": str(key)}


def coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def concept(system: str, code: str, display: str, text: str | None = None) -> dict[str, object]:
    return {"coding": [coding(system, code, display)], "text": text or display}


def local(code: str, display: str) -> dict[str, object]:
    """A concept in our own code system (no standard code we are sure of)."""
    return concept(LOCAL, code, display)


def category(code: str, display: str) -> list[dict[str, object]]:
    return [concept(OBSERVATION_CATEGORY, code, display)]


def score(value: int, unit: str = "{score}") -> dict[str, object]:
    """A Quantity in UCUM: ``{score}`` (an annotated unity) or ``%``."""
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def site(side: str, region: str, view: str = "") -> dict[str, object]:
    """A photo's site as a body structure with its laterality (SNOMED CT), and the words."""
    words = " ".join(w for w in (side, region, view) if w)
    codings = structure(REGIONS[region], side) if region in REGIONS else []
    return {"coding": codings, "text": words} if codings else {"text": words}


def structure(found: tuple[str, str], side: str) -> list[dict[str, str]]:
    """A body structure's codings: the structure, and with a known side the same
    structure refined by its laterality as a SNOMED CT expression
    (``53840002:272741003=7771000``, left calf). Not "Left" as a coding of its own: each
    coding of a CodeableConcept must mean the concept by itself (R4 datatypes,
    CodeableConcept: not "severe" beside "rash" for a severe rash), and an expression
    is a valid SNOMED CT code in FHIR (R4 "Using SNOMED CT with FHIR", Code)."""
    codings = [coding(SNOMED, *found)]
    if side in SIDES:
        expression = f"{found[0]}:{LATERALITY}={SIDES[side][0]}"
        codings.append({"system": SNOMED, "code": expression})
    return codings


def areas_sites(areas: str) -> list[dict[str, object]]:
    """The treated areas as written ("left calf, right thigh") as body sites: each part
    gets the region it names (else the lower limb), refined by the side it names; the
    words are always kept."""
    out = []
    for part in (p.strip() for p in areas.replace(";", ",").split(",")):
        if not part:
            continue
        words = part.lower().split()
        side = next((w for w in words if w in SIDES), "")
        region = next((w for w in words if w in REGIONS), "")
        out.append({"coding": structure(REGIONS.get(region, LOWER_LIMB), side), "text": part})
    return out


def bruising(value: str) -> dict[str, object]:
    """The bruising answer as a value: a SNOMED CT severity, or our code for "none"."""
    if value in SEVERITY:
        return concept(SNOMED, *SEVERITY[value])
    return local(f"bruising-{value}", value.capitalize() or "Not answered")


def questionnaire_items(flags: Iterable[tuple[str, str]]) -> list[dict[str, object]]:
    """The check-in's items: the protocol version's warning signs ``(key, title)`` as
    yes/no questions, then the fixed questions in the form's order. Pain and bruising
    are required (app/domain/checkin.py); a warning sign is required only on the days
    it is asked, which a Questionnaire cannot say, so none is marked required."""
    items: list[dict[str, object]] = [
        {"linkId": FLAG_PREFIX + key, "text": title, "type": "boolean"} for key, title in flags
    ]
    items.append(
        {
            "linkId": "pain",
            "text": PAIN_ITEM,
            "type": "integer",
            "required": True,
            "code": [coding(LOINC, *PAIN_LOINC)],
        }
    )
    items.append(
        {
            "linkId": "bruising",
            "text": BRUISING_ITEM,
            "type": "choice",
            "required": True,
            "answerOption": [{"valueCoding": bruising(v)["coding"][0]} for v in BRUISING_CHOICES],
        }
    )
    skin = [*SKIN_CHOICES.items(), ("none", "No skin changes")]
    items.append(
        {
            "linkId": "skin",
            "text": SKIN_ITEM,
            "type": "choice",
            "repeats": True,
            "answerOption": [{"valueCoding": _skin(k, words)} for k, words in skin],
        }
    )
    items.extend(
        {"linkId": key, "text": text, "type": "boolean"} for key, text in BOOLEAN_ITEMS.items()
    )
    items.append({"linkId": "note", "text": NOTE_ITEM, "type": "text"})
    return items


def response_items(
    answers: Mapping[str, object], flag_titles: Mapping[str, str]
) -> list[dict[str, object]]:
    """A stored check-in's answers (``CheckIn.answers``) as QuestionnaireResponse items,
    in the Questionnaire's order. What was not answered is left out (FHIR: an item
    without an answer is not sent), so "not answered" never reads as "no"."""
    items: list[dict[str, object]] = []
    said = {k: True for k in _strings(answers.get("red_flags"))}
    said |= {k: False for k in _strings(answers.get("red_flags_no"))}
    for key in [*(k for k in flag_titles if k in said), *(k for k in said if k not in flag_titles)]:
        items.append(_item(FLAG_PREFIX + key, flag_titles.get(key, key), valueBoolean=said[key]))
    if isinstance(answers.get("pain"), int):
        items.append(_item("pain", PAIN_ITEM, valueInteger=answers["pain"]))
    if isinstance(answers.get("bruising"), str):
        items.append(
            _item("bruising", BRUISING_ITEM, valueCoding=bruising(answers["bruising"])["coding"][0])
        )
    skin = _strings(answers.get("skin"))
    if skin:
        values = [{"valueCoding": _skin(k, SKIN_CHOICES.get(k, k))} for k in skin]
        items.append({"linkId": "skin", "text": SKIN_ITEM, "answer": values})
    elif answers.get("skin_none"):
        items.append(_item("skin", SKIN_ITEM, valueCoding=_skin("none", "No skin changes")))
    for key, text in BOOLEAN_ITEMS.items():
        if isinstance(answers.get(key), bool):
            items.append(_item(key, text, valueBoolean=answers[key]))
    note = answers.get("note")
    if isinstance(note, str) and note.strip():
        items.append(_item("note", NOTE_ITEM, valueString=note))
    return items


def _skin(key: str, words: str) -> dict[str, str]:
    return coding(LOCAL, f"skin-{key}", words)


def _item(link_id: str, text: str, **value: object) -> dict[str, object]:
    return {"linkId": link_id, "text": text, "answer": [value]}


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def entry(full_url: str, resource: dict[str, object]) -> dict[str, object]:
    """A Bundle entry; the resource's id is the uuid of its fullUrl."""
    return {"fullUrl": full_url, "resource": {**resource, "id": full_url.rsplit(":", 1)[-1]}}


# What a FHIR string may not hold (R4 datatypes, "string": no code point below 32 but tab,
# CR and LF; XML, FHIR's other format, cannot carry them at all), and lone surrogates,
# which cannot be written as UTF-8. A patient's note or a pasted sclerosant name can hold
# any of them (a stray NUL or escape); each becomes U+FFFD, so the reader sees that a
# character was there and a string is never emptied by cleaning.
NOT_FHIR_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# What is empty when it has no content; 0 and False are values.
EMPTIABLE = (str, list, dict)


def finished(value: object, space: uuid.UUID) -> object:
    """``value`` (a bundle) as it leaves the app, in one pass over it:

    - this installation's ids. Row ids start at 1 on every server, so ``Patient/12`` of
      two clinics' own installations would otherwise share a fullUrl and an identifier,
      and an EHR fed by both would merge two people's records. Each uuid (fullUrl,
      reference, resource id) becomes a uuid5 of itself in ``space``
      (:func:`install_space`), and each identifier system names the installation;
    - strings cleaned of what a FHIR string may not hold (``NOT_FHIR_TEXT``);
    - no empty string, array or object, nor null (FHIR JSON: an element is either
      absent or has content), so a clearance score whose two photos were deleted has no
      ``derivedFrom: []`` and an unreadable history entry no ``item: []``.
    """
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            done = _text(key, inner, space) if type(inner) is str else finished(inner, space)
            if done is not None and (done or type(done) not in EMPTIABLE):
                out[key] = done
        return out
    if isinstance(value, list):
        kept = (_text("", v, space) if type(v) is str else finished(v, space) for v in value)
        return [v for v in kept if v is not None and (v or type(v) not in EMPTIABLE)]
    return value


def _text(key: str, value: str, space: uuid.UUID) -> str:
    if key in ("fullUrl", "reference") and value.startswith("urn:uuid:"):
        return "urn:uuid:" + _uuid5(space, value.removeprefix("urn:uuid:"))
    if key == "id":
        return _uuid5(space, value)
    if key == "system" and value.startswith(ID_SYSTEM):
        return f"{ID_SYSTEM}{space}:{value.removeprefix(ID_SYSTEM)}"
    if value.isascii() and value.isprintable():
        return value  # the usual case, without the expression
    return NOT_FHIR_TEXT.sub("\ufffd", value)


def outcome(code: str, words: str) -> dict[str, object]:
    """An OperationOutcome with one error (R4 IssueType ``code``), for an API client."""
    issue = {"severity": "error", "code": code, "diagnostics": words}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def as_searchset(bundle: dict[str, object], self_url: str) -> dict[str, object]:
    """The ``Patient/$everything`` answer: the same entries as a ``searchset`` (the
    operation's defined return type), the patient a "match" and everything else an
    "include" of it; ``total`` counts the matches (one patient). ``self_url``: the
    address with only the parameters used, i.e. none (R4 search: a server that ignores
    a parameter, such as ``_since`` or ``_count`` here, leaves it out of the self link,
    which is how the client learns it was ignored)."""
    entries = bundle.get("entry", [])
    assert isinstance(entries, list)
    marked = [
        {
            **e,
            "search": {
                "mode": "match" if e["resource"]["resourceType"] == "Patient" else "include"
            },
        }
        for e in entries
    ]
    link = [{"relation": "self", "url": self_url}]
    return {**bundle, "type": "searchset", "total": 1, "link": link, "entry": marked}
