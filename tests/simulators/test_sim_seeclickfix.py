"""SeeClickFix simulator: paging, filters, transitions, comments, creation, auth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from simulators.launch import RunningSimulators

ORG = 1234


def issues_url(sims: RunningSimulators) -> str:
    return f"{sims.scf_base_url}/organizations/{ORG}/issues"


def first_issue_id(sims: RunningSimulators) -> int:
    return min(sims.seeclickfix_state.issues)


def test_paging_envelope_walks_every_issue_once(sims, scf):
    params = {"per_page": 7, "sort": "updated_at", "sort_direction": "ASC"}
    body = scf.get(issues_url(sims), params=params).json()
    pagination = body["metadata"]["pagination"]
    assert body["errors"] is None
    assert pagination == {
        "page": 1,
        "pages": 5,
        "per_page": 7,
        "next_page": 2,
        "next_page_url": pagination["next_page_url"],
        "previous_page": None,
    }
    seen = [i["id"] for i in body["issues"]]
    while pagination["next_page_url"]:
        body = scf.get(pagination["next_page_url"]).json()
        pagination = body["metadata"]["pagination"]
        seen += [i["id"] for i in body["issues"]]
    assert pagination["page"] == 5 and pagination["previous_page"] == 4
    assert len(seen) == len(set(seen)) == 30


def test_per_page_is_clamped(sims, scf):
    big = scf.get(issues_url(sims), params={"per_page": 500}).json()
    assert big["metadata"]["pagination"]["per_page"] == 100
    detailed = scf.get(issues_url(sims), params={"per_page": 50, "details": "true"}).json()
    assert detailed["metadata"]["pagination"]["per_page"] == 20
    assert "comments" in detailed["issues"][0]


def test_updated_at_after_returns_updates_at_or_after_it(sims, scf):
    params = {"per_page": 100, "sort": "updated_at", "sort_direction": "ASC"}
    issues = scf.get(issues_url(sims), params=params).json()["issues"]
    stamps = [datetime.fromisoformat(i["updated_at"]) for i in issues]
    assert stamps == sorted(stamps)
    cutoff = issues[9]["updated_at"]
    newer = scf.get(issues_url(sims), params={**params, "updated_at_after": cutoff}).json()
    # Inclusive, as documented: the issue updated at the cutoff is listed too.
    assert [i["id"] for i in newer["issues"]] == [i["id"] for i in issues[9:]]

    # A new comment on an old issue bumps it past the cutoff.
    oldest = issues[0]["id"]
    scf.post(f"{sims.scf_base_url}/issues/{oldest}/comments", json={"comment": "On it."})
    again = scf.get(issues_url(sims), params={**params, "updated_at_after": cutoff}).json()
    assert again["issues"][-1]["id"] == oldest


def test_same_second_updates_page_stably(sims, scf):
    ids = sorted(sims.seeclickfix_state.issues)[:5]
    for issue_id in ids:  # all within one or two seconds
        scf.post(f"{sims.scf_base_url}/issues/{issue_id}/acknowledge", json={"comment": "Ack"})
    params = {"per_page": 1, "sort": "updated_at", "sort_direction": "ASC"}
    seen = []
    for page in range(1, 31):
        seen += [
            i["id"]
            for i in scf.get(issues_url(sims), params={**params, "page": page}).json()["issues"]
        ]
    assert len(seen) == len(set(seen)) == 30
    assert seen[-5:] == ids


def test_updated_at_after_takes_utc_with_z(sims, scf):
    params = {"per_page": 100, "sort": "updated_at", "sort_direction": "ASC"}
    issues = scf.get(issues_url(sims), params=params).json()["issues"]
    local = datetime.fromisoformat(issues[20]["updated_at"])  # the organization's offset
    assert local.utcoffset()
    in_utc = local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    reply = scf.get(issues_url(sims), params={**params, "updated_at_after": in_utc})

    assert reply.status_code == 200
    assert [i["id"] for i in reply.json()["issues"]] == [i["id"] for i in issues[20:]]


def test_updated_at_ascending_breaks_ties_on_id_ascending(sims, scf):
    state = sims.seeclickfix_state
    ids = sorted(state.issues)
    shared = state.issues[ids[0]].updated_at + timedelta(days=1)
    for issue_id in (ids[3], ids[1], ids[2]):  # one second for three issues
        state.issues[issue_id].updated_at = shared
    params = {"per_page": 100, "sort": "updated_at", "sort_direction": "ASC"}

    listed = [i["id"] for i in scf.get(issues_url(sims), params=params).json()["issues"]]

    assert listed[-3:] == [ids[1], ids[2], ids[3]]


def test_listed_issues_can_be_updated_right_after_they_are_served(sims, scf):
    """The ``/_sim/`` control for a CRM that changes while a client pages:
    each listed issue is updated once, after the reply, to a later time."""
    control = f"{sims.seeclickfix.url}/_sim/update_listed_issues"
    assert requests.post(control, json={"enabled": True}).json() == {"enabled": True}
    state = sims.seeclickfix_state
    params = {"per_page": 3, "sort": "updated_at", "sort_direction": "ASC"}
    before = max(i.updated_at for i in state.issues.values())

    first = [i["id"] for i in scf.get(issues_url(sims), params=params).json()["issues"]]

    # The reply showed them as read; then they moved to the end, together.
    [moved_to] = {state.issues[i].updated_at for i in first}
    assert moved_to > before
    last = scf.get(issues_url(sims), params={**params, "page": 10}).json()["issues"]
    assert [i["id"] for i in last] == first
    assert {state.issues[i].updated_at for i in first} == {moved_to}  # once each
    again = [i["id"] for i in scf.get(issues_url(sims), params=params).json()["issues"]]
    assert not set(again) & set(first)
    sims.reset()
    assert state.update_listed_issues is False


def test_status_request_type_and_org_filters(sims, scf):
    issue_id = first_issue_id(sims)
    scf.post(f"{sims.scf_base_url}/issues/{issue_id}/close", json={"comment": "Fixed"})
    closed = scf.get(issues_url(sims), params={"status": "closed"}).json()["issues"]
    assert [i["id"] for i in closed] == [issue_id]
    sims.seeclickfix_state.archive(issue_id)
    default = scf.get(issues_url(sims), params={"per_page": 100}).json()["issues"]
    assert issue_id not in {i["id"] for i in default}
    potholes = scf.get(issues_url(sims), params={"request_types": "122", "per_page": 100}).json()
    assert {i["request_type"]["id"] for i in potholes["issues"]} == {122}
    assert scf.get(issues_url(sims), params={"status": "bogus"}).status_code == 422
    wrong_org = scf.get(f"{sims.scf_base_url}/organizations/999/issues")
    assert wrong_org.status_code == 404


def test_auth_failures_and_basic_auth(sims):
    url = issues_url(sims)
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = requests.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"errors": {"base": ["Unauthorized"]}}
    assert requests.get(url, auth=("crosswalk", "demo-password")).status_code == 200
    assert requests.get(url, auth=("crosswalk", "nope")).status_code == 401


def test_issue_fields_and_details(sims, scf):
    issue_id = first_issue_id(sims)
    plain = scf.get(f"{sims.scf_base_url}/issues/{issue_id}").json()
    assert plain["status"] == "Open"
    assert plain["media"]["image_full"].endswith(".jpg")
    assert plain["reporter"]["email"] == "maria.gonzalez@example.com"
    assert plain["request_type"]["url"].endswith("/request_types/122")
    assert "comments" not in plain
    detailed = scf.get(f"{sims.scf_base_url}/issues/{issue_id}", params={"details": "true"})
    body = detailed.json()
    # Documented (vendor-apis.md §6): answers without their key, comments without an id.
    assert {"question": "How deep is the pothole?", "answer": "DEEP"} in body["questions"]
    assert all(set(q) == {"question", "answer"} for q in body["questions"])
    [comment] = body["comments"]
    assert set(comment) == {"comment", "commenter", "media", "flag_url", "created_at", "updated_at"}
    assert set(comment["commenter"]) == {"id", "name", "role", "avatar"}
    assert comment["commenter"]["name"] == "Kevin O'Brien"
    assert scf.get(f"{sims.scf_base_url}/issues/1").status_code == 404


def test_acknowledge_close_reopen(sims, scf):
    issue_id = first_issue_id(sims)
    base = f"{sims.scf_base_url}/issues/{issue_id}"
    before = scf.get(base).json()

    ack = scf.post(f"{base}/acknowledge", json={"comment": "Sent to Public Works."})
    assert ack.status_code == 201
    assert ack.json() == {
        "moderated": False,
        "comment": "Sent to Public Works.",
        "commenter": {
            "id": 700_001,  # the token's user, the same on every reply
            "name": "City of New Haven",
            "role": "Verified Official",
            "avatar": ack.json()["commenter"]["avatar"],
        },
        "issue": {"status": "Acknowledged"},
        "media": {  # documented: no photo is a null image and the placeholder
            "image_full": None,
            "image_square_100x100": None,
            "video_url": None,
            "representative_image_url": "http://seeclickfix.com/files/default_image.png",
        },
    }
    issue = scf.get(base).json()
    assert issue["acknowledged_at"] is not None
    assert datetime.fromisoformat(issue["updated_at"]) > datetime.fromisoformat(
        before["updated_at"]
    )

    close = scf.post(f"{base}/close", data={"comment": "Repaired."})  # form-encoded
    assert close.json()["issue"] == {"status": "Closed"}
    refused = scf.post(f"{base}/acknowledge", json={"comment": "again"})
    assert refused.status_code == 422

    reopened = scf.post(f"{base}/open", json={"comment": "Reopening."})
    assert reopened.json()["issue"] == {"status": "Open"}
    assert scf.get(base).json()["reopened_at"] is not None
    comments = scf.get(f"{base}/comments").json()["comments"]
    assert [c["comment"] for c in comments][-3:] == [
        "Sent to Public Works.",
        "Repaired.",
        "Reopening.",
    ]


def test_transition_and_comment_require_text(sims, scf):
    base = f"{sims.scf_base_url}/issues/{first_issue_id(sims)}"
    for path in ("/close", "/acknowledge", "/comments"):
        response = scf.post(base + path, json={})
        assert response.status_code == 422
        assert response.json() == {"errors": {"comment": ["can't be blank"]}}
    bad_json = scf.post(base + "/close", data="{oops", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert bad_json.json() == {"request": "Unable to parse JSON"}


def test_comments_in_creation_order(sims, scf):
    base = f"{sims.scf_base_url}/issues/{first_issue_id(sims)}"
    created = [scf.post(f"{base}/comments", json={"comment": f"note {n}"}) for n in range(3)]
    assert all(r.status_code == 201 for r in created)
    reply = created[0].json()
    assert reply["moderated"] is False and "id" not in reply  # documented: no id
    assert reply["commenter"]["role"] == "Verified Official"
    listed = scf.get(f"{base}/comments").json()["comments"]
    assert [c["comment"] for c in listed[-3:]] == ["note 0", "note 1", "note 2"]
    assert all("id" not in c for c in listed)


def test_create_issue(sims, scf):
    body = {
        "lat": 41.30736,
        "lng": -72.92486,
        "address": "165 Church St",
        "request_type_id": 122,
        "answers": {"142": "SHALLOW", "summary": "Pothole", "description": "From Cartegraph"},
    }
    created = scf.post(f"{sims.scf_base_url}/issues", json=body)
    assert created.status_code == 201
    fetched = scf.get(created.headers["Location"]).json()
    assert fetched == created.json()
    assert fetched["description"] == "From Cartegraph"

    outside = scf.post(f"{sims.scf_base_url}/issues", json={**body, "lat": 40.0})
    assert outside.status_code == 422
    assert "not within boundary" in outside.json()["errors"]["point"][0]
    missing = scf.post(f"{sims.scf_base_url}/issues", json={**body, "answers": {}})
    assert missing.status_code == 422
    bad = scf.post(
        f"{sims.scf_base_url}/issues", data="not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400


def test_request_type_questions(sims, scf):
    body = scf.get(f"{sims.scf_base_url}/request_types/122").json()
    assert body["title"] == "Pothole"
    first_name = next(q for q in body["questions"] if q["primary_key"] == "143")
    assert first_name["answer_kept_private"] is True
    assert "integration_key" not in first_name  # not part of the documented format
    depth = next(q for q in body["questions"] if q["primary_key"] == "142")
    assert {v["key"] for v in depth["select_values"]} == {"SHALLOW", "DEEP"}


def test_resident_control_endpoints(sims, scf):
    control = f"{sims.seeclickfix.url}/_sim/issues"
    issue = requests.post(
        control,
        json={
            "lat": 41.3133,
            "lng": -72.9196,
            "request_type_id": 124,
            "summary": "Graffiti",
            "description": "Tag on wall",
            "reporter": {"name": "Ann Lee", "email": "ann@example.com"},
            "answers": {"160": "NO"},
            "image_url": "https://img.example/1.jpg",
        },
    ).json()
    assert issue["questions"] == [{"question": "Is the graffiti offensive?", "answer": "NO"}]
    comment = requests.post(
        f"{control}/{issue['id']}/comments",
        json={"comment": "Still there", "commenter": {"name": "Bo"}},
    )
    assert comment.status_code == 201
    scf.post(f"{sims.scf_base_url}/issues/{issue['id']}/close", json={"comment": "Cleaned"})
    reopened = requests.post(f"{control}/{issue['id']}/reopen").json()
    assert reopened["status"] == "Open" and reopened["reopened_at"]


# -- the documented shapes (vendor-apis.md §6) ----------------------------------------
PLACEHOLDER = "http://seeclickfix.com/files/default_image.png"
NEW_ISSUE = {
    "lat": 41.30736,
    "lng": -72.92486,
    "address": "165 Church St",
    "request_type_id": 123,
    "answers": {"summary": "Streetlight out", "description": "From the back office"},
}


def photo_less_issue_id(sims: RunningSimulators) -> int:
    return min(i.id for i in sims.seeclickfix_state.issues.values() if not i.image_url)


def test_a_photo_less_issue_shows_the_placeholder_and_a_null_image(sims, scf):
    media = scf.get(f"{sims.scf_base_url}/issues/{photo_less_issue_id(sims)}").json()["media"]
    assert media["image_full"] is None
    assert media["representative_image_url"] == PLACEHOLDER


def test_creating_an_issue_requires_an_address(sims, scf):
    missing = scf.post(f"{sims.scf_base_url}/issues", json={**NEW_ISSUE, "address": " "})
    assert missing.status_code == 422
    assert missing.json() == {"errors": {"address": ["Address can't be blank"]}}
    no_answers = {k: v for k, v in NEW_ISSUE.items() if k != "answers"}
    assert scf.post(f"{sims.scf_base_url}/issues", json=no_answers).status_code == 422


def test_creates_held_for_moderation_answer_202_and_appear_when_approved(sims, scf):
    control = f"{sims.seeclickfix.url}/_sim/moderation"
    assert requests.post(control, json={"count": 1}).json()["pending"] == 1
    before = set(sims.seeclickfix_state.issues)

    held = scf.post(f"{sims.scf_base_url}/issues", json=NEW_ISSUE)
    created = scf.post(f"{sims.scf_base_url}/issues", json=NEW_ISSUE)  # only the next N

    assert (held.status_code, held.json()) == (202, {"metadata": {"moderated": True}})
    assert "Location" not in held.headers and created.status_code == 201
    [held_id] = set(sims.seeclickfix_state.issues) - before - {created.json()["id"]}
    listed = scf.get(issues_url(sims), params={"per_page": 100}).json()["issues"]
    assert held_id not in {i["id"] for i in listed}
    assert scf.get(f"{issues_url(sims)}/{held_id}").status_code == 404

    assert requests.post(control, json={"approve": True}).json()["approved"] == [held_id]
    listed = scf.get(issues_url(sims), params={"per_page": 100}).json()["issues"]
    assert held_id in {i["id"] for i in listed}


def test_private_issues_show_only_through_the_organization_api(sims, scf):
    state = sims.seeclickfix_state
    private = next(i for i in state.issues.values() if i.private_visibility)
    public_api = f"{sims.scf_base_url}/issues/{private.id}"
    assert scf.get(public_api).status_code == 404
    assert scf.get(f"{public_api}/comments").status_code == 404
    scoped = scf.get(f"{issues_url(sims)}/{private.id}", params={"details": "true"})
    assert scoped.status_code == 200 and scoped.json()["private_visibility"] is True
    assert "comments" in scoped.json()
    other_org = f"{sims.scf_base_url}/organizations/999/issues/{private.id}"
    assert scf.get(other_org).status_code == 404


def test_a_comment_can_carry_an_image_which_is_kept_and_served(sims, scf):
    base = f"{sims.scf_base_url}/issues/{first_issue_id(sims)}"
    upload = {"image": ("crew photo.jpg", b"\xff\xd8jpeg-bytes", "image/jpeg")}

    reply = scf.post(f"{base}/comments", data={"comment": "Patched."}, files=upload)

    assert reply.status_code == 201
    url = reply.json()["media"]["image_full"]
    assert url.startswith(sims.seeclickfix.url) and url.endswith("crew_photo.jpg")
    served = requests.get(url)
    assert (served.content, served.headers["Content-Type"]) == (b"\xff\xd8jpeg-bytes", "image/jpeg")
    listed = scf.get(f"{base}/comments").json()["comments"]
    assert listed[-1]["media"]["image_full"] == url
    not_an_image = {"image": ("notes.txt", b"hello", "text/plain")}
    refused = scf.post(f"{base}/comments", data={"comment": "x"}, files=not_an_image)
    assert refused.status_code == 422


def test_a_renamed_official_keeps_its_id_on_every_comment(sims, scf):
    base = f"{sims.scf_base_url}/issues/{first_issue_id(sims)}"
    before = scf.post(f"{base}/comments", json={"comment": "Before."}).json()["commenter"]
    control = f"{sims.seeclickfix.url}/_sim/official"

    renamed = requests.post(control, json={"name": "New Haven Public Works"}).json()

    after = scf.post(f"{base}/comments", json={"comment": "After."}).json()["commenter"]
    assert renamed["id"] == before["id"] == after["id"]
    assert after["name"] == "New Haven Public Works"
    shown = scf.get(f"{base}/comments").json()["comments"][-2:]
    assert {c["commenter"]["name"] for c in shown} == {"New Haven Public Works"}
    sims.reset()
    assert sims.seeclickfix_state.official.name == "City of New Haven"


def test_fields_beyond_the_documents_are_served_only_on_request(sims, scf):
    url = f"{sims.scf_base_url}/issues/{first_issue_id(sims)}"
    control = f"{sims.seeclickfix.url}/_sim/extra_fields"
    requests.post(control, json={"fields": ["comment_ids", "question_keys"]})

    body = scf.get(url, params={"details": "true"}).json()

    assert isinstance(body["comments"][0]["id"], int)
    assert body["questions"][0]["primary_key"] == "142"
    assert requests.post(control, json={"fields": ["bogus"]}).status_code == 422


def test_a_renamed_question_keeps_the_text_answered_under(sims, scf):
    issue_id = first_issue_id(sims)
    control = f"{sims.seeclickfix.url}/_sim/request_types/122/questions/142"

    changed = requests.post(control, json={"question": "Depth of the pothole"}).json()

    assert changed["questions"][0]["question"] == "Depth of the pothole"
    body = scf.get(f"{issues_url(sims)}/{issue_id}", params={"details": "true"}).json()
    assert {"question": "How deep is the pothole?", "answer": "DEEP"} in body["questions"]
    removed = requests.post(control, json={"question": None}).json()
    assert "142" not in {q["primary_key"] for q in removed["questions"]}
