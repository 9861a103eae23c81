"""Property tests: whatever a query string holds, every simulation's parameter parsing either gives
parameters inside the declared bounds or a ParamError naming the field, never another exception."""

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulations
from simulations.params import ParamError, params_schema, parse_params

# Text a hand-edited URL might carry: numbers of every shape, words, other scripts' digits, huge values.
NUMBERISH = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "nan", "-inf", "1e400", "9" * 5000, "²", "٣", "0x10", "1_000", "true", "on", "16.0"]),
    st.text(max_size=40),
)


def _query(module) -> st.SearchStrategy[dict[str, str]]:
    schema = params_schema(module.Params)["properties"]
    known = {}
    for name, prop in schema.items():
        options = list(prop.get("enum") or prop.get("x-options") or [])
        known[name] = st.one_of(NUMBERISH, st.sampled_from(options)) if options else NUMBERISH
    return st.fixed_dictionaries({}, optional=known) | st.dictionaries(st.text(max_size=12), NUMBERISH, max_size=3)


@pytest.mark.parametrize("name", sorted(simulations.REGISTRY))
def test_parsing_any_query_gives_bounded_params_or_a_param_error(name):
    module = simulations.REGISTRY[name]
    schema = params_schema(module.Params)["properties"]

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_query(module))
    def check(query):
        try:
            params = parse_params(module.Params, query)
        except ParamError as error:
            assert error.message and (error.field in query or error.field in schema)
            return
        for field in dataclasses.fields(params):
            value, prop = getattr(params, field.name), schema[field.name]
            if "minimum" in prop:
                assert prop["minimum"] <= value <= prop["maximum"], (field.name, value)

    check()
