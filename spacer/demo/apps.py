"""The demo fleet: which libraries each app links, how it is configured, and
what it must print and return when booted.

Library sets are chosen to exercise the aligner: all apps share the core
(kvmplat, ukboot, nolibc); kvstore and counter have exactly the same set
(one stack, two services); ukhash, ramfs, ukargs and uksched are each shared by
a subset of apps; hexdump builds nolibc with another configuration (same name,
different bytes); fsdemo and args build nolibc with a file-descriptor table that
moves every nolibc function further on, as real nolibc does with vfscore;
bigtable is several times larger than hello; tlsdemo has thread-local variables of
its own, which move the shared libraries' thread-pointer offsets in the original
images.

Two families are added on request: generated apps (``gen0000``...), each a
random library set with data of its own, and function apps (``fn000``...), many
small handlers on one large runtime (:mod:`spacer.demo.functions`).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from spacer.demo import functions as faas

CORE = ("kvmplat", "ukboot", "nolibc")
UPPER_HEX = ("nolibc", "-DNOLIBC_UPPER_HEX")
POSIX_FD = ("nolibc", "-DNOLIBC_POSIX_FD")  # moves every nolibc function further on
GENERATED_PREFIX = "gen"
FUNCTION_PREFIX = "fn"


@dataclass(frozen=True)
class DemoApp:
    name: str
    libs: tuple[str, ...]  # link order, platform first
    config: tuple[tuple[str, str], ...]  # (lib, extra -D define) for variant builds
    expected_output: str  # the exact console output, lines separated by "\n"
    exit_code: int

    def defines(self, lib: str) -> tuple[str, ...]:
        """Extra compiler defines for ``lib`` in this app."""
        return tuple(define for name, define in self.config if name == lib)


DEMO_APPS: tuple[DemoApp, ...] = (
    DemoApp("hello", CORE, (), "hello: Hello from the spacer demo fleet!", 3),
    DemoApp("hexdump", CORE, (UPPER_HEX,), "hexdump: CAFEBABE DEADBEEF 1BADB002", 4),
    DemoApp("hashsum", CORE + ("ukhash",), (), "hashsum: crc32=cbf43926 fnv1a=bb86b11c", 5),
    DemoApp("sched", CORE + ("ukalloc", "uksched"), (),
            "sched: a0 b0 a1 b1 a2 b2 switches=8", 6),
    DemoApp("fsdemo", CORE + ("ramfs", "ukhash"), (POSIX_FD,),
            "fsdemo: files=2 motd=19 log=18 crc=75f4d78b", 7),
    DemoApp("kvstore", CORE + ("ukalloc", "ukhash", "ramfs", "ukargs"), (),
            "kvstore: alpha=1 gamma=333 delta=-1 log=7", 8),
    DemoApp("counter", CORE + ("ukalloc", "ukhash", "ramfs", "ukargs"), (),
            "counter: words=11 the=3 crc=323d3283", 9),
    DemoApp("args", CORE + ("ukargs",), (POSIX_FD,), "args: 3 [one|two three|four] extra=0 errno=34", 10),
    DemoApp("bigtable", CORE + ("ukalloc",), (), "bigtable: entries=81920 funcs=200 sum=e2740000 acc=ed907e2b", 11),
    DemoApp("libinfo", CORE + ("ukalloc", "uksched", "uklibinfo"), (),
            "libinfo: 6 libs: kvmplat ukboot nolibc ukalloc uksched uklibinfo inits=2 ticks=1",
            12),
    DemoApp("tlsdemo", CORE, (), "tlsdemo: hits=50 sum=645 log=tls ok errno=34", 14),
)

# Apps outside the fleet, built by benchmarks: a loop of calls into nolibc timed with
# the TSC (its output has the cycle count, so it is not compared byte for byte).
BENCH_APPS: tuple[DemoApp, ...] = (
    DemoApp("callloop", CORE + ("ukhash",), (), "callloop: sum=", 13),
)

# Libraries a generated app may add to the core, and how its C code uses them.
_OPTIONAL = ("ukalloc", "ukhash", "ramfs", "uksched", "ukargs", "uklibinfo")
_HEADERS = {"ukalloc": "uk_alloc.h", "ukhash": "uk_hash.h", "ramfs": "ramfs.h",
            "uksched": "uk_sched.h", "ukargs": "uk_args.h", "uklibinfo": "uk_libinfo.h"}
_CALLS = {
    "ukalloc": "\tuk_free(uk_malloc(32));\n",
    "ramfs": "\tramfs_write(ramfs_open(\"/gen\", 1), \"x\", 1);\n",
    "uksched": "\tuk_thread_create(nop, NULL);\n\tuk_sched_run();\n",
    "ukargs": "\tuk_argparse(words, argv_buf, 4);\n",
    "uklibinfo": "\t(void)uk_libinfo_count();\n",
}


def _mix(x: int) -> int:
    """A fixed 32-bit integer hash (deterministic across Python versions)."""
    x = (x * 0x9E3779B1 + 0x7F4A7C15) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x85EBCA77) & 0xFFFFFFFF
    x ^= x >> 13
    return x


def _gen_name(index: int) -> str:
    return f"{GENERATED_PREFIX}{index:04d}"


def _gen_plan(index: int) -> tuple[tuple[str, ...], bool, list[int], int]:
    """Library set, nolibc variant flag, data words and function count of app ``index``."""
    bits = _mix(index)
    libs = CORE + tuple(lib for i, lib in enumerate(_OPTIONAL) if bits >> i & 1)
    upper = bool(bits >> 8 & 1) and bits % 5 == 0
    words = [_mix(index * 1000 + i) for i in range(16 + (bits >> 10) % 2048)]
    nfuncs = 1 + (bits >> 22) % 64
    return libs, upper, words, nfuncs


def _gen_result(words: list[int], nfuncs: int) -> int:
    """What the generated C code computes (kept in step with generated_source)."""
    s = 0
    for w in words:
        s = (s * 31 + w) & 0xFFFFFFFF
    for k in range(nfuncs):
        s = (s * (2 * k + 3) + k) & 0xFFFFFFFF
    return s


def generated_app(index: int) -> DemoApp:
    libs, upper, words, nfuncs = _gen_plan(index)
    x = "X" if upper else "x"  # the nolibc variant prints %x in upper case
    line = f"{_gen_name(index)}: words={len(words)} sum={_gen_result(words, nfuncs):08{x}}"
    if "ukhash" in libs:
        line += f" crc={zlib.crc32(struct.pack(f'<{len(words)}I', *words)):08{x}}"
    return DemoApp(_gen_name(index), libs, (UPPER_HEX,) if upper else (), line, 20 + index % 100)


def generated_source(app: DemoApp) -> str:
    """C source of a generated app (its name encodes its index)."""
    index = int(app.name[len(GENERATED_PREFIX):])
    libs, _upper, words, nfuncs = _gen_plan(index)
    out = ["/* Generated by spacer.demo.apps: do not edit. */\n",
           "#include <stdio.h>\n#include <stdint.h>\n#include <stddef.h>\n"]
    out += [f"#include <{_HEADERS[lib]}>\n" for lib in libs if lib in _HEADERS]
    out.append(f"\nstatic const uint32_t data[{len(words)}] = {{\n")
    out += [f"\t0x{w:08x}u,\n" for w in words]
    out.append("};\n\n")
    for k in range(nfuncs):
        out.append(f"__attribute__((noinline)) static uint32_t g{k}(uint32_t x)\n"
                   f"{{\n\treturn x * {2 * k + 3}u + {k}u;\n}}\n\n")
    if "uksched" in libs:
        out.append("static void nop(void *arg)\n{\n\t(void)arg;\n}\n\n")
    out.append("int main(int argc, char *argv[])\n{\n\tuint32_t s = 0;\n\tunsigned int i;\n")
    if "ukargs" in libs:
        out.append("\tchar words[] = \"a b c\";\n\tchar *argv_buf[4];\n")
    out.append("\n\t(void)argc;\n\t(void)argv;\n")
    out += [_CALLS[lib] for lib in libs if lib in _CALLS]
    out.append("\tfor (i = 0; i < sizeof(data) / sizeof(data[0]); i++)\n"
               "\t\ts = s * 31u + data[i];\n")
    out += [f"\ts = g{k}(s);\n" for k in range(nfuncs)]
    fmt = f"{app.name}: words=%u sum=%08x"
    args = "(unsigned int)(sizeof(data) / sizeof(data[0])), s"
    if "ukhash" in libs:
        fmt += " crc=%08x"
        args += ", uk_crc32(data, sizeof(data))"
    out.append(f"\tprintf(\"{fmt}\\n\", {args});\n\treturn {app.exit_code};\n}}\n")
    return "".join(out)


def is_generated(app: DemoApp) -> bool:
    return app.name.startswith(GENERATED_PREFIX) and app.name[len(GENERATED_PREFIX):].isdigit()


def function_app(index: int) -> DemoApp:
    """Function ``index``: its handler on the shared runtime (ukfaas and what it uses)."""
    name = f"{FUNCTION_PREFIX}{index:03d}"
    return DemoApp(name, CORE + faas.FUNCTION_LIBS, (),
                   faas.function_output(name, index), 40 + index % 60)


def functions_of(n: int) -> list[DemoApp]:
    """The first ``n`` function apps."""
    return [function_app(i) for i in range(n)]


def is_function(app: DemoApp) -> bool:
    return app.name.startswith(FUNCTION_PREFIX) and app.name[len(FUNCTION_PREFIX):].isdigit()


def function_source(app: DemoApp) -> str:
    """C source of a function app: its handler and a main that starts the runtime."""
    index = int(app.name[len(FUNCTION_PREFIX):])
    return faas.function_source(app.name, index, app.exit_code)


def fleet(count: int = 0, functions: int = 0) -> list[DemoApp]:
    """The demo apps plus ``count`` generated ones and ``functions`` function apps."""
    return (list(DEMO_APPS) + [generated_app(i) for i in range(count)]
            + functions_of(functions))
