"""The sans-IO AMI core against transcripts recorded from Asterisk 22.10.1 and hypothesis."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from callcenter.pbx.ami.message import Message
from callcenter.pbx.ami.protocol import (
    ActionResult,
    ActionTracker,
    AmiParser,
    BadFrame,
    Greeting,
    HeaderInjectionError,
    ParserEvent,
    _parse_frame,
    encode_action,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ami"


def transcript(name: str) -> bytes:
    return (FIXTURES / f"{name}.bin").read_bytes()


def parse(data: bytes, chunk: int | None = None, **kw: object) -> list[ParserEvent]:
    parser = AmiParser(**kw)  # type: ignore[arg-type]
    out: list[ParserEvent] = []
    step = chunk or max(1, len(data))
    for i in range(0, len(data), step):
        parser.receive_data(data[i : i + step])
        out.extend(parser)
    return out


def messages(events: list[ParserEvent]) -> list[Message]:
    return [e for e in events if isinstance(e, Message)]


def by_action(msgs: list[Message], action_id: str) -> list[Message]:
    return [m for m in msgs if m.action_id == action_id]


def track(msgs: list[Message], *action_ids: str) -> tuple[dict[str, ActionResult], list[Message]]:
    tracker = ActionTracker()
    for action_id in action_ids:
        tracker.expect(action_id)
    done: dict[str, ActionResult] = {}
    passed: list[Message] = []
    for msg in msgs:
        out = tracker.feed(msg)
        if isinstance(out, ActionResult):
            done[out.action_id] = out
        elif out is not None:
            passed.append(out)
    return done, passed


# -- recorded transcripts ---------------------------------------------------------------------


def test_login_transcript_greeting_then_response_then_events() -> None:
    events = parse(transcript("login"))
    assert events[0] == Greeting("11.0.0", "Asterisk Call Manager/11.0.0")
    login = events[1]
    assert isinstance(login, Message)
    assert (login.kind, login.name, login.action_id) == ("response", "Success", "login-1")
    assert login["Message"] == "Authentication accepted"
    names = [m.name for m in messages(events) if m.kind == "event"]
    assert names == ["FullyBooted", "SuccessfulAuth"]
    booted = messages(events)[1]
    assert booted["Status"] == "Fully Booted"
    # Values keep everything after the first colon (IPV4/TCP/… has none, EventTV has two).
    auth = messages(events)[2]
    assert auth["EventTV"].count(":") == 2


def test_ping_transcript() -> None:
    (pong,) = by_action(messages(parse(transcript("ping"))), "ping-1")
    assert pong.name == "Success" and pong["Ping"] == "Pong"
    assert float(pong["Timestamp"]) > 1.7e9


def test_core_show_channels_is_collected_as_a_list() -> None:
    msgs = messages(parse(transcript("coreshowchannels")))
    done, passed = track(msgs, "csc-1")
    result = done["csc-1"]
    assert result.ok and result.response["EventList"] == "start"
    names = [e.name for e in result.events]
    assert names == ["CoreShowChannel", "CoreShowChannel", "CoreShowChannelsComplete"]
    assert result.events[-1]["ListItems"] == "2"
    assert all(m.action_id != "csc-1" for m in passed)
    assert any(m.name == "Newchannel" for m in passed)  # unrelated events pass through


def test_queue_status_and_summary_lists() -> None:
    msgs = messages(parse(transcript("queuestatus")))
    done, _ = track(msgs, "qs-1", "qsum-1")
    status = done["qs-1"].events
    assert [e.name for e in status] == [
        "QueueParams",
        "QueueMember",
        "QueueMember",
        "QueueStatusComplete",
    ]
    assert status[0]["Queue"] == "support" and "ServicelevelPerf" in status[0]
    assert {e["Name"] for e in status[1:3]} == {"Anna", "Bernd"}
    assert status[1]["StateInterface"] == "Custom:agent1"
    summary = done["qsum-1"].events
    assert [e.name for e in summary] == ["QueueSummary", "QueueSummaryComplete"]


def test_queue_summary_transcript() -> None:
    msgs = messages(parse(transcript("queuesummary")))
    done, _ = track(msgs, "qsum-2")
    summary = done["qsum-2"].events
    assert summary[0].name == "QueueSummary" and summary[0]["Queue"] == "support"
    assert summary[0]["LoggedIn"] == "2"
    assert summary[-1]["EventList"] == "Complete" and summary[-1]["ListItems"] == "1"


def test_originate_events_with_utf8_caller_name() -> None:
    msgs = messages(parse(transcript("originate")))
    done, passed = track(msgs, "orig-1")
    assert done["orig-1"].response["Message"] == "Originate successfully queued"
    names = {m.name for m in passed}
    assert {"Newchannel", "Newexten", "VarSet", "Hangup", "OriginateResponse"} <= names
    varset = next(m for m in passed if m.name == "VarSet" and m["Variable"] == "GREETING")
    assert varset["Value"] == "Grüße aus München"
    newchannel = next(m for m in passed if m.name == "Newchannel")
    assert newchannel["Channel"].startswith("Local/echo@test-")
    assert any(m.get("CallerIDName") == "Jürgen Müller" for m in passed)
    # Async Originate: the OriginateResponse event comes after the response, as an event.
    orig = next(m for m in passed if m.name == "OriginateResponse")
    assert orig.action_id == "orig-1" and orig["Response"] == "Success"


def test_command_output_lines_are_repeated_headers_in_order() -> None:
    msgs = messages(parse(transcript("command")))
    done, _ = track(msgs, "cmd-1")
    out = done["cmd-1"].response.get_all("Output")
    assert out[0].startswith("Channel") and out[0].endswith(" ")  # trailing blanks kept
    assert out[-3:] == ["2 active channels", "1 active call", out[-1]]
    assert out[-1].endswith("calls processed")


def test_error_response_and_goodbye() -> None:
    msgs = messages(parse(transcript("errors")))
    done, _ = track(msgs, "err-1", "err-2", "bye-1")
    assert not done["err-1"].ok and done["err-1"].response["Message"].startswith(
        "Invalid/unknown command: NoSuchAction"
    )
    assert done["err-2"].ok and done["err-2"].events[-1]["ListItems"] == "0"
    assert done["bye-1"].response.name == "Goodbye"


@pytest.mark.parametrize(
    "name",
    [
        "login",
        "ping",
        "originate",
        "coreshowchannels",
        "queuestatus",
        "queuesummary",
        "command",
        "errors",
    ],
)
@pytest.mark.parametrize("chunk", [1, 7, 1460])
def test_transcripts_parse_identically_in_any_chunk_size(name: str, chunk: int) -> None:
    data = transcript(name)
    assert parse(data, chunk) == parse(data)


# -- framing edge cases -----------------------------------------------------------------------


def test_bare_lf_and_mixed_terminators() -> None:
    data = b"Event: A\nX: 1\n\nEvent: B\r\nY:  2\r\n\nEvent: C\n\r\n"
    msgs = messages(parse(data, expect_greeting=False))
    assert [m.name for m in msgs] == ["A", "B", "C"]
    assert msgs[1]["Y"] == "2"


def test_values_with_colons_and_blanks() -> None:
    (m,) = messages(
        parse(b"Event: X\r\nUniqueid: a:b: c\r\nEmpty:\r\nTab:\tv \r\n\r\n", expect_greeting=False)
    )
    assert m["Uniqueid"] == "a:b: c" and m["Empty"] == "" and m["Tab"] == "v "


def test_line_without_colon_is_kept_not_fatal() -> None:
    (m,) = messages(parse(b"Event: X\r\ngarbage line\r\nA: 1\r\n\r\n", expect_greeting=False))
    assert m.headers == (("Event", "X"), ("", "garbage line"), ("A", "1"))


def test_legacy_response_follows() -> None:
    data = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: c1\r\n"
        b"Channel              Location\r\nSIP/x: odd line\r\n0 active calls\n"
        b"--END COMMAND--\r\n\r\n"
    )
    (m,) = messages(parse(data, expect_greeting=False))
    assert m.name == "Follows" and m.action_id == "c1"
    assert m.get_all("Output") == [
        "Channel              Location",
        "SIP/x: odd line",
        "0 active calls",
    ]


def test_multibyte_character_split_across_reads() -> None:
    data = "Event: X\r\nName: Grüße ✓\r\n\r\n".encode()
    cut = data.index("✓".encode()) + 1  # inside the 3-byte sequence
    parser = AmiParser(expect_greeting=False)
    parser.receive_data(data[:cut])
    assert parser.next_event() is None
    parser.receive_data(data[cut:])
    event = parser.next_event()
    assert isinstance(event, Message) and event["Name"] == "Grüße ✓"


def test_invalid_utf8_is_replaced_and_flagged() -> None:
    events = parse(b"Event: X\r\nName: a\xff\xfeb\r\n\r\nEvent: Y\r\n\r\n", expect_greeting=False)
    bad, ok = events
    assert isinstance(bad, BadFrame) and bad.message is not None
    assert "invalid UTF-8" in bad.reason
    assert bad.message["Name"] == "a\ufffd\ufffdb"
    assert isinstance(ok, Message) and ok.name == "Y"


def test_oversized_frame_is_reported_and_parser_resynchronises() -> None:
    big = b"Event: Big\r\nData: " + b"x" * 5000 + b"\r\n\r\n"
    data = b"Event: A\r\n\r\n" + big + b"Event: B\r\n\r\n"
    for chunk in (None, 1000, 64):
        events = parse(data, chunk, expect_greeting=False, max_frame=1024)
        assert [type(e).__name__ for e in events] == ["Message", "BadFrame", "Message"], chunk
        bad = events[1]
        assert isinstance(bad, BadFrame) and bad.message is None
        assert "longer than 1024 bytes" in bad.reason
        assert [m.name for m in messages(events)] == ["A", "B"]


def test_default_limit_is_one_mebibyte() -> None:
    parser = AmiParser(expect_greeting=False)
    parser.receive_data(b"Event: Big\r\nData: " + b"y" * (1 << 20))
    (bad,) = list(parser)
    assert isinstance(bad, BadFrame)
    assert parser.buffered <= 3  # memory is released while skipping
    parser.receive_data(b"y" * 100 + b"\r\n\r\nEvent: Next\r\n\r\n")
    (nxt,) = list(parser)
    assert isinstance(nxt, Message) and nxt.name == "Next"


def test_no_greeting_means_plain_frames() -> None:
    events = parse(b"Response: Success\r\n\r\n")
    assert [type(e).__name__ for e in events] == ["Message"]


# -- encoding ---------------------------------------------------------------------------------


def test_encode_action_with_repeated_headers() -> None:
    data = encode_action(
        "Originate", {"Channel": "Local/100@inbound", "Variable": ["A=1", "B=ä"]}, "id-1"
    )
    assert (
        data
        == (
            "Action: Originate\r\nActionID: id-1\r\nChannel: Local/100@inbound\r\n"
            "Variable: A=1\r\nVariable: B=ä\r\n\r\n"
        ).encode()
    )
    assert encode_action("Ping", [("X", "1"), ("X", "2")]).endswith(b"X: 1\r\nX: 2\r\n\r\n")


@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        ({"CallerID": "Evil\r\nAction: Command"}, "'CallerID': value contains '\\r'"),
        ({"Variable": ["ok=1", "x=\ny"]}, "'Variable': value contains '\\n'"),
        ({"Note": "a\x00b"}, "'Note': value contains '\\x00'"),
        ({"Bad:Key": "v"}, "name contains ':'"),
        ({"Bad\nKey": "v"}, "name contains '\\n'"),
        ({"": "v"}, "empty header name"),
    ],
)
def test_header_injection_rejected(headers: dict[str, object], needle: str) -> None:
    with pytest.raises(HeaderInjectionError) as info:
        encode_action("Originate", headers, "id-1")  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_action_name_and_id_are_checked_too() -> None:
    with pytest.raises(HeaderInjectionError, match="'Action'"):
        encode_action("Ping\r\nAction: Command")
    with pytest.raises(HeaderInjectionError, match="'ActionID'"):
        encode_action("Ping", None, "x\ny")


# -- tracker ----------------------------------------------------------------------------------


def test_tracker_error_ends_list_early_and_forget() -> None:
    tracker = ActionTracker()
    tracker.expect("a")
    err = Message.of(("Response", "Error"), ActionID="a", Message="Permission denied")
    result = tracker.feed(err)
    assert isinstance(result, ActionResult) and not result.ok and result.events == ()
    tracker.expect("b")
    tracker.forget("b")
    late = Message.of(("Response", "Success"), ActionID="b")
    assert tracker.feed(late) is late
    with pytest.raises(ValueError, match="already pending"):
        tracker.expect("c")
        tracker.expect("c")
    assert tracker.clear() == ["c"] and len(tracker) == 0


# -- properties -------------------------------------------------------------------------------

header_key = (
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00:"), min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool)
)
header_value = st.text(
    st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=30
).map(lambda v: v.lstrip(" \t"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.integers(1, 64))
def test_arbitrary_bytes_never_raise(data: bytes, chunk: int) -> None:
    events = parse(data, chunk, max_frame=256)
    assert all(isinstance(e, Greeting | Message | BadFrame) for e in events)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1500), st.lists(st.integers(1, 200), min_size=1, max_size=20))
def test_any_chunking_yields_the_same_events(data: bytes, cuts: list[int]) -> None:
    stream = transcript("ping")[:300] + data + b"\r\n\r\nEvent: End\r\n\r\n"
    parser = AmiParser(max_frame=512)
    out: list[ParserEvent] = []
    pos, i = 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        parser.receive_data(stream[pos : pos + step])
        out.extend(parser)
        pos += step
        i += 1
    assert out == parse(stream, max_frame=512)


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1, max_size=20).filter(lambda s: s.isidentifier()),
    st.lists(st.tuples(header_key, header_value), max_size=8),
)
def test_encode_parse_round_trip(name: str, headers: list[tuple[str, str]]) -> None:
    data = encode_action(name, headers, "rt-1")
    (msg,) = messages(parse(data, expect_greeting=False))
    assert msg.headers == (("Action", name), ("ActionID", "rt-1"), *headers)


@settings(max_examples=100, deadline=None)
@given(header_value, st.sampled_from(["\r", "\n", "\x00"]), header_value)
def test_control_characters_in_values_always_rejected(a: str, bad: str, b: str) -> None:
    with pytest.raises(HeaderInjectionError):
        encode_action("Originate", {"CallerID": a + bad + b})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="K: \tv\r", max_size=8), min_size=1, max_size=6))
def test_fast_path_agrees_with_general_path(lines: list[str]) -> None:
    frame = "\r\n".join(lines)
    assume("\r\n\r\n" not in frame and not frame.endswith("\r") and frame.strip("\r\n"))
    assume(not frame.startswith("\n") and not frame.endswith("\n"))
    expected = _parse_frame(frame)
    got = messages(parse((frame + "\r\n\r\n").encode(), expect_greeting=False))
    assert got == ([expected] if expected is not None else [])


def _general_messages(data: bytes) -> list[Message]:
    """Reference: cut on every blank line and parse each frame with the general path only."""
    pieces = re.split(rb"\r?\n\r?\n", data)[:-1]  # the last piece has no terminator yet
    out = [_parse_frame(p.decode("utf-8")) for p in pieces]
    return [m for m in out if m is not None]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(
                # mostly plain lines, so that whole regions pass the fast-path checks …
                st.builds(
                    "{}: {}".format,
                    st.text(alphabet="Ky", min_size=1, max_size=3),
                    st.text(alphabet="v: é", max_size=3),
                ),
                # … and sometimes one odd line among them
                st.text(alphabet="Ky: \tv\r\n:", max_size=8),
            ),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_whole_region_fast_path_agrees_with_general_path(frames: list[list[str]]) -> None:
    # Several frames arrive in one read, so the region-wide checks decide; any odd line
    # (bare CR or LF, missing or second ": ", colon in a key, blank lines) must send the
    # text to the general path rather than be misparsed.
    data = "\r\n\r\n".join("\r\n".join(lines) for lines in frames).encode() + b"\r\n\r\n"
    got = messages(parse(data, expect_greeting=False))
    assert got == _general_messages(data)


def test_whole_region_fast_path_on_plain_frames() -> None:
    data = (
        b"Event: A\r\nKey: v: w\r\nEmpty: \r\nTime: 12:30:00\r\n\r\n"
        b"Event: B\r\nOdd:value\r\n\r\n"
        b"Event: C\r\nK:  padded\r\n\r\n"
        b"Event: D\r\n\r\n"
    )
    got = messages(parse(data, expect_greeting=False))
    assert [m.headers for m in got] == [
        (("Event", "A"), ("Key", "v: w"), ("Empty", ""), ("Time", "12:30:00")),
        (("Event", "B"), ("Odd", "value")),
        (("Event", "C"), ("K", "padded")),
        (("Event", "D"),),
    ]
    assert got == _general_messages(data)
    # A second ": " on one line and a stray blank line in one region: the counts balance,
    # only the blank-line check keeps this off the fast path.
    data = b"Event: E\r\nA: b: c\r\n\r\n\r\nD: e\r\n\r\n"
    got = messages(parse(data, expect_greeting=False))
    assert [m.headers for m in got] == [(("Event", "E"), ("A", "b: c")), (("D", "e"),)]
