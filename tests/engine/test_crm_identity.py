"""Who Crosswalk is in the CRM: the commenter id learnt from the replies to its
own writes, preferred to the display name when its comments come back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.seeclickfix import CrmComment
from tests.support import events_of_kind
from webapp.extensions import db
from webapp.models import Agency
from webapp.sync import crm_identity


def agency() -> Agency:
    db.session.expire_all()
    return db.session.execute(db.select(Agency)).scalar_one()


def comment(author: str | None, author_id: int | None) -> CrmComment:
    when = datetime(2026, 11, 30, 13, 1, tzinfo=UTC)
    return CrmComment(None, "text", author, None, when, None, author_id, "h0")


def test_the_reply_to_a_write_tells_crosswalk_its_commenter_id(app, crm):
    issue_id = crm.add_issue()
    reply = crm.acknowledge(issue_id, "On it.")

    crm_identity.remember(reply)
    db.session.commit()  # the caller's commit stores it with the leg

    assert agency().crm_commenter_id == crm.OFFICIAL_ID
    [event] = events_of_kind("crm_identity")
    assert (
        event.detail == f"Crosswalk writes to the CRM as user {crm.OFFICIAL_ID} (City of New Haven)"
    )


def test_the_id_is_written_once_and_again_only_when_it_changes(app, crm):
    reply = crm.add_comment(crm.add_issue(), "Noted.")
    crm_identity.remember(reply)
    crm_identity.remember(reply)
    db.session.commit()
    assert len(events_of_kind("crm_identity")) == 1

    crm_identity.remember({**reply, "commenter": {"id": 700_002, "name": "New token"}})
    db.session.commit()

    assert agency().crm_commenter_id == 700_002
    changed = events_of_kind("crm_identity")[-1]
    assert changed.level == "warning" and "no longer as user 700001" in changed.detail


@pytest.mark.parametrize(
    "reply",
    [
        {"metadata": {"moderated": True}},  # held for moderation: no commenter
        {"moderated": False, "comment": "x"},
        {"commenter": {"id": None}},
        {"commenter": {"id": "abc"}},
        {"commenter": {"id": True}},
        {"commenter": {"id": 2**31}},
        {"commenter": "Crosswalk"},
        None,
        [],
    ],
)
def test_a_reply_without_a_usable_commenter_id_changes_nothing(app, reply):
    crm_identity.remember(reply)
    db.session.commit()
    assert agency().crm_commenter_id is None
    assert events_of_kind("crm_identity") == []


def test_a_commenter_id_sent_as_text_is_taken():
    assert crm_identity.commenter_id_of({"commenter": {"id": "700001"}}) == 700_001


def test_our_comments_are_known_by_id_when_both_sides_have_one():
    ours = crm_identity.CrmIdentity(700_001, "City of New Haven")
    assert ours.wrote(comment("New Haven Public Works", 700_001))  # renamed: still us
    assert not ours.wrote(comment("City of New Haven", 800_001))  # our name, someone else
    assert ours.wrote(comment("City of New Haven", None))  # no id on the comment: by name
    assert not ours.wrote(comment("Ada", None))


def test_before_the_id_is_known_the_display_name_decides():
    ours = crm_identity.CrmIdentity(None, "City of New Haven")
    assert ours.wrote(comment("City of New Haven", 700_001))
    assert not ours.wrote(comment("New Haven Public Works", 700_001))
    assert not crm_identity.CrmIdentity(None, None).wrote(comment(None, None))


def test_the_current_identity_is_the_agencys(app):
    row = agency()
    row.crm_commenter_id = 700_001
    db.session.commit()
    assert crm_identity.current() == crm_identity.CrmIdentity(700_001, "City of New Haven")
