"""Cartegraph simulator over HTTP: auth, CRUD, filters, paging, children, auto-progress."""

from __future__ import annotations

import time

import requests

from simulators.launch import RunningSimulators

REQ = "cgRequestsClass"
NEW_REQUEST = {
    "IssueField": "Pothole",
    "RequesterField": "SeeClickFix",
    "DescriptionField": "Deep pothole",
    "lat": 41.3063,
    "long": -72.9261,
    "SeeClickFixIDField": "14100001",
}


def url(sims: RunningSimulators, path: str) -> str:
    return f"{sims.cartegraph_base_url}{path}"


def create_request(sims, cg, **fields) -> dict:
    response = cg.post(url(sims, f"/classes/{REQ}"), json={REQ: [{**NEW_REQUEST, **fields}]})
    assert response.status_code == 200, response.text
    return response.json()[REQ][0]


def test_unauthenticated_and_wrong_password(sims):
    for auth in (None, ("crosswalk", "wrong")):
        response = requests.get(url(sims, f"/classes/{REQ}"), auth=auth)
        assert response.status_code == 401
        assert response.json() == {"Message": "Authentication Required for API Access."}


def test_session_log_on_sign_out_and_expiry(sims):
    with requests.Session() as session:
        refused = session.post(
            url(sims, "/authenticate"), json={"userName": "crosswalk", "password": "x"}
        )
        assert refused.status_code == 401
        logged_on = session.post(
            url(sims, "/authenticate"),
            json={
                "userName": "crosswalk",
                "password": "demo-password",
                "isInternalRequest": False,
            },
        )
        assert logged_on.json() == {"LogOnStatus": 0, "Expires": 3600}
        assert session.get(url(sims, f"/classes/{REQ}")).status_code == 200
        session.post(url(sims, "/authenticate/signout"))
        assert session.get(url(sims, f"/classes/{REQ}")).status_code == 401

        session.post(
            url(sims, "/authenticate"), json={"userName": "crosswalk", "password": "demo-password"}
        )
        requests.post(f"{sims.cartegraph.url}/_sim/sessions/expire")
        assert session.get(url(sims, f"/classes/{REQ}")).status_code == 401


def test_create_get_update_delete(sims, cg):
    record = create_request(sims, cg)
    assert record["IDField"].startswith("REQ-") and len(record["IDField"]) == 10
    assert record["StatusField"] == "Open"
    assert record["TasksField"] == 0
    assert record["CommentsField"] == record["NotesField"] == ""
    assert record["EntryDateField"].endswith("Z")
    oid = record["Oid"]

    fetched = cg.get(url(sims, f"/classes/{REQ}/{oid}")).json()
    assert fetched[REQ] == [record]
    assert fetched["_metadata"]["totalCount"] == 1

    updated = cg.put(
        url(sims, f"/classes/{REQ}"),
        json={REQ: [{"Oid": oid, "NotesField": "Resident: still there"}]},
    )
    assert updated.json()[REQ][0]["NotesField"] == "Resident: still there"

    deleted = cg.delete(url(sims, f"/classes/{REQ}/{oid}"))
    assert deleted.json() == {"DeletedRecordCount": 1}
    missing = cg.get(url(sims, f"/classes/{REQ}/{oid}"))
    assert missing.status_code == 404
    assert missing.json()["Message"]


def test_update_needs_existing_oid_and_is_atomic(sims, cg):
    oid = create_request(sims, cg)["Oid"]
    no_oid = cg.put(url(sims, f"/classes/{REQ}"), json={REQ: [{"NotesField": "x"}]})
    assert no_oid.status_code == 400
    partly_bad = cg.put(
        url(sims, f"/classes/{REQ}"),
        json={
            REQ: [
                {"Oid": oid, "NotesField": "changed"},
                {"Oid": 999999, "NotesField": "x"},
            ]
        },
    )
    assert partly_bad.status_code == 404
    assert cg.get(url(sims, f"/classes/{REQ}/{oid}")).json()[REQ][0]["NotesField"] == ""


def test_unknown_fields_are_rejected(sims, cg):
    created = cg.post(url(sims, f"/classes/{REQ}"), json={REQ: [{**NEW_REQUEST, "BogusField": 1}]})
    assert created.status_code == 400
    body = created.json()
    assert body["Message"] == "The request is invalid."
    [error] = body["Errors"]
    assert error["FieldName"] == "BogusField"
    assert error["Message"] == "Field BogusField does not exist on class cgRequestsClass."
    assert len(error["GUID"]) == 36

    listed = cg.get(url(sims, f"/classes/{REQ}"), params={"fields": "IDField,BogusField"})
    assert listed.status_code == 400
    assert listed.json()["Errors"][0]["FieldName"] == "BogusField"
    assert cg.get(url(sims, "/classes/NoSuchClass")).status_code == 404


def test_fields_projection_keeps_oid(sims, cg):
    create_request(sims, cg)
    rows = cg.get(url(sims, f"/classes/{REQ}"), params={"fields": "IDField,StatusField"})
    assert all(set(row) == {"Oid", "IDField", "StatusField"} for row in rows.json()[REQ])


def test_filter_and_sort(sims, cg):
    mine = create_request(sims, cg, SeeClickFixIDField="42")
    found = cg.get(
        url(sims, f"/classes/{REQ}"), params={"filter": '([SeeClickFixID] is equal to "42")'}
    ).json()
    assert [r["Oid"] for r in found[REQ]] == [mine["Oid"]]
    open_ones = cg.get(
        url(sims, f"/classes/{REQ}"),
        params={"filter": '[Status] is not equal to "Closed"', "sort": "IDField:dsc"},
    ).json()[REQ]
    ids = [r["IDField"] for r in open_ones]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4
    # Two keys, the documented way: `IDField:asc,OtherField:dsc`.
    two = cg.get(
        url(sims, f"/classes/{REQ}"), params={"sort": "StatusField:asc,IDField:dsc"}
    ).json()[REQ]
    assert [r["IDField"] for r in two] == ids  # every one Open: IDField decides
    # `desc` is not the documented spelling: refused, so no client relies on it.
    refused = cg.get(url(sims, f"/classes/{REQ}"), params={"sort": "IDField:desc"})
    assert refused.status_code == 400
    assert "asc or dsc" in refused.json()["Errors"][0]["Message"]
    malformed = cg.get(url(sims, f"/classes/{REQ}"), params={"filter": "[Status] = "})
    assert malformed.status_code == 400
    assert "expected a value" in malformed.json()["Errors"][0]["Message"]
    unknown = cg.get(url(sims, f"/classes/{REQ}"), params={"filter": "[Bogus] = 1"})
    assert unknown.json()["Errors"][0]["FieldName"] == "Bogus"
    assert cg.get(url(sims, f"/classes/{REQ}"), params={"sort": "Nope:asc"}).status_code == 400


def test_limit_offset_paging(sims, cg):
    for n in range(5):
        create_request(sims, cg, DescriptionField=f"r{n}")
    seen, offset = [], 0
    while True:
        body = cg.get(url(sims, f"/classes/{REQ}"), params={"limit": 3, "offset": offset}).json()
        assert body["_metadata"] == {"totalCount": 8, "offset": offset, "limit": 3}
        seen += [r["Oid"] for r in body[REQ]]
        offset += 3
        if offset >= body["_metadata"]["totalCount"]:
            break
    assert seen == sorted(seen) and len(set(seen)) == 8  # 3 seeded + 5 created
    assert cg.get(url(sims, f"/classes/{REQ}"), params={"limit": "x"}).status_code == 400
    default = cg.get(url(sims, f"/classes/{REQ}")).json()["_metadata"]
    assert default["limit"] == 1000


def test_attachments_are_child_records(sims, cg):
    oid = create_request(sims, cg)["Oid"]
    child = "cgRequests_cgAttachmentsClass"  # documented: {parent without Class}_{child}Class
    created = cg.post(
        url(sims, f"/classes/{REQ}/{oid}/{child}"),
        json={
            child: [
                {"AttachmentField": "https://img.example/1.jpg", "LinkedField": True},
            ]
        },
    )
    assert created.status_code == 200
    listed = cg.get(url(sims, f"/classes/{REQ}/{oid}/{child}")).json()[child]
    assert [a["AttachmentField"] for a in listed] == ["https://img.example/1.jpg"]
    other = create_request(sims, cg)["Oid"]
    assert cg.get(url(sims, f"/classes/{REQ}/{other}/{child}")).json()[child] == []
    assert cg.get(url(sims, f"/classes/{REQ}/{oid}/cgBogusClass")).status_code == 404
    cg.delete(url(sims, f"/classes/{REQ}/{oid}"))
    assert cg.get(url(sims, f"/classes/{child}")).json()[child] == []


def test_comments_are_a_child_class_named_and_read_as_documented(sims, cg):
    oid = create_request(sims, cg)["Oid"]
    child = "cgRequests_cgCommentsClass"
    path = url(sims, f"/classes/{REQ}/{oid}/{child}")
    created = cg.post(path, json={child: [{"CommentField": "On it.", "PublicField": True}]})
    assert created.status_code == 200, created.text
    listed = cg.get(path, params={"fields": "CommentField,PublicField"}).json()[child]
    assert [(c["CommentField"], c["PublicField"]) for c in listed] == [("On it.", True)]
    # Queried on its own by its parent (comment_query: batch): also answered.
    batch = cg.get(url(sims, f"/classes/{child}"), params={"filter": f"[ParentOid] in ({oid})"})
    assert [c["CommentField"] for c in batch.json()[child]] == ["On it."]
    # The undocumented spelling is no class at all.
    wrong = cg.get(url(sims, f"/classes/{REQ}/{oid}/cgRequestsClass_cgCommentsClass"))
    assert wrong.status_code == 404


def test_seeded_categories_and_requesters(sims, cg):
    issues = cg.get(url(sims, "/classes/cgRequestIssuesClass")).json()["cgRequestIssuesClass"]
    by_name = {i["IssueField"]: i for i in issues}
    assert set(by_name) == {
        "Pothole",
        "Streetlight Out",
        "Graffiti",
        "Sidewalk Damage",
        "Missed Trash Pickup",
        "Tree Down",
    }
    assert by_name["Missed Trash Pickup"]["InactiveField"] is True
    assert by_name["Tree Down"]["InternalRequestCategoryField"] is True
    requesters = cg.get(
        url(sims, "/classes/cgRequestersClass"),
        params={"filter": '[Email] = "maria.gonzalez@example.com"'},
    ).json()
    assert requesters["cgRequestersClass"][0]["FirstNameField"] == "Maria"


def test_auto_progress_tasks_then_closes(sims, cg):
    control = f"{sims.cartegraph.url}/_sim/auto_progress"
    requests.post(
        control, json={"enabled": True, "task_after": 0.2, "close_after": 0.5, "stagger": 0}
    )
    oid = create_request(sims, cg)["Oid"]
    staff_entered = sims.cartegraph_state.query(REQ)[0]

    def record() -> dict:
        return cg.get(url(sims, f"/classes/{REQ}/{oid}")).json()[REQ][0]

    assert record()["TasksField"] == 0
    deadline = time.monotonic() + 3
    while record()["TasksField"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    tasked = record()
    assert tasked["TasksField"] == 1 and tasked["StatusField"] == "Open"
    while record()["StatusField"] != "Closed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert record()["StatusField"] == "Closed"
    # Requests entered by staff are not moved by the pretend crews.
    assert sims.cartegraph_state.get(REQ, staff_entered["Oid"])["StatusField"] == "Open"


def test_staff_patch_control_endpoint(sims, cg):
    oid = create_request(sims, cg)["Oid"]
    patched = requests.post(
        f"{sims.cartegraph.url}/_sim/records/{REQ}/{oid}",
        json={"StatusField": "Closed", "TasksField": 2},
    )
    assert patched.json()["StatusField"] == "Closed"
    assert cg.get(url(sims, f"/classes/{REQ}/{oid}")).json()[REQ][0]["TasksField"] == 2
    staff = requests.post(
        f"{sims.cartegraph.url}/_sim/records/{REQ}", json={"IssueField": "Tree Down"}
    )
    assert staff.status_code == 201 and staff.json()["IDField"].startswith("REQ-")
