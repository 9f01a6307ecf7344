from tests.conftest import login


def test_login_and_me(app, client, make_user, api_token):
    make_user("drafter1", "drafter")
    login(client, "drafter1")
    headers = api_token("drafter1")
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200
    assert response.json["roles"] == ["drafter"]


def test_api_refuses_cookie_only(app, make_user, login_as):
    make_user("drafter1", "drafter")
    c = login_as("drafter1")
    assert c.get("/api/v1/me").status_code == 401
