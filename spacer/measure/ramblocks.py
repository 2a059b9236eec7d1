"""QEMU's RAM blocks: which of a QEMU's mergeable mappings is the guest's RAM and which
hold firmware (SeaBIOS ``pc.bios``, option ROMs ``pc.rom``, the ACPI tables QEMU
builds for the BIOS, ``/rom@etc/...``).

QEMU allocates every RAM block as an anonymous mapping of exactly the block's maximum
size (``Total`` in ``info ramblock``) and marks it mergeable (``mg`` in smaps). The
monitor tells the blocks' names and sizes but not their host addresses, so each
mergeable mapping gets the name of the block of its size; blocks of one size share
their names in address order. Without the list, the mapping of exactly the guest's
RAM size is the RAM and every other one counts as firmware.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from spacer.core.errors import ExternalFailure

# The guest's RAM on QEMU's pc and q35 machines, and when booted from the pool (a
# memory backend's block is named after its id).
POOL_RAM = "spacer-pool"
RAM_NAMES = frozenset({"pc.ram", POOL_RAM})
FIRMWARE = "firmware"  # a mapping named without the block list
UNKNOWN = "?"  # a mergeable mapping of a size no block has


@dataclass(frozen=True)
class RamBlock:
    name: str
    total: int  # bytes: the block's maximum size, the size of its mapping


def parse_ramblocks(text: str) -> list[RamBlock]:
    """The blocks of HMP's ``info ramblock`` table (name, page size, offset, used,
    total). Names may hold spaces, so each row is read from its right end."""
    blocks = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 6 or not all(w.startswith("0x") for w in words[-3:]):
            continue
        try:
            total = int(words[-1], 16)
        except ValueError:
            continue
        blocks.append(RamBlock(" ".join(words[:-5]), total))
    return blocks


def name_ranges(ranges: list[tuple[int, int, int]], blocks: list[RamBlock] | None,
                ram_bytes: int) -> list[str]:
    """The block name of each mergeable range (start, end, rss), by size."""
    if blocks is None:
        return ["pc.ram" if end - start == ram_bytes else FIRMWARE for start, end, _ in ranges]
    by_size: dict[int, list[str]] = {}
    for block in blocks:
        by_size.setdefault(block.total, []).append(block.name)
    names = [UNKNOWN] * len(ranges)
    taken: dict[int, int] = {}
    for i in sorted(range(len(ranges)), key=lambda i: ranges[i][0]):
        size = ranges[i][1] - ranges[i][0]
        candidates = by_size.get(size, [])
        n = taken.get(size, 0)
        if n < len(candidates):
            names[i] = candidates[n]
            taken[size] = n + 1
    return names


def is_firmware(name: str) -> bool:
    """Any block but the guest's RAM: firmware, ROMs, ACPI tables (and unknown ones)."""
    return name not in RAM_NAMES


def query_ramblocks(qmp_socket: Path, timeout: float = 10.0) -> list[RamBlock]:
    """``info ramblock`` of the QEMU listening on ``qmp_socket`` (QMP, through
    ``human-monitor-command``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(str(qmp_socket))
            break
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise ExternalFailure("QEMU's QMP socket never opened", qmp_socket) from None
            time.sleep(0.1)
    try:
        with sock, sock.makefile("rwb") as stream:
            _reply(stream)  # the greeting
            for command in ({"execute": "qmp_capabilities"},
                            {"execute": "human-monitor-command",
                             "arguments": {"command-line": "info ramblock"}}):
                stream.write(json.dumps(command).encode() + b"\n")
                stream.flush()
                answer = _reply(stream)
    except (OSError, ValueError) as exc:
        raise ExternalFailure(f"QMP query failed: {exc}", qmp_socket) from None
    if not isinstance(answer.get("return"), str):
        raise ExternalFailure(f"QMP refused info ramblock: {answer.get('error')}", qmp_socket)
    return parse_ramblocks(answer["return"])


def _reply(stream) -> dict:
    """The next message that is not an asynchronous event."""
    while True:
        line = stream.readline()
        if not line:
            raise ValueError("QEMU closed the QMP socket")
        message = json.loads(line)
        if "event" not in message:
            return message
