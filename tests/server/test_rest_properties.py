"""REST-level properties against a real server: request forms, tenancy, tokens, the host rule.

Bounded here; ``qsession verify`` runs them at the profile's budget as its REST part, and
``verify --mutants`` runs each of the server's seeded bugs through the part that can see it.
"""

from __future__ import annotations

import pytest

from qsession.cli import verify
from qsession.properties.mutants import Mutant
from qsession.server import rest_properties
from qsession.server.mutants import REST_MUTANTS, WIRE_MUTANTS


def test_the_rest_properties_hold_and_leave_hypothesis_as_it_was() -> None:
    from hypothesis import core
    from hypothesis.internal.conjecture import engine

    before = (core.RepresentationPrinter, engine.BUFFER_SIZE)
    verdict = rest_properties.check(3, seed=20261207)
    assert verdict.ok, verdict.failures
    assert verdict.examples["request forms"] == 3 and verdict.examples["proxy host rule"] == 60
    # Schemathesis drew requests for every /api/v1 operation (over 20 of them, up to 3
    # each) and every answer fit the published document ...
    assert verdict.examples[rest_properties.DOCUMENTED] >= 20 and not verdict.skipped
    # ... and Hypothesis is as it was for whatever runs next in this process (Schemathesis'
    # set-up had replaced its failing-example printer and buffer size).
    assert (core.RepresentationPrinter, engine.BUFFER_SIZE) == before


def test_equivalent_forms_cover_qasm_qpy_short_pubs_and_values_by_name() -> None:
    case = rest_properties.FormsCase(2, (0.5, 1.5), 10, 1, reverse_keys=True)
    bodies = rest_properties.forms_bodies(case)
    pubs = {name: body["params"]["pubs"][0] for name, body in bodies.items()}
    assert isinstance(pubs["OpenQASM 3, full pub, array values"][0], str)
    assert pubs["QPY, full pub, array values"][0]["__type__"] == "QuantumCircuit"
    # By name, in the reverse of the circuit's (sorted) parameter order.
    assert list(pubs["OpenQASM 3, values by name"][1]) == ["zeta", "alpha"]
    assert pubs["OpenQASM 3, full pub, array values"][1] == [0.5, 1.5]
    assert bodies["OpenQASM 3, short pub, params.shots"]["params"]["shots"] == 10


@pytest.mark.parametrize("mutant", REST_MUTANTS, ids=lambda m: m.name)
def test_each_rest_mutant_is_killed_by_the_rest_part(mutant: Mutant) -> None:
    with mutant.applied():
        assert verify._mutant_rest(verify.MUTANT_REST) == {"INV-REST"}


@pytest.mark.slow
@pytest.mark.parametrize("mutant", WIRE_MUTANTS, ids=lambda m: m.name)
def test_each_wire_mutant_is_killed_by_the_doors_part(mutant: Mutant) -> None:
    with mutant.applied():
        assert verify._mutant_doors(verify.MUTANT_DOORS) == {"INV-DOORS"}


def test_hypothesis_is_given_back_after_schemathesis_patched_it() -> None:
    import schemathesis
    from hypothesis import core

    before = core.RepresentationPrinter
    document = {"openapi": "3.0.2", "info": {"title": "t", "version": "1"},
                "paths": {"/api/v1/x": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    with rest_properties.hypothesis_kept():
        schema = schemathesis.openapi.from_dict(document)
        next(iter(schema.get_all_operations())).ok().as_strategy()
        patched = core.RepresentationPrinter
    assert patched is not before  # Schemathesis' set-up swapped the printer ...
    assert core.RepresentationPrinter is before  # ... and it is given back
