"""Categories: the unmapped and private-not-internal ones first; the mapping
and flags edited, validated like a file's category, marked and audited."""

from __future__ import annotations

import re

from webapp.extensions import db
from webapp.models import AuditEntry, Category, ConsoleEdit, RequestType


def add_categories(app) -> dict[str, int]:
    with app.app_context():
        found = [
            Category(integration_id=1, remote_id="Graffiti", name="Graffiti"),
            Category(integration_id=1, remote_id="Sidewalk", private=True, crm_request_type_id=130),
        ]
        db.session.add_all(found)
        db.session.add(RequestType(id=124, title="Graffiti removal"))
        db.session.commit()
        return {c.remote_id: c.id for c in db.session.execute(db.select(Category)).scalars()}


def test_the_ones_needing_a_look_come_first(app, admin_client):
    ids = add_categories(app)
    html = admin_client.get("/admin/categories/").text
    order = [int(i) for i in re.findall(r'data-testid="category-row-(\d+)"', html)]
    assert order[:2] == [ids["Graffiti"], ids["Sidewalk"]]  # unmapped, then private-not-internal
    assert set(order[2:]) == {ids["Pothole"], ids["Streetlight Out"]}
    assert "<strong>2</strong> need a look" in html
    assert "private, not internal" in html


def test_mapping_a_category(app, admin_client, admin_id):
    ids = add_categories(app)
    response = admin_client.post(
        f"/admin/categories/{ids['Graffiti']}/",
        data={"crm_request_type_id": "124", "internal": "y", "protected": "y"},
    )
    assert response.status_code == 302
    with app.app_context():
        graffiti = db.session.get(Category, ids["Graffiti"])
        assert (graffiti.crm_request_type_id, graffiti.internal, graffiti.private) == (
            124,
            True,
            False,
        )
        assert graffiti.protected and graffiti.configured  # part of the configuration now
        [entry] = db.session.execute(db.select(AuditEntry)).scalars().all()
        assert (entry.user_id, entry.action) == (admin_id, "category.update")
        assert entry.target == f"category {ids['Graffiti']} (public-works/Graffiti)"
        assert entry.after == {"crm_request_type_id": 124, "internal": True, "protected": True}
        keys = set(db.session.execute(db.select(ConsoleEdit.field)).scalars())
        assert keys == {"crm_request_type_id", "internal", "protected"}
    html = admin_client.get("/admin/categories/").text
    assert "124 · Graffiti removal" in html


def test_a_bad_request_type_is_refused(app, admin_client):
    ids = add_categories(app)
    for value, message in (
        ("abc", "is not a request type id"),
        ("0", "greater than 0"),
        ("122", "CRM request type 122 is already mapped by public-works/Pothole"),
    ):
        response = admin_client.post(
            f"/admin/categories/{ids['Graffiti']}/", data={"crm_request_type_id": value}
        )
        assert response.status_code == 400
        assert message in response.text
    with app.app_context():
        assert db.session.get(Category, ids["Graffiti"]).crm_request_type_id is None
        assert db.session.execute(db.select(db.func.count(AuditEntry.id))).scalar() == 0


def test_the_edit_page_offers_the_known_request_types(app, admin_client):
    ids = add_categories(app)
    html = admin_client.get(f"/admin/categories/{ids['Graffiti']}/").text
    assert '<option value="124">Graffiti removal</option>' in html
