"""Simulation endpoints: catalogue, JSON runs, 422s that name the field, fragments and shareable pages."""

import pytest

import simulations

NAMES = list(simulations.REGISTRY)


def test_the_catalogue_lists_all_ten_simulations_with_their_parameter_schemas(client):
    body = client.get("/api/simulations").json()
    assert [s["name"] for s in body] == [
        "compliance", "cost-crossover", "data-balance", "lora-rank", "lora-params",
        "vram", "loss-curve", "multi-lora", "break-even", "advisor",
    ]
    for entry in body:
        assert entry["params_schema"]["type"] == "object" and entry["params_schema"]["properties"]
        assert isinstance(entry["chapter"], int) and entry["title"]


@pytest.mark.parametrize("name", NAMES)
def test_every_simulation_answers_json_at_its_defaults(client, name):
    response = client.get(f"/api/simulations/{name}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"params", "result", "figure"}
    assert body["figure"]["data"] and "layout" in body["figure"]


def test_break_even_over_the_api_reproduces_the_specs_worked_example(client):
    query = {
        "training_cost_usd": 50, "data_cost_usd": 0, "prompt_overhead_tokens": 2300, "request_tokens": 0,
        "base_price_per_mtok": 5, "finetuned_prompt_tokens": 50, "finetuned_price_per_mtok": 3,
        "requests_per_day": 1000,
    }
    result = client.get("/api/simulations/break-even", params=query).json()["result"]
    assert result["prompting_cost_per_request"] == pytest.approx(0.0115)
    assert result["finetuned_cost_per_request"] == pytest.approx(0.00015)
    assert result["break_even_requests"] == pytest.approx(50 / 0.01135)
    assert result["break_even_days"] == pytest.approx(50 / 0.01135 / 1000)


def test_lora_params_over_the_api_gives_the_specs_count_for_llama_3_1_8b(client):
    query = {"preset": "llama-3.1-8b", "r": 16, "targets": "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"}
    result = client.get("/api/simulations/lora-params", params=query).json()["result"]
    assert result["trainable_params"] == 41_943_040
    assert round(result["trainable_percent"], 2) == 0.52


@pytest.mark.parametrize(
    ("name", "query", "words"),
    [
        ("break-even", {"requests_per_day": "-5"}, ["requests_per_day", "between"]),
        ("lora-rank", {"r": "abc"}, ["r", "integer"]),
        ("lora-params", {"preset": "gpt-99"}, ["preset", "one of"]),
        ("lora-params", {"targets": "q_proj,brain"}, ["targets"]),
        ("compliance", {"no_such_field": "1"}, ["no_such_field"]),
    ],
)
def test_a_bad_value_gets_a_422_naming_the_field_and_what_it_accepts(client, name, query, words):
    response = client.get(f"/api/simulations/{name}", params=query)
    assert response.status_code == 422
    detail = response.json()["detail"]
    for word in words:
        assert word in detail


def test_an_unknown_simulation_is_a_404_listing_the_real_ones(client):
    response = client.get("/api/simulations/warp-drive")
    assert response.status_code == 404 and "break-even" in response.json()["detail"]


def test_htmx_gets_the_chart_fragment_with_the_new_headline(client):
    response = client.get("/simulations/break-even", params={"training_cost_usd": 5000}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text
    assert 'class="sim-headline"' in response.text and 'class="sim-figure"' in response.text


def test_a_plain_request_gets_the_chapter_page_at_that_state_so_a_link_shares_it(client, course):
    response = client.get("/simulations/break-even", params={"requests_per_day": 1234})
    assert response.status_code == 200 and "<html" in response.text
    assert course.chapters[7].title in response.text
    assert 'name="requests_per_day"' in response.text and 'value="1234"' in response.text


def test_a_bad_value_in_a_shared_link_gets_a_page_naming_the_field(client):
    response = client.get("/simulations/break-even", params={"requests_per_day": "lots"})
    assert response.status_code == 422 and "<html" in response.text and "requests_per_day" in response.text


@pytest.mark.parametrize("name", NAMES)
def test_every_chapter_page_mounts_its_simulations_with_a_slider_form_and_the_how_it_works_text(client, course, name):
    module = simulations.REGISTRY[name]
    html = client.get(course.chapters[module.CHAPTER].url).text
    assert f'id="sim-{name}"' in html
    assert f'action="/simulations/{name}"' in html
    assert "How this simulation works" in html
    assert f"<!--simulation:{name}-->" not in html
