"""SeeClickFix's documented shapes (vendor-apis.md §6), as the parser reads
them: comments without an id (keyed by when, who and what), answers without
their key, and the "no photo" placeholder that is never a photo."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.seeclickfix import IssueFormatError, comment_key, is_placeholder, parse_issue
from integrations.seeclickfix.issues import parse_comment

PLACEHOLDER = "http://seeclickfix.com/files/default_image.png"
COMMENT: dict[str, Any] = {  # the documented comment object: no id
    "comment": "Still there this morning",
    "commenter": {"id": 800_123, "name": "Ada Resident", "role": "Registered User", "avatar": {}},
    "media": {"image_full": None, "representative_image_url": PLACEHOLDER},
    "flag_url": "https://seeclickfix.com/api/v2/comments/1/flag",
    "created_at": "2026-11-30T08:01:00-05:00",
    "updated_at": "2026-11-30T08:01:00-05:00",
}


def issue(**changes: Any) -> dict[str, Any]:
    return {
        "id": 77,
        "status": "Open",
        "summary": "Pothole",
        "request_type": {"id": 122, "title": "Pothole"},
        **changes,
    }


# -- comments ----------------------------------------------------------------------
def test_a_documented_comment_without_an_id_is_read_and_keyed_by_a_digest():
    comment = parse_comment(COMMENT)

    assert comment.id is None
    assert (comment.body, comment.author, comment.author_id) == (
        "Still there this morning",
        "Ada Resident",
        800_123,
    )
    assert comment.key.startswith("h") and len(comment.key) == 25
    assert comment.image_url is None  # the placeholder is no photo
    assert parse_comment(dict(COMMENT)).key == comment.key  # the same comment, the same key


def test_a_comment_with_an_id_keeps_its_id_as_its_key():
    # The marker already written on remote records for such comments.
    comment = parse_comment({**COMMENT, "id": 52_000_001})
    assert (comment.id, comment.key) == (52_000_001, "52000001")


def test_the_key_follows_the_instant_the_commenter_and_the_text():
    key = parse_comment(COMMENT).key
    same_instant_in_utc = {**COMMENT, "created_at": "2026-11-30T13:01:00Z"}
    assert parse_comment(same_instant_in_utc).key == key
    renamed = {**COMMENT, "commenter": {**COMMENT["commenter"], "name": "Ada R."}}
    assert parse_comment(renamed).key == key  # the commenter's id, not their display name
    for other in (
        {**COMMENT, "created_at": "2026-11-30T08:02:00-05:00"},
        {**COMMENT, "comment": "Still there this evening"},
        {**COMMENT, "commenter": {**COMMENT["commenter"], "id": 800_124}},
    ):
        assert parse_comment(other).key != key


def test_without_a_commenter_id_the_name_keys_the_comment():
    nameless = {**COMMENT, "commenter": {"name": "Ada Resident"}}
    assert parse_comment(nameless).key == comment_key(
        None, parse_comment(nameless).created_at, None, "Ada Resident", COMMENT["comment"]
    )
    renamed = {**COMMENT, "commenter": {"name": "Ada R."}}
    assert parse_comment(renamed).key != parse_comment(nameless).key


def test_an_issue_with_id_less_comments_is_accepted():
    parsed = parse_issue(issue(comments=[COMMENT, {**COMMENT, "comment": "and again"}]))
    assert [c.body for c in parsed.comments] == ["Still there this morning", "and again"]
    assert len({c.key for c in parsed.comments}) == 2


@pytest.mark.parametrize("bad", ["Ada", 0, 2**31, True, [1]])
def test_a_malformed_commenter_id_is_refused_by_name(bad):
    with pytest.raises(IssueFormatError) as refused:
        parse_issue(issue(comments=[{**COMMENT, "commenter": {"id": bad}}]))
    assert refused.value.field == "comments[0].commenter.id"


# -- answers -------------------------------------------------------------------------
def test_documented_answers_carry_no_key_and_a_sent_key_is_kept():
    parsed = parse_issue(
        issue(
            questions=[
                {"question": "How deep is the pothole?", "answer": "DEEP"},
                {"question": "Your first name", "answer": "Ada", "primary_key": 143},
            ]
        )
    )
    assert [(q.question, q.answer, q.key) for q in parsed.questions] == [
        ("How deep is the pothole?", "DEEP", None),
        ("Your first name", "Ada", "143"),
    ]


# -- media ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "media",
    [
        {"image_full": None, "representative_image_url": PLACEHOLDER},  # documented
        {"image_full": None, "representative_image_url": "https://other.example/real.jpg"},
        {"representative_image_url": "https://seeclickfix.com/files/default_image.png"},
        {"representative_image_url": "//cdn.example/files/default_image.png?v=2"},
        {"image_square_100x100": " http://seeclickfix.com/files/default_image.png "},
        {"image_full": ""},
        {},
    ],
)
def test_a_photo_less_issue_has_no_image(media):
    assert parse_issue(issue(media=media)).image_url is None


@pytest.mark.parametrize(
    "media, expected",
    [
        ({"image_full": "https://cdn.example/1.jpg", "representative_image_url": "x"}, "1.jpg"),
        ({"representative_image_url": "https://cdn.example/2.jpg"}, "2.jpg"),
    ],
)
def test_a_photo_is_kept(media, expected):
    assert parse_issue(issue(media=media)).image_url.endswith(expected)


def test_the_placeholder_is_recognised_on_any_host_and_scheme_only_by_its_path():
    assert is_placeholder("https://seeclickfix.com/files/default_image.png")
    assert is_placeholder("http://test.seeclickfix.com/files/default_image.png")
    assert not is_placeholder("https://seeclickfix.com/files/issue_images/default_image.png.jpg")
    assert not is_placeholder("https://cdn.example/files/photo.png")
