"""/v1 with the official `openai` client against a real server: a bearer key is the only credential (a cookie
alone or a revoked key is a 401), every error is in OpenAI's shape with the parameter at fault named, OpenAI's
parameters that these models cannot honour are ignored, and names OpenAI does not know are refused as OpenAI
refuses them. None of these requests reaches a model, so no model server is started here."""

import httpx
import openai
import pytest

from tests.clients import CourseClient
from tests.live_server import live_server

GOOD_MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def base_url(app):
    with live_server(app) as url:
        yield url + "/v1"


@pytest.fixture
def owner(app) -> CourseClient:
    with CourseClient(app) as browser:
        browser.register()
        yield browser


@pytest.fixture
def key(owner) -> str:
    return owner.post("/api/keys", json={"name": "tests"}).json()["key"]


def _client(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)


def _assert_openai_shape(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def test_the_models_list_has_openais_shape(base_url, key):
    page = _client(base_url, key).models.list()
    assert page.object == "list" and isinstance(page.data, list)


def test_a_missing_or_unknown_key_is_a_401_invalid_api_key(base_url):
    for presented in ("ftp-not-a-real-key-at-all-000000000000000000", "sk-someone-elses-openai-key"):
        with pytest.raises(openai.AuthenticationError) as caught:
            _client(base_url, presented).models.list()
        assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
        assert "Authorization: Bearer" in caught.value.message
    error = _assert_openai_shape(httpx.get(base_url + "/models"), 401)
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"


def test_a_revoked_key_fails_from_then_on(base_url, owner, key):
    client = _client(base_url, key)
    client.models.list()
    key_id = owner.get("/api/keys").json()[0]["id"]
    assert owner.delete(f"/api/keys/{key_id}").status_code == 204
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert caught.value.code == "invalid_api_key"


def test_a_logged_in_cookie_alone_is_not_a_credential(base_url, owner, key):
    cookies = "; ".join(f"{name}={value}" for name, value in owner.cookies.items())
    headers = {"Cookie": cookies, "x-csrftoken": owner.csrf_token()}
    assert owner.get("/api/keys").status_code == 200  # the same cookies do act on /api
    _assert_openai_shape(httpx.get(base_url + "/models", headers=headers), 401)
    _assert_openai_shape(httpx.post(base_url + "/chat/completions", headers=headers,
                                    json={"model": "tiny", "messages": GOOD_MESSAGES}), 401)


def test_v1_needs_no_csrf_token(base_url, key):
    response = httpx.post(base_url + "/chat/completions", headers={"Authorization": f"Bearer {key}"},
                          json={"model": "no-such-model", "messages": GOOD_MESSAGES})
    assert _assert_openai_shape(response, 404)["code"] == "model_not_found"


def test_an_unknown_model_is_a_404_model_not_found(base_url, key):
    client = _client(base_url, key)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="ft:micro:legal-format:0000abcd", messages=GOOD_MESSAGES)
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("ft:micro:legal-format:0000abcd")
    assert caught.value.code == "model_not_found"


BAD_REQUESTS = [
    ({"max_tokens": 100_000}, "max_tokens", "serving_max_tokens"),
    ({"max_tokens": 0}, "max_tokens", "1 to"),
    ({"max_completion_tokens": 100_000}, "max_completion_tokens", "serving_max_tokens"),
    ({"temperature": 2.5}, "temperature", "0.0 to 2.0"),
    ({"temperature": -0.1}, "temperature", "0.0 to 2.0"),
    ({"top_p": 0}, "top_p", "above 0.0"),
    ({"top_p": 1.5}, "top_p", "to 1.0"),
    ({"n": 2}, "n", "only 1"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
    ({"stop": [""]}, "stop", "non-empty"),
    ({"seed": "seven"}, "seed", "integer"),
    ({"messages": []}, "messages", "non-empty list"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role", "'robot' is not supported"),
    ({"messages": [{"role": "tool", "content": "hi", "tool_call_id": "x"}]}, "messages[0].role", "not supported"),
    ({"messages": [{"role": "user"}]}, "messages[0].content", "expected a string"),
    ({"messages": GOOD_MESSAGES + [{"role": "user", "content": "x" * 40_000}]}, "messages[1].content", "too long"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages[0].content[0]", "only text parts"),
    ({"stream_options": {"include_usage": True}}, "stream_options", "only allowed when stream is true"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools", "do not call tools"),
]


@pytest.mark.parametrize(("fields", "param", "words"), BAD_REQUESTS, ids=[case[1] for case in BAD_REQUESTS])
def test_a_bad_value_is_a_400_naming_the_parameter(base_url, key, fields, param, words):
    arguments = {"model": "no-such-model", "messages": GOOD_MESSAGES, **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        _client(base_url, key).chat.completions.create(**arguments)
    assert caught.value.status_code == 400 and caught.value.param == param
    assert caught.value.type == "invalid_request_error" and words in caught.value.message


def test_parameters_openai_defines_but_these_models_cannot_honour_are_ignored(base_url, key):
    # Past the checks, the request gets as far as looking the model up: a 404, not a 400.
    with pytest.raises(openai.NotFoundError):
        _client(base_url, key).chat.completions.create(
            model="no-such-model", messages=GOOD_MESSAGES, presence_penalty=0.5, frequency_penalty=0.1,
            logit_bias={"1": 2}, user="someone", metadata={"a": "b"}, store=False, response_format={"type": "text"},
        )


def test_a_name_openai_does_not_define_is_refused_like_openai_does(base_url, key):
    with pytest.raises(openai.BadRequestError) as caught:
        _client(base_url, key).chat.completions.create(model="tiny", messages=GOOD_MESSAGES,
                                                       extra_body={"frobnicate": True})
    assert caught.value.message.endswith("Unrecognized request argument supplied: frobnicate")


def test_broken_bodies_unknown_paths_and_wrong_methods_answer_in_openais_shape(base_url, key):
    auth = {"Authorization": f"Bearer {key}"}
    assert "parse the JSON" in _assert_openai_shape(
        httpx.post(base_url + "/chat/completions", headers={**auth, "Content-Type": "application/json"},
                   content=b"{not json"), 400)["message"]
    _assert_openai_shape(httpx.post(base_url + "/chat/completions", headers=auth, json=["a", "list"]), 400)
    _assert_openai_shape(httpx.post(base_url + "/completions", headers=auth, json={}), 404)
    _assert_openai_shape(httpx.get(base_url + "/embeddings", headers=auth), 404)
    _assert_openai_shape(httpx.get(base_url + "/chat/completions", headers=auth), 405)
    huge = {"model": "tiny", "messages": [{"role": "user", "content": "x" * 2_000_000}]}
    _assert_openai_shape(httpx.post(base_url + "/chat/completions", headers=auth, json=huge), 413)
