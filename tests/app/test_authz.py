"""The authorization matrix, walked over HTTP on SQLite and PostgreSQL: for each role and each
(resource, action) on own, someone else's and missing objects, the answer is allowed, 401, 403, or 404
(never 403 for someone else's object, so guessed ids reveal nothing).

The expectations are written out here, independently of app.authz.POLICY, so a change to the policy
must be made twice: once in the table, once in this test.
"""

from app.authz import POLICY
from app.models import ROLES

MISSING = 987654

# check → (method, path, json body) with {placeholders}; then the status per actor.
CHECKS = {
    "create a cohort": ("POST", "/api/cohorts", {"name": "New"}),
    "list cohorts": ("GET", "/api/cohorts", None),
    "read own cohort's dashboard": ("GET", "/api/cohorts/{c1}/dashboard", None),
    "read another cohort's dashboard": ("GET", "/api/cohorts/{c2}/dashboard", None),
    "read a missing cohort's dashboard": ("GET", f"/api/cohorts/{MISSING}/dashboard", None),
    "export own cohort": ("GET", "/api/cohorts/{c1}/export.csv", None),
    "export another cohort": ("GET", "/api/cohorts/{c2}/export.csv", None),
    "rotate own cohort's code": ("POST", "/api/cohorts/{c1}/code", None),
    "rotate another cohort's code": ("POST", "/api/cohorts/{c2}/code", None),
    "rotate a missing cohort's code": ("POST", f"/api/cohorts/{MISSING}/code", None),
    "remove a learner from another cohort": ("DELETE", "/api/cohorts/{c2}/members/{l2}", None),
    "read progress of a learner in own cohort": ("GET", "/api/users/{l1}/progress", None),
    "read progress of another cohort's learner": ("GET", "/api/users/{l2}/progress", None),
    "read progress of a learner in no cohort": ("GET", "/api/users/{l3}/progress", None),
    "read progress of a missing user": ("GET", f"/api/users/{MISSING}/progress", None),
    "read own progress by id": ("GET", "/api/users/{me}/progress", None),
    "list users": ("GET", "/api/users", None),
    "change a role": ("PUT", "/api/users/{l3}/role", {"role": "learner"}),
}
# The learner is l1 (a member of c1); the instructor teaches c1; c2 belongs to another instructor.
EXPECTED = {
    #                                            anonymous learner instructor admin
    "create a cohort":                             (401, 403, 201, 201),
    "list cohorts":                                (401, 403, 200, 200),
    "read own cohort's dashboard":                 (401, 404, 200, 200),
    "read another cohort's dashboard":             (401, 404, 404, 200),
    "read a missing cohort's dashboard":           (401, 404, 404, 404),
    "export own cohort":                           (401, 404, 200, 200),
    "export another cohort":                       (401, 404, 404, 200),
    "rotate own cohort's code":                    (401, 404, 200, 200),
    "rotate another cohort's code":                (401, 404, 404, 200),
    "rotate a missing cohort's code":              (401, 404, 404, 404),
    "remove a learner from another cohort":        (401, 404, 404, 204),
    "read progress of a learner in own cohort":    (401, 200, 200, 200),
    "read progress of another cohort's learner":   (401, 404, 404, 200),
    "read progress of a learner in no cohort":     (401, 404, 404, 200),
    "read progress of a missing user":             (401, 404, 404, 404),
    "read own progress by id":                     (401, 200, 200, 200),
    "list users":                                  (401, 403, 403, 200),
    "change a role":                               (401, 403, 403, 200),
}  # fmt: skip
ACTORS = ("anonymous", "learner", "instructor", "admin")


def _join(client, cohort_code: str) -> None:
    assert client.post("/api/cohorts/join", json={"code": cohort_code}).status_code == 200


def test_every_role_gets_exactly_the_expected_answer_for_every_action(backend_people):
    people = backend_people
    instructor, other_instructor, admin = people.instructor(), people.instructor(), people.admin()
    l1, l2, l3 = people.learner(), people.learner(), people.learner()
    c1 = instructor.post("/api/cohorts", json={"name": "Mine"}).json()
    c2 = other_instructor.post("/api/cohorts", json={"name": "Theirs"}).json()
    _join(l1, c1["join_code"])
    _join(l2, c2["join_code"])
    actors = {"anonymous": people.anonymous(), "learner": l1, "instructor": instructor, "admin": admin}
    ids = {"c1": c1["id"], "c2": c2["id"], "l1": l1.user["id"], "l2": l2.user["id"], "l3": l3.user["id"]}

    assert set(CHECKS) == set(EXPECTED)
    got, want = {}, {}
    for check, (method, path, body) in CHECKS.items():
        for actor_name, expected in zip(ACTORS, EXPECTED[check], strict=True):
            actor = actors[actor_name]
            me = actor.user["id"] if actor.user else l1.user["id"]
            url = path.format(**ids, me=me)
            response = actor.request(method, url, json=body)
            got[(check, actor_name)] = response.status_code
            want[(check, actor_name)] = expected
            if response.status_code == 204 and method == "DELETE":
                _join(l2, other_instructor.get(f"/api/cohorts/{c2['id']}/dashboard").json()["cohort"]["join_code"])
    wrong = {key: (got[key], want[key]) for key in got if got[key] != want[key]}
    assert not wrong, f"(check, actor): (got, expected) {wrong}"


def test_a_denied_object_reads_exactly_like_a_missing_one(backend_people):
    learner, owner = backend_people.learner(), backend_people.instructor()
    cohort = owner.post("/api/cohorts", json={"name": "Private"}).json()
    hidden = learner.get(f"/api/cohorts/{cohort['id']}/dashboard")
    missing = learner.get(f"/api/cohorts/{MISSING}/dashboard")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == f"There is no cohort {cohort['id']}."
    assert missing.json()["detail"] == f"There is no cohort {MISSING}."


def test_the_policy_names_only_known_roles_and_denies_learners_every_cohort_but_joining():
    assert {role for role, _, _ in POLICY} <= set(ROLES)
    assert {action for role, resource, action in POLICY if role == "learner" and resource == "cohort"} == {"join"}
