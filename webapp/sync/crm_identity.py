"""Who Crosswalk is in the CRM: the user its token belongs to.

Crosswalk's own comments (acknowledgments, closing messages, imported remote
comments, rule messages) come back on the next CRM poll and must never be
mirrored to the remote system. A display name is a poor identity: an admin
may rename the integration user in SeeClickFix at any time, and every
comment it wrote would then look like a resident's. The commenter's ``id``
does not change, and the CRM tells it in the reply to each of Crosswalk's own
writes (``{"moderated":false,"comment":..,"commenter":{"id":..,"name":..},..}``),
so ``remember`` stores it on the agency and ``CrmIdentity.wrote`` prefers it.
The configured ``integration_user`` name is the fallback while the id is not
known (no write answered yet, or a comment without a commenter id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integrations.seeclickfix import CrmComment
from integrations.seeclickfix.issues import MAX_ID

from ..models import Agency
from . import events, vendors


@dataclass(frozen=True)
class CrmIdentity:
    commenter_id: int | None
    name: str | None

    def wrote(self, comment: CrmComment) -> bool:
        """Whether Crosswalk wrote ``comment``: by commenter id when both sides
        know one (a renamed integration user is still us; someone else
        showing our name is not), else by the configured display name."""
        if self.commenter_id is not None and comment.author_id is not None:
            return comment.author_id == self.commenter_id
        return self.name is not None and comment.author == self.name


def current() -> CrmIdentity:
    """Crosswalk's identity as the loaded agency records it."""
    agency = vendors.find_agency()
    if agency is None:
        return CrmIdentity(None, None)
    return CrmIdentity(agency.crm_commenter_id, agency.integration_user)


def remember(reply: Any, agency: Agency | None = None) -> None:
    """Note Crosswalk's commenter id from the reply to one of its own CRM writes
    (acknowledge, close, open, add comment).

    Written once, and again only when it changes (the agency moved to another
    token's user: a warning says so). The change joins the caller's
    transaction, so it is stored with the leg it answered; a reply held for
    moderation (``{"metadata":{"moderated":true}}``) or without a usable
    ``commenter.id`` changes nothing. ``agency``: the agency row, when the
    caller has it already.
    """
    commenter_id = commenter_id_of(reply)
    if commenter_id is None:
        return
    agency = agency or vendors.find_agency()
    if agency is None or agency.crm_commenter_id == commenter_id:
        return
    previous = agency.crm_commenter_id
    agency.crm_commenter_id = commenter_id
    name = reply["commenter"].get("name")
    shown = f"{commenter_id} ({name})" if isinstance(name, str) else str(commenter_id)
    if previous is None:
        events.record("crm_identity", f"Crosswalk writes to the CRM as user {shown}")
    else:
        events.record(
            "crm_identity",
            f"Crosswalk now writes to the CRM as user {shown}, no longer as user {previous}: "
            "comments by the earlier user are no longer recognised as Crosswalk's",
            level="warning",
        )


def commenter_id_of(reply: Any) -> int | None:
    """``commenter.id`` of a write's reply, when it is an id the database can hold."""
    commenter = reply.get("commenter") if isinstance(reply, dict) else None
    value = commenter.get("id") if isinstance(commenter, dict) else None
    if isinstance(value, str) and value.isdecimal():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        return None
    return value
