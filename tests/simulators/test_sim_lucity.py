"""Lucity (CentralSquare EAM) simulator over HTTP: the citizen API, the internal API
(auth, FILTER/ORDERBY/TAKE/SKIP, PUT, children, work orders), the control plane,
the seed and faults; plus the FILTER parser on its own."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests

from simulators.launch import RunningSimulators, start_simulators
from simulators.lucity_filter import FilterError, evaluate, matches, parse_filter
from simulators.lucity_store import REQUEST_TABLE, WORK_ORDER_TABLE
from simulators.seed import boundary

LUCITY_AUTH = ("crosswalk", "demo-password")
JSON = {"format": "json"}
NEW_REQUEST = {
    "ProblemCode": "WB",
    "CategoryCode": "SCF",
    "RequestorName1": "Maria",
    "RequestorName2": "Gonzalez",
    "RequestorEmail": "maria.gonzalez@example.com",
    "RequestorPhone": "203-555-0142",
    "BuildingNumber": "880",
    "Street": "Chapel St",
    "LocationCity": "New Haven",
    "LocationZipCode": "06510",
    "XCoordinate": -72.9261,
    "YCoordinate": 41.3063,
    "Comments": "Water running down Chapel St",
    "User20": "14100001",
}


@pytest.fixture
def lc(sims: RunningSimulators) -> Iterator[requests.Session]:
    """A session using HTTP Basic against the Lucity internal API."""
    with requests.Session() as session:
        session.auth = LUCITY_AUTH
        yield session


def citizen(sims: RunningSimulators, path: str) -> str:
    return f"{sims.lucity_base_url}{path}"


def api(sims: RunningSimulators, path: str) -> str:
    return f"{sims.lucity_internal_url}{path}"


def control(sims: RunningSimulators, path: str) -> str:
    assert sims.lucity is not None
    return f"{sims.lucity.url}/_sim{path}"


def create_citizen_request(sims: RunningSimulators, **fields) -> dict:
    response = requests.post(
        citizen(sims, "/Requests.svc/"),
        params={"format": "json", "COORDSYS": "LATLONG"},
        json={**NEW_REQUEST, **fields},
    )
    assert response.status_code == 200, response.text
    return response.json()


def list_requests(sims, lc, **params) -> requests.Response:
    return lc.get(api(sims, "/Work/Requests.svc/"), params={"format": "json", **params})


def numbers(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["RequestNumber"] for r in response.json()]


# -- citizen API -----------------------------------------------------------------


def test_citizen_create_returns_numbers_and_stores_the_fields(sims, lc):
    created = create_citizen_request(sims, User13="Yes", WorkOrderUser1="Crew B")
    assert re.fullmatch(r"\d{4}-\d{6}", created["RequestNumber"])
    assert isinstance(created["AutoNumber"], int)
    assert created["StatusCode"] == 1 and created["StatusDescription"] == "New Request"
    assert created["ProblemDescription"] == "Water Main Break"

    fetched = lc.get(api(sims, f"/Work/Requests.svc/{created['AutoNumber']}"), params=JSON).json()
    assert fetched == created
    assert fetched["XCoordinate"] == -72.9261 and fetched["YCoordinate"] == 41.3063
    assert fetched["User13"] == "Yes" and fetched["WorkOrderUser1"] == "Crew B"
    assert fetched["User20"] == "14100001"
    assert fetched["EntryDate"] == fetched["ModifiedDate"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", fetched["EntryDate"])

    state = requests.get(control(sims, "/state")).json()
    stored = next(r for r in state["requests"] if r["AutoNumber"] == created["AutoNumber"])
    assert stored["_meta"] == {"CoordinateSystem": "LATLONG", "Source": "citizen"}


def test_citizen_create_validation(sims):
    url = citizen(sims, "/Requests.svc/")
    unknown = requests.post(url, params=JSON, json={**NEW_REQUEST, "Priority": "High"})
    assert unknown.status_code == 400
    body = unknown.json()
    assert set(body) == {"Message", "ExceptionMessage"} and "Priority" in body["ExceptionMessage"]

    for fields in ({"ProblemCode": "NOPE"}, {"ProblemCode": "LEAF"}, {"ProblemCode": None}):
        assert requests.post(url, params=JSON, json={**NEW_REQUEST, **fields}).status_code == 400
    assert requests.post(url, params=JSON, json={"Comments": "no code"}).status_code == 400
    assert (
        requests.post(url, params=JSON, json={**NEW_REQUEST, "StatusCode": 999}).status_code == 400
    )
    assert (
        requests.post(url, params=JSON, json={**NEW_REQUEST, "XCoordinate": "east"}).status_code
        == 400
    )

    # LATLONG is range-checked: State Plane feet sent as lat/long are refused.
    refused = requests.post(
        url,
        params={"format": "json", "COORDSYS": "LATLONG"},
        json={**NEW_REQUEST, "XCoordinate": 949343.13, "YCoordinate": 675590.86},
    )
    assert refused.status_code == 400
    assert (
        requests.post(url, params={**JSON, "COORDSYS": "UTM"}, json=NEW_REQUEST).status_code == 400
    )

    not_json = requests.post(url, params=JSON, data="ProblemCode=WB")
    assert not_json.status_code == 415 and "media type" in not_json.json()["Message"]
    broken = requests.post(url, params=JSON, data="{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400


def test_format_json_is_needed_for_json(sims):
    url = citizen(sims, "/Requests.svc/")
    as_xml = requests.post(url, json={**NEW_REQUEST, "XCoordinate": 949000, "YCoordinate": 675000})
    assert as_xml.status_code == 200
    assert as_xml.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(as_xml.content)
    assert root.tag == "WorkRequest" and re.fullmatch(
        r"\d{4}-\d{6}", root.findtext("RequestNumber")
    )

    error = requests.post(url, json={**NEW_REQUEST, "Bogus": 1})
    assert error.status_code == 400 and ET.fromstring(error.content).tag == "Error"
    # The parameter name and value are case-insensitive.
    upper = requests.post(url, params={"FORMAT": "JSON"}, json=NEW_REQUEST)
    assert upper.json()["ProblemCode"] == "WB"


def test_custom_fields_are_configurable(sims, lc):
    url = citizen(sims, "/Requests.svc/")
    assert (
        requests.post(url, params=JSON, json={**NEW_REQUEST, "PriorityField": "1"}).status_code
        == 400
    )
    assert requests.post(url, params=JSON, json={**NEW_REQUEST, "User21": "x"}).status_code == 400
    configured = requests.post(
        control(sims, "/config"), json={"custom_fields": ["PriorityField"], "take_max": 20}
    )
    assert configured.json() == {"take_max": 20, "custom_fields": ["PriorityField"]}
    created = requests.post(url, params=JSON, json={**NEW_REQUEST, "PriorityField": "1"})
    assert created.status_code == 200 and created.json()["PriorityField"] == "1"
    assert requests.post(control(sims, "/config"), json={"take_max": 0}).status_code == 400
    assert requests.post(control(sims, "/config"), json={"colour": "red"}).status_code == 400

    sims.reset()  # back to the constructor's configuration
    assert (
        requests.post(url, params=JSON, json={**NEW_REQUEST, "PriorityField": "1"}).status_code
        == 400
    )


def test_media_upload_creates_a_document(sims, lc):
    created = create_citizen_request(sims)
    url = citizen(sims, f"/Requests.svc/{created['AutoNumber']}/media/")
    uploaded = requests.post(
        url, params=JSON, files={"FileToUpload": ("leak photo.jpg", b"\xff\xd8jpeg", "image/jpeg")}
    )
    assert uploaded.status_code == 200, uploaded.text
    document = uploaded.json()
    assert document["FileName"] == "leak photo.jpg"
    assert document["PubliclyAvailable"] is False
    served = requests.get(document["DocumentUrl"])
    assert served.content == b"\xff\xd8jpeg" and served.headers["Content-Type"] == "image/jpeg"

    listed = lc.get(
        api(sims, f"/Work/Requests.svc/{created['AutoNumber']}/Documents"), params=JSON
    ).json()
    assert listed == [document]

    assert requests.post(url, params=JSON, files={"Other": ("a.jpg", b"x")}).status_code == 400
    assert requests.post(url, params=JSON, json={"FileToUpload": "x"}).status_code == 415
    missing = citizen(sims, "/Requests.svc/999999/media/")
    assert (
        requests.post(missing, params=JSON, files={"FileToUpload": ("a", b"x")}).status_code == 404
    )

    # The control plane reads back exactly what arrived (the refused ones did not).
    uploads = requests.get(control(sims, f"/requests/{created['AutoNumber']}/uploads")).json()
    assert uploads == [
        {
            "DocumentAutoNumber": document["AutoNumber"],
            "Field": "FileToUpload",
            "FileName": "leak photo.jpg",
            "ContentType": "image/jpeg",
            "Size": 6,
            "Content": base64.b64encode(b"\xff\xd8jpeg").decode(),
        }
    ]
    assert requests.get(control(sims, "/requests/999999/uploads")).status_code == 404


def test_lookup_lists(sims):
    def codes(prop: str, **params) -> list[str]:
        response = requests.get(
            citizen(sims, f"/LookupList/Request.svc/{prop}/"), params={**JSON, **params}
        )
        assert response.status_code == 200, response.text
        rows = response.json()
        assert all(set(r) == {"CodeValue", "TypeValue"} for r in rows)
        return [r["CodeValue"] for r in rows]

    assert codes("ProblemCode", **{"311Only": "true"}) == ["WB", "HYD", "SW", "TRP", "ILD"]
    assert codes("ProblemCode") == ["WB", "HYD", "SW", "TRP", "ILD", "FAC"]
    assert codes("CategoryCode") == ["SCF", "INT"]
    assert "999" in codes("StatusCode")
    assert (
        requests.get(citizen(sims, "/LookupList/Request.svc/Colour/"), params=JSON).status_code
        == 404
    )

    # Staff disable, rename and add problem codes; the 311 list follows.
    for change in (
        {"Code": "TRP", "Inactive": True},
        {"Code": "HYD", "Description": "Hydrant Leaking or Damaged"},
        {"Code": "POT", "Description": "Pothole", "CategoryCode": "SCF"},
    ):
        assert requests.post(control(sims, "/problem_codes"), json=change).status_code == 200
    rows = requests.get(
        citizen(sims, "/LookupList/Request.svc/ProblemCode/"), params={**JSON, "311Only": "TRUE"}
    ).json()
    assert {r["CodeValue"]: r["TypeValue"] for r in rows} == {
        "WB": "Water Main Break",
        "HYD": "Hydrant Leaking or Damaged",
        "SW": "Storm Drain Clogged",
        "ILD": "Illegal Dumping",
        "POT": "Pothole",
    }


def test_track_shows_a_requesters_requests_with_public_comments(sims):
    created = create_citizen_request(sims)
    auto = created["AutoNumber"]
    for text, public in (("Crew on the way", True), ("Internal note", False)):
        requests.post(
            control(sims, f"/requests/{auto}/comments"),
            json={"Comment": text, "PubliclyAvailable": public},
        )
    url = citizen(sims, "/Request/")
    found = requests.get(
        url,
        params={
            **JSON,
            "Email": "MARIA.gonzalez@example.com",
            "RequestNumber": created["RequestNumber"],
        },
    ).json()
    assert len(found) == 1
    assert found[0]["StatusCode"] == 1
    assert [c["Comment"] for c in found[0]["PublicComments"]] == ["Crew on the way"]
    assert requests.get(url, params={**JSON, "Email": "someone@example.com"}).json() == []
    assert requests.get(url, params=JSON).status_code == 400


# -- internal API: auth, listing, FILTER -------------------------------------------


def test_internal_api_needs_basic_auth(sims):
    url = api(sims, "/Work/Requests.svc/")
    for auth in (None, ("crosswalk", "wrong")):
        refused = requests.get(url, params=JSON, auth=auth)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic")
        assert refused.json()["Message"] == "Authorization has been denied for this request."
    assert requests.get(url, params=JSON, auth=LUCITY_AUTH).status_code == 200
    # The citizen API has no auth.
    assert requests.get(citizen(sims, "/LookupList/Request.svc/ProblemCode/"), params=JSON).ok


def test_filter_selects_open_requests_and_in_lists(sims, lc):
    first = create_citizen_request(sims, RequestorName2="O'Brien")
    second = create_citizen_request(sims, ProblemCode="ILD", RequestorEmail=None)
    requests.post(control(sims, f"/requests/{second['AutoNumber']}"), json={"StatusCode": 999})

    open_numbers = numbers(list_requests(sims, lc, FILTER="WKREQ WHERE RQ_STAT_CD < 950"))
    assert first["RequestNumber"] in open_numbers and second["RequestNumber"] not in open_numbers
    assert len(open_numbers) == 4  # three seeded + first

    batch = f"RQ_NUMBER IN ('{first['RequestNumber']}','{second['RequestNumber']}', '1999-000001')"
    assert numbers(list_requests(sims, lc, FILTER=batch)) == [  # newest first by default
        second["RequestNumber"],
        first["RequestNumber"],
    ]
    assert numbers(list_requests(sims, lc, FILTER="RQ_NAME2 = 'O''Brien'")) == [
        first["RequestNumber"]
    ]
    assert numbers(list_requests(sims, lc, FILTER="rq_name2 like '%brien'")) == [
        first["RequestNumber"]
    ]
    assert numbers(list_requests(sims, lc, FILTER="RQ_EXTERNAL_ID = '14100001'")) == [
        second["RequestNumber"],
        first["RequestNumber"],
    ]
    no_coords = numbers(list_requests(sims, lc, FILTER="WKREQ WHERE RQ_X IS NULL"))
    assert len(no_coords) == 1
    combined = (
        "WKREQ WHERE (RQ_PROB_CD = 'ILD' OR RQ_PROB_CD = 'WB') AND RQ_STAT_CD <> 999 "
        "AND RQ_EMAIL IS NOT NULL"
    )
    seeded_main_break = lc.get(api(sims, "/Work/Requests.svc/1001"), params=JSON).json()
    assert numbers(list_requests(sims, lc, FILTER=combined, ORDERBY="RQ_ID ASC")) == [
        seeded_main_break["RequestNumber"],
        first["RequestNumber"],
    ]
    not_in = numbers(list_requests(sims, lc, FILTER="RQ_PROB_CD NOT IN ('WB', 'SW')"))
    assert len(not_in) == 2 and second["RequestNumber"] in not_in
    recent = numbers(list_requests(sims, lc, FILTER="RQ_ENTRY_DT >= '2000-01-01'"))
    assert len(recent) == 5


@pytest.mark.parametrize(
    "bad",
    [
        "WKORDER WHERE WO_STAT_CD < 950",  # wrong table
        "RQ_COLOUR = 'red'",  # unknown column
        "RQ_STAT_CD < ",  # incomplete
        "RQ_NUMBER = 'open",  # unterminated string
        "RQ_STAT_CD = 'abc'",  # conversion error
        "RQ_NUMBER = NULL",  # NULL literal
        "(RQ_STAT_CD < 950",  # unbalanced
    ],
)
def test_malformed_filters_are_400(sims, lc, bad):
    response = list_requests(sims, lc, FILTER=bad)
    assert response.status_code == 400
    assert response.json()["Message"] == "The request is invalid."


def test_take_skip_paging_orderby_and_count(sims, lc):
    for n in range(22):
        create_citizen_request(sims, User20=str(14100100 + n))
    url = api(sims, "/Work/Requests.svc/")
    default = list_requests(sims, lc).json()
    # The documented default order: AutoNumber descending (newest first).
    assert len(default) == 10 and default[0]["AutoNumber"] == 1025
    assert [r["AutoNumber"] for r in default] == list(range(1025, 1015, -1))

    pages = [list_requests(sims, lc, TAKE=10, SKIP=skip).json() for skip in (0, 10, 20)]
    assert [len(p) for p in pages] == [10, 10, 5]
    autos = [r["AutoNumber"] for page in pages for r in page]
    assert autos == sorted(set(autos), reverse=True) and len(autos) == 25
    oldest_first = [
        list_requests(sims, lc, ORDERBY="AutoNumber ASC", TAKE=10, SKIP=skip).json()
        for skip in (0, 10, 20)
    ]
    assert [r["AutoNumber"] for page in oldest_first for r in page] == sorted(autos)

    refused = list_requests(sims, lc, TAKE=10, SKIP=15)
    assert refused.status_code == 400
    assert "multiple of TAKE" in refused.json()["ExceptionMessage"]
    assert list_requests(sims, lc, TAKE=0).status_code == 400
    assert list_requests(sims, lc, SKIP=-10).status_code == 400
    assert list_requests(sims, lc, FILTERID=3).status_code == 400

    assert len(list_requests(sims, lc, TAKE=500).json()) == 25  # under the default max of 50
    requests.post(control(sims, "/config"), json={"take_max": 20})
    assert len(list_requests(sims, lc, TAKE=500).json()) == 20  # clamped to the max

    requests.post(control(sims, "/requests/1002"), json={"StatusCode": 999})
    ordered = list_requests(sims, lc, ORDERBY="StatusCode DESC, AutoNumber DESC", TAKE=2).json()
    assert [r["AutoNumber"] for r in ordered] == [1002, 1025]
    by_column = list_requests(sims, lc, ORDERBY="RQ_ID desc", TAKE=1).json()
    assert by_column[0]["AutoNumber"] == 1025
    assert list_requests(sims, lc, ORDERBY="Colour").status_code == 400

    count = lc.get(f"{url}$count", params={**JSON, "FILTER": "RQ_STAT_CD < 950"})
    assert count.json() == 24
    as_xml = lc.get(f"{url}$count")
    assert ET.fromstring(as_xml.content).text == "25"


# -- internal API: PUT, children ---------------------------------------------------


def test_put_with_and_without_nullwrites(sims, lc):
    created = create_citizen_request(sims, User13="Yes")
    url = api(sims, f"/Work/Requests.svc/{created['AutoNumber']}")
    updated = lc.put(
        url, params=JSON, json={"Comments": "Updated", "User13": None, "RequestNumber": "X"}
    )
    assert updated.status_code == 200, updated.text
    record = updated.json()
    assert record["Comments"] == "Updated"
    assert record["User13"] == "Yes"  # nulls are ignored without NULLWRITES
    assert record["RequestNumber"] == created["RequestNumber"]  # read-only: ignored

    cleared = lc.put(url, params={**JSON, "NULLWRITES": "TRUE"}, json={"User13": None}).json()
    assert cleared["User13"] is None

    # New X/Y are in the COORDSYS of the call that sent them (LOCAL by default).
    moved = lc.put(url, params=JSON, json={"XCoordinate": 949000.5, "YCoordinate": 675000.25})
    assert (moved.json()["XCoordinate"], moved.json()["YCoordinate"]) == (949000.5, 675000.25)
    state = requests.get(control(sims, "/state")).json()
    stored = next(r for r in state["requests"] if r["AutoNumber"] == created["AutoNumber"])
    assert stored["_meta"]["CoordinateSystem"] == "LOCAL"
    cleared = moved.json()

    # A GET-modify-PUT round trip works, also with a problem code since disabled.
    requests.post(control(sims, "/problem_codes"), json={"Code": "WB", "Inactive": True})
    assert lc.put(url, params=JSON, json={**cleared, "StatusCode": 941}).json()[
        "StatusDescription"
    ] == ("Work Order on Hold")
    assert lc.put(url, params=JSON, json={"Colour": "red"}).status_code == 400
    assert lc.put(url, params=JSON, json={"StatusCode": 5}).status_code == 400
    assert lc.put(url, params=JSON, json={"ProblemCode": "LEAF"}).status_code == 400
    assert lc.put(url, params=JSON, data="x").status_code == 415
    missing = lc.put(api(sims, "/Work/Requests.svc/424242"), params=JSON, json={"Comments": "x"})
    assert missing.status_code == 404 and "ExceptionMessage" in missing.json()


def test_comments_and_documents_children(sims, lc):
    auto = create_citizen_request(sims)["AutoNumber"]
    comments_url = api(sims, f"/Work/Requests.svc/{auto}/Comments")
    posted = lc.post(
        comments_url,
        params=JSON,
        json={"Comment": "Resident: still leaking", "RecordedBy": "Maria Gonzalez"},
    )
    assert posted.status_code == 200, posted.text
    comment = posted.json()
    assert comment["PubliclyAvailable"] is False and comment["RecordedBy"] == "Maria Gonzalez"
    default_author = lc.post(comments_url, params=JSON, json={"Comment": "From the sync"}).json()
    assert default_author["RecordedBy"] == "crosswalk"
    staff = requests.post(
        control(sims, f"/requests/{auto}/comments"),
        json={"Comment": "Crew fixed the valve", "PubliclyAvailable": True},
    )
    assert staff.status_code == 201

    listed = lc.get(comments_url, params={**JSON, "ORDERBY": "AutoNumber ASC"}).json()
    assert [c["Comment"] for c in listed] == [
        "Resident: still leaking",
        "From the sync",
        "Crew fixed the valve",
    ]
    newest_first = lc.get(comments_url, params=JSON).json()  # the default order
    assert newest_first == listed[::-1]
    public = lc.get(comments_url, params={**JSON, "FILTER": "CM_PUBLIC = 1"}).json()
    assert [c["Comment"] for c in public] == ["Crew fixed the valve"]
    after = lc.get(
        comments_url,
        params={
            **JSON,
            "FILTER": f"CM_ID > {comment['AutoNumber']}",
            "ORDERBY": "CM_ID",
            "TAKE": 1,
        },
    ).json()
    assert [c["Comment"] for c in after] == ["From the sync"]

    assert lc.post(comments_url, params=JSON, json={"Comment": ""}).status_code == 400
    assert (
        lc.post(
            comments_url, params=JSON, json={"Comment": "x", "PubliclyAvailable": "yes"}
        ).status_code
        == 400
    )
    assert lc.get(api(sims, "/Work/Requests.svc/424242/Comments"), params=JSON).status_code == 404

    documents_url = api(sims, f"/Work/Requests.svc/{auto}/Documents")
    link = requests.post(
        control(sims, f"/requests/{auto}/documents"),
        json={"DocumentUrl": "https://example.com/photos/leak.jpg", "Description": "Before"},
    ).json()
    assert link["FileName"] == "leak.jpg" and link["PubliclyAvailable"] is False
    requests.post(
        control(sims, f"/requests/{auto}/documents"),
        json={"DocumentUrl": "https://city.example/after.jpg", "PubliclyAvailable": True},
    )
    public_docs = lc.get(documents_url, params={**JSON, "FILTER": "DC_PUBLIC = 1"}).json()
    assert [d["DocumentUrl"] for d in public_docs] == ["https://city.example/after.jpg"]
    refused = requests.post(
        control(sims, f"/requests/{auto}/documents"), json={"DocumentUrl": "leak.jpg"}
    )
    assert refused.status_code == 400


def test_status_and_problem_code_patched_by_staff(sims, lc):
    created = create_citizen_request(sims, ProblemCode="TRP")
    auto = created["AutoNumber"]
    patched = requests.post(control(sims, f"/requests/{auto}"), json={"ProblemCode": "ILD"}).json()
    assert patched["ProblemDescription"] == "Illegal Dumping"
    closed = requests.post(control(sims, f"/requests/{auto}"), json={"StatusCode": 999}).json()
    assert closed["StatusCode"] == 999 and closed["StatusDescription"] == "Complete"
    still_open = numbers(list_requests(sims, lc, FILTER="RQ_STAT_CD < 950"))
    assert created["RequestNumber"] not in still_open
    assert (
        requests.post(control(sims, f"/requests/{auto}"), json={"StatusCode": 7}).status_code == 400
    )

    staff = requests.post(
        control(sims, "/requests"),
        json={"ProblemCode": "HYD", "Comments": "Hydrant hit by a plow", "minutes_ago": 30},
    )
    assert staff.status_code == 201 and staff.json()["StatusCode"] == 1


# -- work orders -------------------------------------------------------------------


def test_work_orders_create_list_comment_and_close(sims, lc):
    url = api(sims, "/Work/WorkOrders.svc/")
    created = lc.post(
        url,
        params={**JSON, "COORDSYS": "LATLONG"},
        json={
            "ProblemCode": "FAC",
            "Description": "Broken door at the library",
            "Address": "133 Elm St",
            "XCoordinate": -72.9283,
            "YCoordinate": 41.3083,
            "User20": "14100077",
            "User3": "Facilities",
        },
    )
    assert created.status_code == 200, created.text
    order = created.json()
    assert re.fullmatch(r"WO-\d{4}-\d{5}", order["WorkOrderNumber"])
    assert order["StatusCode"] == 1 and order["User3"] == "Facilities"
    assert (
        lc.post(url, params=JSON, json={"ProblemCode": "FAC", "WorkOrderUser1": "x"}).status_code
        == 400
    )

    listed = lc.get(
        url,
        params={**JSON, "FILTER": "WKORDER WHERE WO_STAT_CD < 950 AND WO_EXTERNAL_ID = '14100077'"},
    ).json()
    assert [o["WorkOrderNumber"] for o in listed] == [order["WorkOrderNumber"]]
    by_number = lc.get(url, params={**JSON, "FILTER": f"WO_NUM IN ('{order['WorkOrderNumber']}')"})
    assert by_number.json() == [order]
    assert lc.get(url, params={**JSON, "TAKE": 5, "SKIP": 3}).status_code == 400

    auto = order["AutoNumber"]
    comment = lc.post(f"{url}{auto}/Comments", params=JSON, json={"Comment": "Photo attached"})
    assert comment.status_code == 200
    requests.post(
        control(sims, f"/work_orders/{auto}/comments"),
        json={"Comment": "Door rehung", "PubliclyAvailable": True},
    )
    comments = lc.get(f"{url}{auto}/Comments", params={**JSON, "ORDERBY": "RQ_ID"})
    assert comments.status_code == 400  # a column of another table
    comments = lc.get(f"{url}{auto}/Comments", params={**JSON, "ORDERBY": "CM_ID ASC"}).json()
    assert [(c["Comment"], c["PubliclyAvailable"]) for c in comments] == [
        ("Photo attached", False),
        ("Door rehung", True),
    ]

    closed = requests.post(control(sims, f"/work_orders/{auto}"), json={"StatusCode": 998}).json()
    assert closed["StatusDescription"] == "Complete"
    assert lc.get(f"{url}$count", params={**JSON, "FILTER": "WO_STAT_CD >= 950"}).json() == 1


def test_request_converted_to_a_work_order_follows_it(sims, lc):
    created = create_citizen_request(sims, WorkOrderUser1="Crew B")
    auto = created["AutoNumber"]
    converted = requests.post(control(sims, f"/requests/{auto}/work_order"))
    assert converted.status_code == 201
    order = converted.json()
    assert order["RequestNumber"] == created["RequestNumber"]
    assert order["User1"] == "Crew B" and order["User20"] == "14100001"
    assert order["Address"] == "880 Chapel St"

    request_url = api(sims, f"/Work/Requests.svc/{auto}")
    assigned = lc.get(request_url, params=JSON).json()
    assert assigned["StatusCode"] == 2 and assigned["WorkOrderNumber"] == order["WorkOrderNumber"]

    lc.put(
        api(sims, f"/Work/WorkOrders.svc/{order['AutoNumber']}"),
        params=JSON,
        json={"StatusCode": 941},
    )
    assert lc.get(request_url, params=JSON).json()["StatusCode"] == 941
    requests.post(control(sims, f"/work_orders/{order['AutoNumber']}"), json={"StatusCode": 999})
    assert lc.get(request_url, params=JSON).json()["StatusCode"] == 998
    assert requests.post(control(sims, f"/requests/{auto}/work_order")).status_code == 400


def test_no_problem_codes_module_on_the_internal_api(sims, lc):
    """No public source shows ``Work/ProblemCodes.svc``: problem codes are read
    through the citizen lookup only, and the simulator serves nothing else."""
    missing = lc.get(api(sims, "/Work/ProblemCodes.svc/"), params=JSON)
    assert missing.status_code == 404
    # Documents are listed, never posted: no public source shows that either.
    auto = create_citizen_request(sims)["AutoNumber"]
    documents_url = api(sims, f"/Work/Requests.svc/{auto}/Documents")
    posted = lc.post(documents_url, params=JSON, json={"DocumentUrl": "https://x.example/a.jpg"})
    assert posted.status_code == 405
    assert lc.get(documents_url, params=JSON).json() == []


# -- seed, launcher, faults ----------------------------------------------------------


def test_seed_has_staff_requests_inside_without_and_outside(sims, lc):
    from pyproj import Transformer

    rows = list_requests(sims, lc, ORDERBY="AutoNumber ASC").json()
    assert [r["ProblemCode"] for r in rows] == ["WB", "SW", "ILD"]
    inside, no_coords, outside = rows
    assert inside["XCoordinate"] == pytest.approx(949343.13, abs=0.05)
    assert inside["YCoordinate"] == pytest.approx(675590.86, abs=0.05)
    assert no_coords["XCoordinate"] is None and no_coords["YCoordinate"] is None
    assert inside["EntryDate"] < no_coords["EntryDate"] < outside["EntryDate"]

    to_wgs84 = Transformer.from_crs(2234, 4326, always_xy=True)
    min_lat, min_lng, max_lat, max_lng = boundary()
    for record, expected_inside in ((inside, True), (outside, False)):
        lng, lat = to_wgs84.transform(record["XCoordinate"], record["YCoordinate"])
        within = min_lat <= lat <= max_lat and min_lng <= lng <= max_lng
        assert within is expected_inside

    comments = lc.get(
        api(sims, f"/Work/Requests.svc/{inside['AutoNumber']}/Comments"),
        params={**JSON, "ORDERBY": "AutoNumber"},
    ).json()
    assert [c["PubliclyAvailable"] for c in comments] == [True, False]
    state = requests.get(control(sims, "/state")).json()
    assert {r["_meta"]["Source"] for r in state["requests"]} == {"staff"}
    assert {r["_meta"]["CoordinateSystem"] for r in state["requests"]} == {"LOCAL"}


def test_launcher_can_leave_lucity_out_and_unseeded_keeps_problem_codes():
    with start_simulators(seed=False, lucity=False) as sims:
        assert sims.lucity is None and sims.lucity_state is None
        assert len(sims.states) == 3
        with pytest.raises(RuntimeError):
            _ = sims.lucity_base_url
    with start_simulators(seed=False) as sims:
        rows = requests.get(
            f"{sims.lucity_internal_url}/Work/Requests.svc/", params=JSON, auth=LUCITY_AUTH
        ).json()
        assert rows == []
        lookup = requests.get(
            f"{sims.lucity_base_url}/LookupList/Request.svc/ProblemCode/",
            params={**JSON, "311Only": "true"},
        ).json()
        assert len(lookup) == 5


def test_reset_restores_the_seed(sims, lc):
    create_citizen_request(sims)
    assert len(list_requests(sims, lc).json()) == 4
    requests.post(control(sims, "/reset"))
    rows = list_requests(sims, lc).json()
    assert [r["AutoNumber"] for r in rows] == [1003, 1002, 1001]


def test_faults_from_the_shared_injector(sims, lc):
    requests.post(
        control(sims, "/faults"),
        json={"status": 503, "path_contains": "/Work/Requests.svc", "count": 1, "retry_after": 5},
    )
    failed = list_requests(sims, lc)
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "5"
    assert list_requests(sims, lc).status_code == 200

    # The create happens, but the client sees a 502 from the "proxy".
    requests.post(
        control(sims, "/faults"), json={"drop_after": True, "path_contains": "/Requests.svc/"}
    )
    dropped = requests.post(citizen(sims, "/Requests.svc/"), params=JSON, json=NEW_REQUEST)
    assert dropped.status_code == 502
    assert len(list_requests(sims, lc).json()) == 4
    logged = requests.get(control(sims, "/requests"), params={"method": "POST"}).json()
    assert logged[-1]["json"]["ProblemCode"] == "WB"


def test_unknown_paths_answer_in_the_error_shape(sims, lc):
    missing = lc.get(api(sims, "/Work/Nothing.svc/"), params=JSON)
    assert missing.status_code == 404 and "No HTTP resource" in missing.json()["Message"]
    wrong_method = lc.delete(api(sims, "/Work/Requests.svc/1001"), params=JSON)
    assert wrong_method.status_code == 405


# -- the FILTER parser on its own ---------------------------------------------------


ROWS = [
    {
        "AutoNumber": 1,
        "RequestNumber": "2026-000101",
        "StatusCode": 1,
        "RequestorName2": "O'Brien",
        "EntryDate": "2026-03-01T08:00:00",
        "User20": "14100001",
        "XCoordinate": 949343.1,
    },
    {
        "AutoNumber": 2,
        "RequestNumber": "2026-000102",
        "StatusCode": 999,
        "RequestorName2": None,
        "EntryDate": "2026-03-02T08:00:00",
        "User20": None,
        "XCoordinate": None,
    },
]


def select(text: str) -> list[int]:
    node = parse_filter(text, REQUEST_TABLE)
    return [r["AutoNumber"] for r in ROWS if matches(node, r)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("WKREQ WHERE RQ_STAT_CD < 950", [1]),
        ("wkreq where rq_stat_cd >= 950", [2]),
        ("RQ_STAT_CD = '999'", [2]),
        ("RQ_NUMBER IN ('2026-000101', '2026-000102')", [1, 2]),
        ("RQ_NUMBER NOT IN ('2026-000101')", [2]),
        ("RQ_NAME2 = 'O''Brien'", [1]),
        ("RQ_NAME2 = N'o''brien'", [1]),
        ("RQ_NAME2 LIKE 'O''B%'", [1]),
        ("RQ_NAME2 LIKE '_''Brie_'", [1]),
        ("RQ_NAME2 <> 'x'", [1]),  # NULL <> 'x' is UNKNOWN
        ("NOT RQ_NAME2 = 'x'", [1]),
        ("RQ_NAME2 NOT LIKE '%z%'", [1]),
        ("RQ_EXTERNAL_ID IS NULL", [2]),
        ("[RQ_EXTERNAL_ID] IS NOT NULL", [1]),
        ("RQ_ENTRY_DT > '2026-03-01 12:00'", [2]),
        ("RQ_ENTRY_DT BETWEEN '03/01/2026' AND '2026-03-01T23:59:59'", [1]),
        ("RQ_X > 900000.5 OR RQ_STAT_CD = 999", [1, 2]),
        ("(RQ_STAT_CD = 1 OR RQ_STAT_CD = 999) AND NOT (RQ_ID = 2)", [1]),
        ("RQ_STAT_CD = 1 AND RQ_ID = 2 OR RQ_ID = 2", [2]),  # AND binds tighter
        ("  ", [1, 2]),
    ],
)
def test_filter_grammar(text, expected):
    assert select(text) == expected


def test_filter_three_valued_logic_and_errors():
    either = parse_filter("RQ_EXTERNAL_ID = '1' OR RQ_STAT_CD = 5", REQUEST_TABLE)
    assert evaluate(either, ROWS[1]) is None  # UNKNOWN OR FALSE
    both = parse_filter("RQ_EXTERNAL_ID = '1' AND RQ_STAT_CD = 5", REQUEST_TABLE)
    assert evaluate(both, ROWS[1]) is False  # UNKNOWN AND FALSE
    rescued = parse_filter("RQ_EXTERNAL_ID = '1' OR RQ_STAT_CD = 999", REQUEST_TABLE)
    assert evaluate(rescued, ROWS[1]) is True
    unknown = parse_filter("RQ_EXTERNAL_ID = '1'", REQUEST_TABLE)
    assert evaluate(unknown, ROWS[1]) is None
    for bad in (
        "RQ_ENTRY_DT > 'yesterday'",
        "RQ_STAT_CD IN ()",
        "RQ_NUMBER = 'a' AND",
        "RQ_NUMBER ~ 1",
        "RQ_NUM = '2026-000101'",  # the request number column is RQ_NUMBER (public SQL)
    ):
        with pytest.raises(FilterError):
            parse_filter(bad, REQUEST_TABLE)
    with pytest.raises(FilterError, match="table"):
        parse_filter("WKREQ WHERE WO_NUM = 'x'", WORK_ORDER_TABLE)
