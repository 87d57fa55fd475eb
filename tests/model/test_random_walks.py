"""Random event sequences on the model: finals stay final, refusals change nothing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qsession.model import SESSION_TABLE, JobLifecycle, SessionLifecycle, TransitionRefused

events = st.sampled_from(SESSION_TABLE.event_names)


@given(st.lists(st.tuples(events, st.integers(0, 2)), max_size=30))
def test_session_walk(walk: list[tuple[str, int]]) -> None:
    s = SessionLifecycle("w")
    for event, in_flight in walk:
        before = (s.state, s.accepting_jobs)
        # ``in_flight`` or ``submitted``: whichever count the event takes.
        facts = {fact: in_flight for fact in SESSION_TABLE.event(event).facts}
        try:
            step = s.fire(event, **facts)
        except TransitionRefused:
            assert (s.state, s.accepting_jobs) == before
            continue
        assert before[0] not in SESSION_TABLE.final_states, "a final state changed"
        assert step.source == before[0] and step.dest == s.state
        if not before[1]:
            assert not s.accepting_jobs, "accepting_jobs came back"
        if s.is_final:
            assert not s.accepting_jobs


@given(st.lists(st.sampled_from(["start", "finish", "fail", "expire", "cancel"]), max_size=8))
def test_job_walk(walk: list[str]) -> None:
    j = JobLifecycle("w")
    history = [j.state]
    for event in walk:
        try:
            j.fire(event)
        except TransitionRefused:
            continue
        history.append(j.state)
    assert len(history) <= 3  # QUEUED, at most RUNNING, then one final state
    assert all(h not in ("DONE", "ERROR", "CANCELLED") for h in history[:-1])
