"""The FHIR building blocks (app/domain/fhir.py): stable ids, body sites from the
clinic's free-text areas, and check-in answers as QuestionnaireResponse items, where an
unanswered question is left out rather than sent as "no"."""

from __future__ import annotations

from app.domain import fhir


def test_ids_are_stable_and_differ_by_kind_and_key():
    assert fhir.urn("Patient", 1) == fhir.urn("Patient", 1)
    assert fhir.urn("Patient", 1) != fhir.urn("Procedure", 1) != fhir.urn("Patient", 2)
    assert fhir.urn("Patient", 1) == "urn:uuid:" + fhir.resource_id("Patient", 1)


def test_areas_keep_their_words_and_gain_codes_where_known():
    sites = fhir.areas_sites("Left calf; right THIGH, behind the knee, varicose cluster, left leg")
    assert [s["text"] for s in sites] == [
        "Left calf",
        "right THIGH",
        "behind the knee",
        "varicose cluster",
        "left leg",
    ]
    # A side refines its structure (a SNOMED CT expression with 272741003 |Laterality|);
    # it is never a coding of its own, which would say the site *is* "Left".
    assert [[c["code"] for c in s["coding"]] for s in sites] == [
        ["53840002", "53840002:272741003=7771000"],
        ["68367000", "68367000:272741003=24028007"],
        ["72696002"],
        ["61685007"],
        ["61685007", "61685007:272741003=7771000"],
    ]
    assert fhir.areas_sites("") == []


def test_bruising_is_a_snomed_severity_or_our_none():
    assert fhir.bruising("severe")["coding"][0]["code"] == "24484000"
    assert fhir.bruising("none")["coding"][0] == {
        "system": fhir.LOCAL,
        "code": "bruising-none",
        "display": "None",
    }


def test_unanswered_questions_are_left_out_and_answers_keep_their_order():
    answers = {
        "pain": 4,
        "bruising": "mild",
        "skin": [],
        "skin_none": True,
        "lumps": None,
        "itching": False,
        "red_flags": ["calf-pain", "retired-flag"],
        "red_flags_no": ["allergy"],
        "note": "  ",
    }
    items = fhir.response_items(answers, {"allergy": "Allergy", "calf-pain": "Calf pain"})
    assert [i["linkId"] for i in items] == [
        "flag-allergy",
        "flag-calf-pain",
        "flag-retired-flag",
        "pain",
        "bruising",
        "skin",
        "itching",
    ]
    assert items[1]["answer"] == [{"valueBoolean": True}]
    assert items[2]["text"] == "retired-flag"  # a flag the version no longer names
    assert items[5]["answer"][0]["valueCoding"]["code"] == "skin-none"
    assert items[6]["answer"] == [{"valueBoolean": False}]


def test_a_garbled_stored_answer_is_left_out_not_an_error():
    assert fhir.response_items({"pain": "9", "skin": "blister", "red_flags": None}, {}) == []


def test_the_questionnaire_lists_every_item_a_response_can_hold():
    links = {i["linkId"] for i in fhir.questionnaire_items([("allergy", "Allergy")])}
    answers = {"pain": 1, "bruising": "none", "skin": ["blister"], "note": "x"}
    answers |= dict.fromkeys(fhir.BOOLEAN_ITEMS, True) | {"red_flags": ["allergy"]}
    assert {i["linkId"] for i in fhir.response_items(answers, {"allergy": "Allergy"})} <= links


def test_everything_marks_the_patient_as_the_match():
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "a", "resource": {"resourceType": "Patient"}},
            {"fullUrl": "b", "resource": {"resourceType": "Procedure"}},
        ],
    }
    out = fhir.as_searchset(bundle, "https://x.example/fhir/Patient/1/$everything")
    assert out["type"] == "searchset" and out["total"] == 1
    assert out["link"] == [
        {"relation": "self", "url": "https://x.example/fhir/Patient/1/$everything"}
    ]
    assert [e["search"]["mode"] for e in out["entry"]] == ["match", "include"]
    assert bundle["type"] == "collection"  # the download's copy is left as it was


def test_finished_cleans_text_and_drops_what_fhir_json_has_no_room_for():
    value = {
        "a": "x\x00y\x1b\t\r\n\ud800é🙂",
        "b": [],
        "c": {"d": "", "e": None, "f": [{}]},
        "g": [0, False, "", {"h": []}],
        "i": 0,
    }
    space = fhir.install_space("https://north.example")
    assert fhir.finished(value, space) == {
        "a": "x\ufffdy\ufffd\t\r\n\ufffdé🙂",
        "g": [0, False],
        "i": 0,
    }


def test_finished_moves_ids_into_the_installation_consistently():
    space = fhir.install_space("https://north.example")
    entry = fhir.entry(fhir.urn("Patient", 1), {"identifier": [fhir.identifier("Patient", 1)]})
    bundle = {"entry": [entry], "other": fhir.ref("Patient", 1)}
    done = fhir.finished(bundle, space)
    (moved,) = done["entry"]
    assert moved["fullUrl"] == done["other"]["reference"] == f"urn:uuid:{moved['resource']['id']}"
    assert moved["fullUrl"] != entry["fullUrl"]
    assert moved["resource"]["identifier"] == [
        {"system": f"urn:sclerocare:fhir:id:{space}:patient", "value": "1"}
    ]
    other = fhir.finished(bundle, fhir.install_space("https://south.example"))
    assert other["entry"][0]["fullUrl"] != moved["fullUrl"]


def test_a_placeholder_address_is_not_a_contact():
    assert fhir.reachable("ann@patients.example")
    assert not fhir.reachable("closed-12@closed.invalid")
    assert not fhir.reachable("x@SOMETHING.INVALID")
