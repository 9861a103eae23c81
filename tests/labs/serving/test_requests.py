"""The model server's request check: every bad field is a RequestError naming the field and what is allowed."""

import pytest

from labs.serving.requests import GenerateRequest, RequestError, parse_request

GOOD = {"request_id": "r1", "base": "tiny", "adapter": None,
        "messages": [{"role": "system", "content": "Be formal."}, {"role": "user", "content": "Hello"}],
        "max_tokens": 64, "temperature": 0.7, "top_p": 0.9, "seed": 3, "stop": ["\n\n"], "stream": True}


def test_a_full_body_becomes_a_request_with_every_field():
    req = parse_request(GOOD)
    assert req == GenerateRequest(request_id="r1", base="tiny", messages=GOOD["messages"], max_tokens=64,
                                  temperature=0.7, top_p=0.9, seed=3, stop=("\n\n",))


def test_defaults_fill_missing_fields_and_unknown_fields_are_ignored():
    req = parse_request({"base": "tiny", "messages": [{"role": "user", "content": "x"}], "n": 1, "user": "u"})
    assert (req.max_tokens, req.temperature, req.top_p, req.seed, req.stop) == (64, 1.0, 1.0, None, ())
    assert req.request_id  # generated when absent


def test_an_adapter_carries_its_id_and_path():
    req = parse_request({**GOOD, "adapter": {"id": "run-1", "path": "/runs/1/adapter"}})
    assert (req.adapter_id, req.adapter_path) == ("run-1", "/runs/1/adapter")


def test_a_single_stop_string_is_accepted_like_openai_does():
    assert parse_request({**GOOD, "stop": "END"}).stop == ("END",)


@pytest.mark.parametrize("change, named", [
    ({"base": ""}, "base"),
    ({"messages": []}, "messages"),
    ({"messages": "hello"}, "messages"),
    ({"messages": [{"role": "bot", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "x" * 40_000}]}, "messages[0].content"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": 5000}, "max_tokens"),
    ({"max_tokens": 1.5}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"temperature": -0.1}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"top_p": 1.2}, "top_p"),
    ({"seed": "7"}, "seed"),
    ({"stop": [""]}, "stop"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"adapter": {"id": "x"}}, "adapter"),
    ({"stream": "yes"}, "stream"),
    ({"request_id": 5}, "request_id"),
])
def test_each_bad_field_is_refused_with_its_name(change, named):
    with pytest.raises(RequestError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_request({**GOOD, **change})


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(RequestError, match="JSON object"):
        parse_request(["base", "tiny"])
