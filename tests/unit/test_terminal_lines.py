"""LineReader: lines from a StringIO, a pipe or a terminal, without blocking the loop."""

from __future__ import annotations

import io
import os
import pty
import termios

from voice_agent.terminal.lines import LineReader


async def read_all(reader: LineReader) -> list[str]:
    lines = []
    while (line := await reader.readline()) is not None:
        lines.append(line)
    return lines


async def test_string_io_is_read_in_order_then_none() -> None:
    reader = LineReader(io.StringIO("one\ntwo\r\nthree"))
    reader.start()
    assert await read_all(reader) == ["one", "two", "three"]
    assert await reader.readline() is None
    reader.close()


async def test_pipe_lines_arrive_as_written_and_eof_ends() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "r", encoding="utf-8") as stream:
        reader = LineReader(stream)
        reader.start()
        os.write(write_end, "héllo\nwor".encode())
        assert await reader.readline() == "héllo"
        os.write(write_end, b"ld\n")
        assert await reader.readline() == "world"
        os.write(write_end, b"last")
        os.close(write_end)
        assert await read_all(reader) == ["last"]
        reader.close()


async def test_abort_makes_readline_return_none() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "r") as stream:
        reader = LineReader(stream)
        reader.start()
        os.write(write_end, b"pending\n")
        reader.abort()
        assert await reader.readline() is None
        reader.close()
    os.close(write_end)


async def test_ctrl_c_at_a_terminal_is_a_key_and_settings_come_back() -> None:
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    interrupts: list[str] = []
    try:
        with os.fdopen(slave, "r", encoding="utf-8") as stream:
            reader = LineReader(stream, on_interrupt=lambda: interrupts.append("^C"))
            reader.start()
            assert not termios.tcgetattr(slave)[3] & termios.ISIG
            os.write(master, b"half a li\x03")  # dropped, no SIGINT
            os.write(master, b"next\n")
            assert await reader.readline() == "next"
            assert interrupts == ["^C"]
            reader.close()
            assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
