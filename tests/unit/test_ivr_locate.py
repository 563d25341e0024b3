"""Line numbers of fault paths in tenant TOML (issue #8, defect 13)."""

from __future__ import annotations

from ivr.locate import line_index, line_of

DOC = """slug = "x"
[hours]
mon = ["08:00-17:00"]

[[dids]]
number = "+49 30 1"
[[dids]]
number = "+49 30 2"   # second

[flows.main]
type = "menu"
prompts = ["a", "b"]
"""


def test_paths_map_to_their_lines() -> None:
    index = line_index(DOC)
    assert line_of(index, "slug") == 1
    assert line_of(index, "hours.mon.0") == 3
    assert line_of(index, "dids.1.number") == 8
    assert line_of(index, "dids.0") == 5
    assert line_of(index, "flows.main.prompts.1") == 12
    assert line_of(index, "flows.main.options") == 10  # not spelled out: its table
    assert line_of(index, "") is None
