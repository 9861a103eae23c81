"""`python -m labs serve-models` as a real subprocess on a free port, with the micro base and a trained adapter:
the secret, clear 400s, JSON and NDJSON answers, the batch log, a disconnecting client, and SIGTERM."""

import http.client
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import QUESTION

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SECRET = "test-secret-for-the-model-server"


@pytest.fixture(scope="module")
def server(micro_base, tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    port_file, log = folder / "port", folder / "stderr.log"
    env = {**os.environ, "COURSE_MODEL_SERVER_SECRET": SECRET, "PYTHONPATH": ROOT}
    proc = subprocess.Popen([sys.executable, "-m", "labs", "serve-models", "--port", "0", "--port-file",
                             str(port_file), "--max-adapters", "2", "--preload", "micro"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    deadline = time.time() + 180
    while not port_file.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"the model server did not start: {log.read_text()}")
        time.sleep(0.2)
    yield {"port": int(port_file.read_text()), "proc": proc, "port_file": port_file, "log": log}
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def call(server, method, path, body=None, secret=SECRET, raw: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=120)
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    payload = json.loads(resp.read())
    conn.close()
    return resp.status, payload


def body(**fields):
    return {"request_id": "r", "base": "micro", "adapter": None, "messages": QUESTION, "max_tokens": 20,
            "temperature": 0, **fields}


def test_the_port_file_names_the_port_and_health_needs_the_secret(server):
    assert call(server, "GET", "/health", secret=None) == (401, {"error": "missing or wrong bearer secret"})
    assert call(server, "GET", "/health", secret="wrong")[0] == 401
    assert call(server, "POST", "/generate", body(), secret=None)[0] == 401
    status, health = call(server, "GET", "/health")
    assert status == 200 and health["status"] == "ready" and health["pid"] == server["proc"].pid
    assert health["max_adapters"] == 2 and health["bases"]["micro"]["state"] in ("loading", "ready")


@pytest.mark.parametrize("raw, message", [
    (b"{not json", "not valid JSON"),
    (json.dumps(body(messages=[{"role": "robot", "content": "hi"}])).encode(), "messages[0].role"),
    (json.dumps(body(max_tokens=-1)).encode(), "max_tokens"),
    (json.dumps(body(adapter={"id": "x"})).encode(), "adapter"),
    (json.dumps(["a list"]).encode(), "JSON object"),
])
def test_a_bad_body_is_a_400_naming_the_problem(server, raw, message):
    status, payload = call(server, "POST", "/generate", raw=raw)
    assert status == 400 and message in payload["error"] and "Traceback" not in payload["error"]


def test_a_non_streaming_generate_answers_one_json_object(server, adapter_dirs):
    status, out = call(server, "POST", "/generate",
                       body(request_id="one", adapter={"id": "legal-a", "path": adapter_dirs["legal-a"]},
                            max_tokens=120))
    assert status == 200
    assert out["request_id"] == "one" and out["text"].startswith("1. ") and out["finish_reason"] == "stop"
    assert out["batch"]["adapter"] == "legal-a" and out["batch"]["size"] == 1
    assert out["prompt_tokens"] > 5 and out["completion_tokens"] > 10 and out["total_s"] >= out["queue_s"] >= 0


def test_a_streaming_generate_answers_ndjson_deltas_then_done(server, adapter_dirs):
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=120)
    adapter = {"id": "legal-a", "path": adapter_dirs["legal-a"]}
    conn.request("POST", "/generate", body=json.dumps(body(request_id="streamed", adapter=adapter, max_tokens=120,
                                                           stream=True)),
                 headers={"Authorization": f"Bearer {SECRET}"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "application/x-ndjson"
    events = [json.loads(line) for line in resp.read().decode().splitlines()]
    conn.close()
    assert {e["type"] for e in events[:-1]} == {"delta"} and len(events) > 5
    assert events[-1]["type"] == "done" and events[-1]["finish_reason"] == "stop"
    _, whole = call(server, "POST", "/generate", body(request_id="whole", adapter=adapter, max_tokens=120))
    assert "".join(e["text"] for e in events[:-1]) == whole["text"]
    assert events[-1]["completion_tokens"] == whole["completion_tokens"]


def test_batches_lists_recent_batches_newest_first_and_unload_drops_the_adapter(server):
    status, out = call(server, "GET", "/batches?limit=2")
    assert status == 200 and len(out["batches"]) == 2
    newest, older = out["batches"]
    assert newest["id"] > older["id"] and newest["request_ids"] == ["whole"] and newest["adapter"] == "legal-a"
    assert newest["size"] == 1 and newest["tokens"] > 10 and newest["duration_s"] > 0
    assert call(server, "GET", "/batches?limit=zero")[0] == 400
    assert call(server, "GET", "/health")[1]["bases"]["micro"]["adapters"] == ["legal-a"]
    assert call(server, "POST", "/unload", {"adapter_id": "legal-a"}) == (200, {"unloaded": True})
    assert call(server, "POST", "/unload", {"adapter_id": "legal-a"}) == (200, {"unloaded": False})
    assert call(server, "POST", "/unload", {"id": "legal-a"})[0] == 400
    assert call(server, "GET", "/health")[1]["bases"]["micro"]["adapters"] == []


def test_a_base_that_fails_to_load_is_a_503_with_the_reason(server):
    status, out = call(server, "POST", "/generate", body(base="no-such-base"))
    assert status == 503 and "no-such-base" in out["error"]


def test_a_streaming_client_that_disconnects_stops_its_row(server):
    _, whole = call(server, "POST", "/generate", body(request_id="long", max_tokens=300))
    assert whole["completion_tokens"] > 100, "the base should talk on for this test to mean something"
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=120)
    conn.request("POST", "/generate", body=json.dumps(body(request_id="leaver", max_tokens=300, stream=True)),
                 headers={"Authorization": f"Bearer {SECRET}"})
    resp = conn.getresponse()
    assert json.loads(resp.readline())["type"] == "delta"
    conn.sock.close()  # gone mid-answer
    resp.close()
    deadline = time.time() + 60
    while True:
        (batch,) = [b for b in call(server, "GET", "/batches?limit=5")[1]["batches"] if b["request_ids"] == ["leaver"]]
        if batch["tokens"] or time.time() > deadline:  # tokens are counted when the row ends
            break
        time.sleep(0.2)
    assert 0 < batch["tokens"] < whole["completion_tokens"]


def test_sigterm_stops_the_server_cleanly_and_removes_the_port_file(server):
    proc = server["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert not server["port_file"].exists()
    log = server["log"].read_text()
    assert "Traceback" not in log and "stopped" in log
