#!/usr/bin/env python3
"""Lists the CUDA kernels compiled into ELF files (objects, static libraries, executables) per GPU
architecture, and checks that every kernel has machine code for each required one.

It reads what nvcc embeds: the .nv_fatbin section of each ELF object holds fatbinaries, whose
entries are PTX (kind 1) or cubins (kind 2, an ELF per sm_XX); a kernel is an entry function of
a cubin (a FUNC symbol with the CUDA entry flag, 0x10, in st_other). Needs only Python, so it
runs where the toolkit has no cuobjdump.

  cuda_kernels.py --require 80,90 build/kernels/cuda/libpipeshard_kernels_cuda.a
exits 1 naming each kernel that lacks an architecture, 2 when a file holds no kernels at all.
"""
import argparse
import struct
import sys

FATBIN_MAGIC = 0xBA55ED50
STO_CUDA_ENTRY = 0x10


def elf_sections(data):
    """(name, bytes) of each section of a 64-bit little-endian ELF image."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = []
    for i in range(shnum):
        name, typ, _flags, _addr, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        link, info, _align, entsize = struct.unpack_from("<IIQQ", data, shoff + i * shentsize + 40)
        headers.append((name, typ, off, size, link, entsize))
    strtab = headers[shstrndx]
    names = data[strtab[2]:strtab[2] + strtab[3]]

    def cstr(table, at):
        return table[at:table.index(b"\0", at)].decode()

    return [(cstr(names, h[0]), h) for h in headers]


def cubin_kernels(cubin):
    """Names of the entry functions (kernels) of one cubin."""
    sections = elf_sections(cubin)
    kernels = set()
    for _, (name, typ, off, size, link, entsize) in sections:
        if typ != 2:  # SHT_SYMTAB
            continue
        strtab = sections[link][1]
        strings = cubin[strtab[2]:strtab[2] + strtab[3]]
        for at in range(off, off + size, entsize):
            st_name, st_info, st_other = struct.unpack_from("<IBB", cubin, at)
            if st_info & 0xF == 2 and st_other & STO_CUDA_ENTRY:  # STT_FUNC, CUDA entry
                kernels.add(strings[st_name:strings.index(b"\0", st_name)].decode())
    return kernels


def fatbin_cubins(blob):
    """(sm, cubin bytes) for each cubin of the fatbinaries concatenated in blob."""
    at = 0
    while at + 16 <= len(blob):
        magic, _version, header_size, fat_size = struct.unpack_from("<IHHQ", blob, at)
        if magic != FATBIN_MAGIC:
            break
        entry, end = at + header_size, at + header_size + fat_size
        while entry < end:
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", blob, entry)
            arch, = struct.unpack_from("<I", blob, entry + 28)  # after kind, version, header and payload sizes, ...
            if kind == 2:
                start = entry + entry_header
                yield arch, blob[start:start + payload]
            entry += entry_header + payload
        at = (end + 7) // 8 * 8  # fatbinaries are 8-byte aligned in the section


def elf_images(path):
    """(member name, bytes) of the ELF images in a file: itself, or each member of an ar archive."""
    data = open(path, "rb").read()
    if data[:8] != b"!<arch>\n":
        return [(path, data)]
    images, at = [], 8
    while at + 60 <= len(data):
        name = data[at:at + 16].decode().strip()
        size = int(data[at + 48:at + 58].decode().strip())
        body = data[at + 60:at + 60 + size]
        if body[:4] == b"\x7fELF":
            images.append((f"{path}({name.rstrip('/')})", body))
        at += 60 + size + (size & 1)
    return images


def kernels_by_arch(path):
    found = {}
    for _, image in elf_images(path):
        for name, (_, typ, off, size, _, _) in elf_sections(image):
            if name != ".nv_fatbin" or typ == 8:  # SHT_NOBITS
                continue
            for arch, cubin in fatbin_cubins(image[off:off + size]):
                found.setdefault(arch, set()).update(cubin_kernels(cubin))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--require", default="80,90", help="comma-separated sm numbers every kernel needs")
    ap.add_argument("--list", action="store_true", help="print every kernel with its architectures")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    required = [int(a) for a in args.require.split(",") if a]
    status = 0
    for path in args.files:
        found = kernels_by_arch(path)
        every = set().union(*found.values()) if found else set()
        if not every:
            print(f"{path}: no CUDA kernels found", file=sys.stderr)
            status = max(status, 2)
            continue
        if args.list:
            for k in sorted(every):
                print(f"  {k}: " + " ".join(f"sm_{a}" for a in sorted(found) if k in found[a]))
        missing = [(k, a) for a in required for k in sorted(every) if k not in found.get(a, set())]
        for k, a in missing[:40]:
            print(f"{path}: kernel {k} has no sm_{a} code", file=sys.stderr)
        if len(missing) > 40:
            print(f"{path}: ... and {len(missing) - 40} more", file=sys.stderr)
        if missing:
            status = max(status, 1)
        archs = ", ".join(f"sm_{a}" for a in sorted(found))
        print(f"{path}: {len(every)} kernels; code for {archs}; "
              + ("MISSING required architectures" if missing else "each has " + ", ".join(f"sm_{a}" for a in required)))
    return status


if __name__ == "__main__":
    sys.exit(main())
