"""Demo traffic shows every state (issue #8, defect 13): callers who go through the menus and
stay to be answered, callers who give up waiting, callers who hang up in the menu."""

from __future__ import annotations

import random

from callcenter.pbx.simulate import Dtmf, Wait
from composition.demo import DEMO_KINDS, demo_scenario


def test_each_kind_reaches_what_it_should_show() -> None:
    rng = random.Random(7)
    assert {"answered", "gives-up", "hangs-up-in-menu"} <= set(DEMO_KINDS)
    answered = demo_scenario("answered", "+49891234560", "+4917012", "Demo", rng)
    answered.validate()
    keys = [s.digits for s in answered.steps if isinstance(s, Dtmf)]
    assert keys == ["1", "1"]  # language, then the receptionist
    assert answered.duration >= 60  # stays long enough to be answered and talk
    gives_up = demo_scenario("gives-up", "+49891234560", "+4917012", "Demo", rng)
    assert 15 <= gives_up.duration <= 30
    menu = demo_scenario("hangs-up-in-menu", "+49891234560", "+4917012", "Demo", rng)
    assert [s.digits for s in menu.steps if isinstance(s, Dtmf)] == ["1"]
    assert menu.duration < 8 and isinstance(menu.steps[-1], Wait)
