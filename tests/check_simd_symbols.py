#!/usr/bin/python3
"""Every SIMD path's object (loops_path.cpp, one per path in libshmpool_kernels.a) defines its
linkable symbols only in its own namespace, shmpool::kernels::path_<name>, or its table: so the
linker can never hand one path's copy of an inline function to another path's caller (which
would run AVX-512 code on a CPU without it). Usage: check_simd_symbols.py LIBSHMPOOL_KERNELS.A"""
import re
import subprocess
import sys

# Mangled names, read from the front: the namespace comes first whatever a template's return
# type (which demangling puts before it). _ZN/_ZNK...: a function or member (K: const); _ZZN:
# an entity local to one (a lambda's call operator); _ZGVZN: its guard.
IN_PATH = re.compile(r"^_Z(?:GV)?Z?N[KVRO]*7shmpool7kernels(\d+)path_")
TABLE = re.compile(r"^(?:__odr_asan\.)?_ZN7shmpool7kernels\d+simd_loops_(\w+)E$")  # ASan: ODR indicator
# libstdc++'s <experimental/simd> names the compiler's target flags in its out-of-line helpers
# (std::experimental::copysign<..., _MachineFlagsTemplate<flags...>>, kept by -O2 under ASan):
# distinct per -march, so the linker never merges two paths' copies.
STD_SIMD = re.compile(r"^_ZNSt12experimental\w*_MachineFlagsTemplateIJ((?:Lm\d+E)+)E")
ALWAYS = {"DW.ref.__gxx_personality_v0"}


def path_of(name):
    """('path', p) for a symbol of path_<p> or its table, ('flags', f) for a libstdc++ simd
    helper built for target flags f, ('', None) for anything allowed and pathless, else None."""
    m = IN_PATH.match(name)
    if m:
        length = int(m.group(1))
        return ("path", name[m.end(1):m.end(1) + length][len("path_"):])
    m = TABLE.match(name)
    if m:
        return ("path", m.group(1))
    m = STD_SIMD.match(name)
    if m:
        return ("flags", m.group(1))
    return ("", None) if name in ALWAYS else None


def members(archive):
    """[(type, mangled name)] per loops_path.cpp.o member of the archive."""
    out = subprocess.run(["nm", "--defined-only", archive], capture_output=True, text=True, check=True).stdout
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


def demangled(name):
    return subprocess.run(["c++filt", name], capture_output=True, text=True).stdout.strip()[:300]


def main():
    objects = members(sys.argv[1])
    if not objects:
        sys.exit("no loops_path.cpp.o in %s" % sys.argv[1])
    problems, flags_owner = [], {}
    for index, symbols in enumerate(objects):
        paths = set()
        for kind, name in symbols:
            what = path_of(name)
            if what is None:
                problems.append("%s %s" % (kind, demangled(name)))
            elif what[0] == "path":
                paths.add(what[1])
            elif what[0] == "flags" and flags_owner.setdefault(what[1], index) != index:
                problems.append("two path objects define libstdc++ simd helpers for the same target "
                                "flags: %s" % demangled(name))
        if len(paths) != 1:
            problems.append("an object defines symbols of paths %s" % sorted(paths))
    if problems:
        sys.exit("SIMD path objects define symbols outside their path's namespace:\n  " + "\n  ".join(problems[:20]))
    print("%d SIMD path objects, each with symbols of its own path only" % len(objects))


if __name__ == "__main__":
    main()
