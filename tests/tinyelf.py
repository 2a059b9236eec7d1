"""Tiny ELF images built with gcc/ld for the page and memory tests.

Contents come from files pulled in with ``.incbin``, so a test knows every
byte of every segment it asks for.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PAGE = 4096
BASE = 0x400000


def need_toolchain() -> None:
    for tool in ("gcc", "ld"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")


def _link(workdir: Path, name: str, asm: str, lds: str, bits: int,
          blobs: dict[str, bytes]) -> Path:
    need_toolchain()
    workdir.mkdir(parents=True, exist_ok=True)
    for fname, data in blobs.items():
        (workdir / fname).write_bytes(data)
    src, obj, script, out = (workdir / f"{name}{ext}" for ext in (".S", ".o", ".lds", ""))
    src.write_text(asm)
    script.write_text(lds)
    arch = ["-m32"] if bits == 32 else ["-m64"]
    emu = "elf_i386" if bits == 32 else "elf_x86_64"
    subprocess.run(["gcc", *arch, "-c", "-I", str(workdir), str(src), "-o", str(obj)],
                   check=True, capture_output=True)
    subprocess.run(["ld", "-m", emu, "-static", "-nostdlib", "-z", "max-page-size=4096",
                    "-z", "noexecstack", "-T", str(script), str(obj), "-o", str(out)],
                   check=True, capture_output=True)
    return out


def segments_image(workdir: Path, name: str, *, bits: int = 64, text: bytes,
                   rodata: bytes, data: bytes, bss: int, align_data: bool = True) -> Path:
    """Three PT_LOAD segments: text (RX) at BASE, rodata (R) on the next page, data+bss (RW).

    With ``align_data`` False the data segment starts right after rodata,
    inside rodata's last page. ``.bss`` always starts on a page of its own.
    """
    asm = (
        '.section .text,"ax"\n.globl _start\n_start:\n.incbin "text.bin"\n'
        '.section .rodata,"a"\n.incbin "rodata.bin"\n'
        '.section .data,"aw"\n.incbin "data.bin"\n'
        f'.section .bss,"aw",@nobits\n.zero {bss}\n'
    )
    data_align = ". = ALIGN(4096);" if align_data else ""
    lds = f"""
ENTRY(_start)
PHDRS {{ text PT_LOAD FLAGS(5); rodata PT_LOAD FLAGS(4); data PT_LOAD FLAGS(6); }}
SECTIONS {{
  . = {BASE:#x};
  .text : {{ *(.text) }} :text
  . = ALIGN(4096);
  .rodata : {{ *(.rodata) }} :rodata
  {data_align}
  .data : {{ *(.data) }} :data
  . = ALIGN(4096);
  .bss : {{ *(.bss) }} :data
  /DISCARD/ : {{ *(.note*) *(.comment) *(.eh_frame) }}
}}
"""
    blobs = {"text.bin": text, "rodata.bin": rodata, "data.bin": data}
    return _link(workdir / name, name, asm, lds, bits, blobs)


def multiboot_image(workdir: Path, name: str, payload: bytes, message: str = "tiny: up") -> Path:
    """An ELF32 multiboot kernel: prints ``message`` on COM1, then halts for good.

    ``payload`` is loaded as page-aligned read-only data so tests can make
    images that differ in a known number of pages.
    """
    asm = f"""
.section .multiboot,"a"
.align 4
.long 0x1BADB002, 0, -0x1BADB002
.section .text,"ax"
.code32
.globl _start
_start:
    mov $0x3f8, %dx
    mov $msg, %esi
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  cli
3:  hlt
    jmp 3b
.section .rodata,"a"
msg: .asciz "{message}\\n"
.balign 4096
.incbin "payload.bin"
"""
    lds = """
ENTRY(_start)
PHDRS { text PT_LOAD FLAGS(5); rodata PT_LOAD FLAGS(4); }
SECTIONS {
  . = 0x100000;
  .text : { *(.multiboot) *(.text) } :text
  . = ALIGN(4096);
  .rodata : { *(.rodata) } :rodata
  /DISCARD/ : { *(.note*) *(.comment) *(.eh_frame) *(.data) *(.bss) }
}
"""
    return _link(workdir / name, name, asm, lds, 32, {"payload.bin": payload})
