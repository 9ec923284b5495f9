#!/usr/bin/python3
"""Every SIMD path's object (loops_path.cpp, one per path in libshmpool_kernels.a) defines its
linkable symbols only in its own namespace, shmpool::kernels::path_<name>, or its table: so the
linker can never hand one path's copy of an inline function to another path's caller (which
would run AVX-512 code on a CPU without it). Usage: check_simd_symbols.py LIBSHMPOOL_KERNELS.A"""
import re
import subprocess
import sys

# a function template's name starts with its return type ("void shmpool::...", "std::pair<double,
# bool> shmpool::..."); ASan adds an ODR indicator per global (__odr_asan.<mangled table name>)
ALLOWED = re.compile(r"^((?:[\w:]+(?:<[^<>]*>)?[*&]* )?shmpool::kernels::path_(\w+)::|shmpool::kernels::simd_loops_(\w+)$"
                     r"|DW\.ref\.__gxx_personality_v0$|__odr_asan\._ZN7shmpool7kernels\d+simd_loops_(\w+)E$)")


def members(archive):
    """{member index: [(type, demangled name)]} of the archive's loops_path.cpp.o members."""
    out = subprocess.run(["nm", "-C", "--defined-only", archive], capture_output=True, text=True, check=True).stdout
    found, current = [], None
    for line in out.splitlines():
        if line.endswith(":"):
            current = [] if line[:-1].endswith("loops_path.cpp.o") else None
            if current is not None:
                found.append(current)
        elif current is not None and line.strip():
            _, kind, name = line.split(" ", 2)
            if kind.isupper() or kind in "uvw":  # global, weak or unique: visible to the linker
                current.append((kind, name))
    return found


def main():
    objects = members(sys.argv[1])
    if not objects:
        sys.exit("no loops_path.cpp.o in %s" % sys.argv[1])
    problems = []
    for symbols in objects:
        paths = set()
        for kind, name in symbols:
            m = ALLOWED.match(name)
            if not m:
                problems.append("%s %s" % (kind, name))
            elif m.group(2) or m.group(3) or m.group(4):
                paths.add(m.group(2) or m.group(3) or m.group(4))
        if len(paths) != 1:
            problems.append("an object defines symbols of paths %s" % sorted(paths))
    if problems:
        sys.exit("SIMD path objects define symbols outside their path's namespace:\n  " + "\n  ".join(problems[:20]))
    print("%d SIMD path objects, each with symbols of its own path only" % len(objects))


if __name__ == "__main__":
    main()
