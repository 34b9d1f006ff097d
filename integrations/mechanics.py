"""Mechanics every connector shares, whatever the vendor's wire format.

Vendor packages map fields; the rules that make a sync safe to retry live
here once, so that every vendor gets them the same way:

- every note the hub writes carries a marker (``[#<key>]``), and a note
  whose marker is already on the remote side is not written again: a retry
  after a lost reply never doubles a comment, and the comment import never
  echoes the hub's own notes back to the CRM;
- a create that answers without the new record's id is not a failure: the
  record carries the CRM issue id in its external-id field, so it is found
  (adopted) by that instead of being created a second time;
- a create body drops empty values, lets the category's custom fields
  overlay the mapping, and always ends with the external id, which no custom
  field may replace (retries depend on it);
- remote ids travel as text through the engine but as numbers on the wire
  where they are numeric (Cartegraph ``Oid``, Lucity ``AutoNumber``).

``integrations.base`` re-exports these names; vendor packages import them
from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import PermanentError

if TYPE_CHECKING:  # base re-exports this module, so it may only name base's types
    from .base import NoteOut, RemoteRecord

MARKER_OPEN = "[#"


def note_marker(note: NoteOut) -> str:
    """``[#<key>]``: the note's key, written with the note.

    Comment fields and comment lists give the hub no id of its own to look
    for, so the marker is how a retry recognises a note it already wrote."""
    return f"{MARKER_OPEN}{note.key}]"


def with_marker(text: str, note: NoteOut) -> str:
    """The text as written remotely: the note's marker appended."""
    return f"{text} {note_marker(note)}"


def has_hub_marker(text: str) -> bool:
    """Whether a remote comment was written by the hub (so it is never imported back)."""
    return MARKER_OPEN in text


def unwritten_notes(notes: Sequence[NoteOut], written: str) -> list[NoteOut]:
    """The notes whose marker is not in ``written`` (the remote side's text), in order.

    A retry after a lost reply sends the same notes again; the ones that
    already arrived are skipped, the rest are written oldest first."""
    return [note for note in notes if note_marker(note) not in written]


def remote_id_value(remote_id: str | int) -> int | str:
    """A remote id as the vendor's wire format holds it: a number when numeric.

    The engine keeps ids as text; filters and update bodies compare them with
    integer columns (``[Oid] in (5)``, ``RQ_ID IN (1001)``), where ``"5"``
    would be a type mismatch."""
    text = str(remote_id)
    return int(text) if text.isdigit() else text


def remote_id_values(remote_ids: Iterable[str | int]) -> list[int | str]:
    """:func:`remote_id_value` of each id, in order."""
    return [remote_id_value(i) for i in remote_ids]


def create_payload(
    mapped: Mapping[str, Any],
    custom_fields: Mapping[str, Any],
    *,
    external_id_field: str,
    crm_issue_id: int,
) -> dict[str, Any]:
    """The body of a create: ``mapped`` without empty values, the category's
    custom fields over it, and the external id last.

    Empty values are left out so the vendor applies its own defaults instead
    of storing blanks. Custom fields may replace a mapped default (e.g. the
    reported address in a location field); the external id is written last
    because it is how a retry finds the record, so nothing may replace it."""
    body = {name: value for name, value in mapped.items() if value not in (None, "")}
    body.update(custom_fields)
    body[external_id_field] = str(crm_issue_id)
    return body


def create_then_adopt(
    send: Callable[[], RemoteRecord | None],
    find: Callable[[], RemoteRecord | None],
    *,
    failure: str,
    system: str,
) -> RemoteRecord:
    """Create with ``send``; when its reply names no record, adopt the one ``find``
    locates by the external id.

    Vendors do not all document the create reply (Cartegraph) or may answer
    without the new id; the record is there all the same, carrying our
    external id. Only when that lookup finds nothing is the create a
    failure (``failure`` says what was missing)."""
    created = send()
    if created is not None:
        return created
    found = find()
    if found is None:
        raise PermanentError(failure, system=system)
    return found
