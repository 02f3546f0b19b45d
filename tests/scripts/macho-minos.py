#!/usr/bin/env python3
"""Prints the minimum macOS version a Mach-O executable declares (LC_BUILD_VERSION or
LC_VERSION_MIN_MACOSX), e.g. `11.0` or `10.12`; exits 1 when it is not a 64-bit Mach-O."""
import struct
import sys

data = open(sys.argv[1], "rb").read()
if data[:4] != b"\xcf\xfa\xed\xfe":
    sys.exit(f"{sys.argv[1]}: not a 64-bit little-endian Mach-O")
ncmds = struct.unpack_from("<I", data, 16)[0]
off = 32
for _ in range(ncmds):
    cmd, size = struct.unpack_from("<II", data, off)
    if cmd == 0x32:  # LC_BUILD_VERSION: platform, minos, sdk
        v = struct.unpack_from("<I", data, off + 12)[0]
    elif cmd == 0x24:  # LC_VERSION_MIN_MACOSX: version, sdk
        v = struct.unpack_from("<I", data, off + 8)[0]
    else:
        off += size
        continue
    major, minor, patch = v >> 16, (v >> 8) & 0xFF, v & 0xFF
    print(f"{major}.{minor}" + (f".{patch}" if patch else ""))
    sys.exit(0)
sys.exit(f"{sys.argv[1]}: no minimum OS version")
