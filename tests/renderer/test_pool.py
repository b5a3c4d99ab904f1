"""The render pool: a hostile text costs its own render, in its own process, never the caller's event loop."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from processes.display import Office
from processes.errors import RenderError, RenderInterrupted, TemplateInvalid
from renderer.pool import RenderPool
from tests.bad_input.test_largest_template import largest

ROME = Office("it", "Europe/Rome")
VARIABLES = {"record": {"title": "Villa", "fields": {"price": 450000}}, "now": datetime(2026, 12, 2, 13, 30, tzinfo=UTC)}
HARMLESS = "{{ record }}: {{ record.fields.price|currency }} on {{ now|date }}"
# each round keeps ten new strings of 100,000 characters: within every per-operation bound, gigabytes in all
MEMORY_BOMB = ("{% set ns = namespace(x=[]) %}{% set s = 'a' * 99990 %}{% for i in range(10000) %}"
               "{% set ns.x = [ns.x" + ", s ~ i" * 10 + "] %}{% endfor %}{{ record }}")
TIME_BOMB = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}{{ record }}"


@pytest.fixture
async def pool() -> AsyncIterator[RenderPool]:
    pool = RenderPool(processes=1, memory_mb=128)
    yield pool
    await pool.close()


async def test_a_render_runs_in_a_child_and_text_without_braces_never_leaves(pool: RenderPool) -> None:
    assert await pool.render("Plain text\r\n", VARIABLES, where="body", office=ROME) == "Plain text\n"
    assert pool.pids() == []  # no child started for it
    assert await pool.render(HARMLESS, VARIABLES, where="body", office=ROME) == "Villa: 450.000\u00a0€ on 2 dicembre 2026"
    [pid] = pool.pids()
    assert pid != os.getpid()


async def test_a_text_past_the_memory_cap_is_refused_and_its_child_replaced(pool: RenderPool) -> None:
    await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)
    before = set(pool.pids())
    with pytest.raises(RenderError, match=r"^body: refused: the render needed more than 128 MB of memory$"):
        await pool.render(MEMORY_BOMB, VARIABLES, where="body", office=ROME)
    assert await pool.render(HARMLESS, VARIABLES, where="body", office=ROME) == "Villa: 450.000\u00a0€ on 2 dicembre 2026"
    assert not before & set(pool.pids()) or len(pool.pids()) > 1  # the bomb's child is gone


async def test_a_child_that_does_not_answer_in_time_is_killed() -> None:
    pool = RenderPool(processes=1, render_kill=0.3, slow_kill=0.3)  # less than the render's 1 s: the kill is first
    try:
        with pytest.raises(RenderError, match=r"^body: refused: rendering took longer than 0.3s and was stopped$"):
            await pool.render(TIME_BOMB, VARIABLES, where="body", office=ROME)
        assert not pool._lanes["slow"].children  # the slow lane's child, killed (the new lane's gave up its trial)
        assert await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)
    finally:
        await pool.close()


async def test_texts_that_hit_their_bounds_run_at_idle_priority_and_are_not_refused_for_waiting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The slow lane's child gets only processor time nothing else wants (from its first import on): past its kill
    time, it is killed as stuck only once it has used that much processor time; one that was given none (stopped
    here, as on a machine busy all along) is interrupted, to be tried again, not refused"""
    # (the text may be known as slow already, from an earlier test in this process: its first render then runs at
    # idle priority too, and on a busy machine may wait for a processor longer than the second's 1 s)
    monkeypatch.setattr("renderer.channel.STARVED_SECONDS", 120.0)
    pool = RenderPool(processes=1, render_kill=0.3, slow_kill=0.3)
    try:
        with pytest.raises(RenderError, match=r"^body: refused: rendering took longer than 0.3s and was stopped$"):
            await pool.render(TIME_BOMB, VARIABLES, where="body", office=ROME)  # known as slow from now on
        assert pool._lanes["slow"].slots.locked()  # the slow lane rests as long as it was busy
        monkeypatch.setattr("renderer.channel.STARVED_SECONDS", 1.0)
        bomb = asyncio.create_task(pool.render(TIME_BOMB, VARIABLES, where="body", office=ROME))
        while not pool._lanes["slow"].children:
            await asyncio.sleep(0.01)
        [child] = pool._lanes["slow"].children
        assert os.sched_getscheduler(child.pid) == os.SCHED_IDLE
        os.kill(child.pid, signal.SIGSTOP)
        with pytest.raises(RenderInterrupted, match=r"^body: this text went over its bounds before, and was given no "
                                                    r"processor time for 1s \(the machine is busy\): it will be "
                                                    r"tried again$"):
            await bomb
        assert not child.running
    finally:
        await pool.close()


async def test_the_event_loop_runs_on_during_a_hostile_render(pool: RenderPool) -> None:
    await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)  # the child is started
    bomb = asyncio.create_task(pool.render(TIME_BOMB, VARIABLES, where="body", office=ROME))
    for _ in range(5):
        await asyncio.sleep(0)  # the loop turns: a render on the loop itself would have ended before this
    assert not bomb.done()
    with pytest.raises(RenderError, match="refused: rendering took longer than"):
        await bomb


async def test_a_harmless_text_does_not_wait_behind_texts_that_hit_their_bounds() -> None:
    pool = RenderPool(processes=1)
    try:
        for _ in range(2):  # known to be fast, and its lane's child started
            await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)
        with pytest.raises(RenderError):
            await pool.render(TIME_BOMB, VARIABLES, where="body", office=ROME)  # known to be slow from now on
        bombs = [asyncio.create_task(pool.render(TIME_BOMB, VARIABLES, where=f"bomb {n}", office=ROME))
                 for n in range(3)]
        await asyncio.sleep(0)
        assert await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)
        assert not all(bomb.done() for bomb in bombs)  # in one queue it would have come after all three
        results = await asyncio.gather(*bombs, return_exceptions=True)
        assert all(isinstance(result, RenderError) for result in results)
    finally:
        await pool.close()


async def test_a_new_text_waits_behind_a_new_slow_one_for_its_trial_only() -> None:
    """Slow texts never seen before go to the slow lane after their trial: the next new text does not wait
    for their whole budgets"""
    pool = RenderPool(processes=1)
    try:
        await pool.render("{{ 1 }}", {}, where="warm", office=ROME)  # the new texts' child started
        bombs = [asyncio.create_task(pool.render(TIME_BOMB.replace("{{ record }}", f"{{{{ {n} }}}}"), VARIABLES,
                                                 where=f"bomb {n}", office=ROME)) for n in range(3)]
        await asyncio.sleep(0)
        assert await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)
        assert not all(bomb.done() for bomb in bombs)  # three different texts, each of a whole second
        results = await asyncio.gather(*bombs, return_exceptions=True)
        # each stops itself at its second of processor time, or on a busy machine is killed first
        assert [re.sub(r"longer than \d+s and was stopped$", "longer than 1s", str(result)) for result in results] \
            == [f"bomb {n}: refused: rendering took longer than 1s" for n in range(3)]
    finally:
        await pool.close()


async def test_a_child_killed_from_outside_is_replaced_and_its_render_tried_again(pool: RenderPool) -> None:
    await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)
    [pid] = pool.pids()
    os.kill(pid, signal.SIGKILL)  # while idle: the next render gets a new child
    await asyncio.sleep(0.1)
    assert await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)
    [other] = pool.pids()
    busy = asyncio.create_task(pool.render(TIME_BOMB, VARIABLES, where="body", office=ROME))
    while len(pool.pids()) < 2:  # the new text's child
        await asyncio.sleep(0.02)
    [pid] = set(pool.pids()) - {other}
    await asyncio.sleep(0.2)
    os.kill(pid, signal.SIGKILL)  # in the middle of a render: not the text's fault, worth another try
    with pytest.raises(RenderInterrupted, match=r"^body: the render stopped unexpectedly \(exit code -9\); "
                                                r"it will be tried again$"):
        await busy
    assert await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)


async def test_ctrl_c_to_the_process_group_does_not_reach_the_children(pool: RenderPool) -> None:
    for _ in range(2):  # a child for new texts, then one for texts known to be fast
        await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)
    pids = set(pool.pids())
    for pid in pids:
        assert os.getpgid(pid) != os.getpgid(0)  # its own session: a terminal's SIGINT to our group misses it
        os.kill(pid, signal.SIGINT)  # and it ignores one sent to it
    await asyncio.sleep(0.1)
    assert await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)
    assert set(pool.pids()) == pids


async def test_close_stops_every_child(pool: RenderPool) -> None:
    await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)
    [pid] = pool.pids()
    await pool.close()
    assert pool.pids() == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_conditions_are_decided_in_a_child(pool: RenderPool) -> None:
    conditions = [("decision[0].when", "record.fields.price > 500000"),
                  ("decision[1].when", "answers.esito == 'sì'")]
    assert await pool.decide(conditions, {**VARIABLES, "answers": {"esito": "sì"}}, office=ROME) == 1
    assert await pool.decide(conditions, {**VARIABLES, "answers": {}}, office=ROME) is None
    with pytest.raises(RenderError, match=r"^decision\[0\]\.when: refused: '.clear\(\)' would change a value"):
        await pool.decide([("decision[0].when", "record.fields.clear()")], VARIABLES, office=ROME)


def _document(*texts: str) -> str:
    actions = "".join(f"      - add_history:\n          text: |-\n            {text}\n" for text in texts)
    return ("key: deep\nname: Deep\ncontroller_email: c@agency.example\nrecord_kind: lead\nphases:\n"
            f"  - key: a\n    name: A\n    actions:\n{actions}")


async def test_a_template_is_checked_in_a_child(pool: RenderPool) -> None:
    deep = "{{ " + "(" * 80 + "1" + ")" * 80 + " }}"
    bomb = MEMORY_BOMB.replace("{{ record }}", "")  # it reads no variable: tried when saved
    with pytest.raises(TemplateInvalid) as caught:
        await pool.validate(_document(deep, bomb), source="the request body")
    assert [str(detail) for detail in caught.value.details] == [
        "phases[0].actions[0].add_history.text: line 1: nested more than 30 levels deep "
        "(brackets, blocks, operators or filters inside each other)",
        "phases[0].actions[1].add_history.text: refused: the render needed more than 128 MB of memory",
    ]
    template = await pool.validate(_document("{{ record }}"), known_users=[], known_templates={})
    assert template.key == "deep"


async def test_a_pool_serves_another_event_loop_with_children_of_its_own(pool: RenderPool) -> None:
    await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)

    def elsewhere() -> str:
        return asyncio.run(pool.render(HARMLESS, VARIABLES, where="body", office=ROME))

    assert await asyncio.to_thread(elsewhere)
    assert await pool.render(HARMLESS, VARIABLES, where="body", office=ROME)


async def test_a_template_check_is_killed_after_a_time_that_grows_with_its_size() -> None:
    """The check's kill time grows with the document; a check killed is a busy server (503, send it again), not a
    template refused: what it tries of the text is bounded inside the check."""
    assert RenderPool().check_timeout("") == 15.0 and RenderPool().check_timeout("x" * 1_000_000) == 75.0
    document = json.dumps(largest("largest"))
    assert RenderPool().check_timeout(document) > 25  # the largest template that saves
    pool = RenderPool(processes=1, check_kill=0.05)
    try:
        with pytest.raises(RenderInterrupted, match=r"^checking the template took longer than 0.\d+s \(the time a "
                                                    r"template of its size may take\) and was stopped: the server "
                                                    r"is busy, send it again$"):
            await pool.validate(document)  # with its own kill time it saves (tests/bad_input/test_largest_template.py)
    finally:
        await pool.close()


async def test_a_child_that_has_come_to_hold_half_its_allowance_more_retires_after_its_answer() -> None:
    """Each text's compiled form is kept, with its source (a quarter of a megabyte here). A child that kept them
    all would leave a later request less than its allowance; past half of it, a fresh child takes over."""
    pool = RenderPool(processes=1, memory_mb=8)
    pids: set[int] = set()
    try:
        for i in range(40):
            text = f"{i} {{% if false %}}{'x' * 250_000}{{% endif %}}{{{{ record.title }}}}"
            assert await pool.render(text, VARIABLES, where="body", office=ROME) == f"{i} Villa"
            pids |= set(pool.pids())
        assert len(pids) >= 3  # 10 MB kept in all: it retired at least twice, each time after answering
    finally:
        await pool.close()
