"""The admin page: users and cohorts listed, roles changed with a form, the last admin kept."""

import re


def test_an_admin_sees_users_and_changes_a_role(people):
    admin, learner = people.admin(), people.learner("Promote Me")
    html = admin.get("/admin").text
    assert "Promote Me" in html and f'action="/admin/users/{learner.user["id"]}/role"' in html
    response = admin.post(f"/admin/users/{learner.user['id']}/role", data={"role": "instructor"},
                          follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin?notice=role"
    assert learner.get("/api/auth/me").json()["role"] == "instructor"
    assert learner.get("/cohorts").status_code == 200


def test_the_last_admin_cannot_be_demoted_and_the_page_says_why(app, people):
    from app.accounts import list_users, set_role

    admin = people.admin()
    for other in list_users(app.state.sessions):
        if other.role == "admin" and other.id != admin.user["id"]:
            set_role(app.state.sessions, other.id, "learner")
    page = admin.post(f"/admin/users/{admin.user['id']}/role", data={"role": "learner"})
    assert page.status_code == 409 and "only admin" in page.text
    assert re.search(r'<option value="admin" selected>', page.text)


def test_an_unknown_role_is_refused_naming_the_field(people):
    admin, learner = people.admin(), people.learner()
    page = admin.post(f"/admin/users/{learner.user['id']}/role", data={"role": "wizard"})
    assert page.status_code == 422 and "role: &#39;wizard&#39; is not a role" in page.text


def test_only_admins_reach_the_admin_page(people, client):
    assert people.instructor().get("/admin").status_code == 403
    assert client.get("/admin", follow_redirects=False).status_code == 303
