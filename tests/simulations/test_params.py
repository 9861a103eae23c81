"""Tests for simulations.params: parsing query-string values into bounded Params, and the JSON Schema.

Every error is a ParamError naming the field and what it accepts, since the API turns it into a 422.
"""

import dataclasses

import pytest

import simulations
from simulations.params import ParamError, bounded, choice, params_schema, parse_params, subset


@dataclasses.dataclass(frozen=True)
class Example:
    r: int = bounded(16, ge=1, le=256, description="LoRA rank.")
    rate: float = bounded(2e-4, ge=1e-5, le=1e-3, description="Learning rate.", scale="log")
    preset: str = choice("llama-3.1-8b", ("llama-3.1-8b", "mistral-7b"), description="Model.")
    merged: bool = bounded(False, description="Merge the adapter.")
    targets: str = subset("q_proj,v_proj", ("q_proj", "k_proj", "v_proj"), description="Modules.")


def test_missing_fields_take_their_defaults():
    assert parse_params(Example, {}) == Example()


def test_query_strings_are_coerced_to_the_annotated_types():
    params = parse_params(Example, {"r": "8", "rate": "0.0005", "preset": "mistral-7b", "merged": "true"})
    assert params == Example(r=8, rate=5e-4, preset="mistral-7b", merged=True)
    assert type(params.r) is int and type(params.rate) is float


def test_whole_number_written_as_float_is_accepted_for_an_integer():
    assert parse_params(Example, {"r": "16.0"}).r == 16


@pytest.mark.parametrize("raw, message", [
    ("0", "r must be between 1 and 256 (got 0)"),
    ("257", "r must be between 1 and 256 (got 257)"),
    ("abc", "r must be an integer (got 'abc')"),
    ("2.5", "r must be an integer (got '2.5')"),
    (True, "r must be an integer (got True)"),
])
def test_bad_integer_names_the_field_and_what_it_accepts(raw, message):
    with pytest.raises(ParamError) as error:
        parse_params(Example, {"r": raw})
    assert error.value.field == "r"
    assert error.value.message == message == str(error.value)


@pytest.mark.parametrize("raw", ["fast", "nan", "inf", "", "1e-2"])
def test_bad_float_names_the_field(raw):
    with pytest.raises(ParamError) as error:
        parse_params(Example, {"rate": raw})
    assert error.value.field == "rate"
    assert error.value.message.startswith("rate must be")


def test_unknown_choice_lists_the_allowed_options():
    with pytest.raises(ParamError) as error:
        parse_params(Example, {"preset": "x"})
    assert error.value.field == "preset"
    assert error.value.message == "preset must be one of: llama-3.1-8b, mistral-7b (got 'x')"


def test_unknown_field_is_rejected_not_ignored():
    with pytest.raises(ParamError) as error:
        parse_params(Example, {"rank": "8"})
    assert error.value.field == "rank"
    assert "unknown parameter 'rank'" in error.value.message


@pytest.mark.parametrize("raw, value", [("on", True), ("1", True), ("yes", True), ("FALSE", False), ("0", False)])
def test_bool_accepts_the_usual_form_spellings(raw, value):
    assert parse_params(Example, {"merged": raw}).merged is value


def test_bool_rejects_anything_else():
    with pytest.raises(ParamError, match="merged must be true or false"):
        parse_params(Example, {"merged": "maybe"})


def test_subset_is_put_in_canonical_order_without_duplicates():
    assert parse_params(Example, {"targets": " v_proj, q_proj,v_proj "}).targets == "q_proj,v_proj"


@pytest.mark.parametrize("raw", ["q_proj,lm_head", "", " , "])
def test_subset_rejects_unknown_or_empty_names(raw):
    with pytest.raises(ParamError) as error:
        parse_params(Example, {"targets": raw})
    assert error.value.field == "targets"
    assert "q_proj, k_proj, v_proj" in error.value.message


def test_declaring_a_default_outside_its_bounds_fails_at_once():
    with pytest.raises(ValueError):
        bounded(0, ge=1, le=10, description="Out of range.")
    with pytest.raises(ValueError):
        choice("c", ("a", "b"), description="Not an option.")


def test_schema_of_the_example_is_json_schema_shaped():
    schema = params_schema(Example)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    r = schema["properties"]["r"]
    assert (r["type"], r["minimum"], r["maximum"], r["default"]) == ("integer", 1, 256, 16)
    assert schema["properties"]["rate"]["x-scale"] == "log"
    assert schema["properties"]["preset"]["enum"] == ["llama-3.1-8b", "mistral-7b"]
    assert schema["properties"]["merged"]["type"] == "boolean"


@pytest.mark.parametrize("module", simulations.REGISTRY.values(), ids=simulations.REGISTRY)
def test_every_simulation_field_is_bounded_described_and_in_the_schema(module):
    schema = params_schema(module.Params)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    fields = {f.name: f for f in dataclasses.fields(module.Params)}
    assert set(schema["properties"]) == set(fields)
    for name, prop in schema["properties"].items():
        assert prop["description"] and prop["title"], name
        assert prop["default"] == fields[name].default
        if prop["type"] in ("integer", "number"):
            assert prop["minimum"] <= prop["default"] <= prop["maximum"], name
        else:
            assert "enum" in prop or "pattern" in prop, name


@pytest.mark.parametrize("module", simulations.REGISTRY.values(), ids=simulations.REGISTRY)
def test_defaults_written_as_query_strings_parse_back_to_the_defaults(module):
    query = {f.name: str(f.default) for f in dataclasses.fields(module.Params)}
    assert parse_params(module.Params, query) == module.Params()


@pytest.mark.parametrize("module", simulations.REGISTRY.values(), ids=simulations.REGISTRY)
def test_params_are_frozen_so_they_can_key_a_cache(module):
    params = module.Params()
    hash(params)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(params, dataclasses.fields(params)[0].name, None)
