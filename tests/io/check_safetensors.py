#!/usr/bin/env python3
"""Reads a .safetensors file written by attngan and prints its metadata and
tensors (name, dtype, shape, and for numeric tensors the sum and first
values), to show that Python reads the library's files.

Uses only the standard library (json, struct, array): it parses the header
itself and checks the layout the format prescribes — 8-byte little-endian
header length, a JSON object padded to a multiple of 8, data offsets that
cover the data section exactly, in any order, without overlaps or gaps, and
sizes that match dtype and shape. When the `safetensors` package (and numpy)
is installed it also opens the file with safetensors.safe_open and compares
every tensor's bytes. Not run by CI.

    python3 tests/io/check_safetensors.py FILE [--max-tensors N]
Exit status 0 when the file is valid, 1 otherwise.
"""
import argparse
import array
import json
import struct
import sys

SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
         "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8}
ARRAY_CODES = {"U8": "B", "I8": "b", "U16": "H", "I16": "h", "U32": "I", "I32": "i", "U64": "Q", "I64": "q",
               "F32": "f", "F64": "d", "BOOL": "B"}


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--max-tensors", type=int, default=40, help="tensors to list (all are checked)")
    args = ap.parse_args()

    with open(args.file, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n % 8 != 0:
        fail(f"header length {n} is not a multiple of 8")
    if 8 + n > len(blob):
        fail(f"header length {n} runs past the end of the {len(blob)}-byte file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", {})

    spans = []
    for name, info in header.items():
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in SIZES:
            fail(f"{name}: unknown dtype {dtype}")
        numel = 1
        for d in shape:
            numel *= d
        if end - begin != numel * SIZES[dtype]:
            fail(f"{name}: offsets [{begin}, {end}) do not hold {dtype} {shape}")
        spans.append((begin, end, name))
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            fail(f"{name}: starts at {begin}, expected {at} (overlap or gap)")
        at = end
    if at != len(data):
        fail(f"the tensors cover {at} of the {len(data)} data bytes")

    print(f"{args.file}: {len(header)} tensors, {len(data)} data bytes, header {n} bytes")
    for k, v in sorted(meta.items()):
        shown = v if len(v) <= 70 else v[:67] + "..."
        print(f"  metadata {k} = {shown}")
    total = 0
    for i, (name, info) in enumerate(header.items()):
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        numel = (end - begin) // SIZES[dtype]
        total += numel
        if i >= args.max_tensors:
            continue
        line = f"  {name:48s} {dtype:4s} {str(tuple(shape)):22s}"
        code = ARRAY_CODES.get(dtype)
        if code and numel:
            values = array.array(code)
            values.frombytes(bytes(data[begin:end]))
            if sys.byteorder != "little":
                values.byteswap()
            first = ", ".join(f"{x:.6g}" if isinstance(x, float) else str(x) for x in values[:3])
            line += f" sum {sum(values):.6g}  [{first}{', ...' if numel > 3 else ''}]"
        print(line)
    if len(header) > args.max_tensors:
        print(f"  ... and {len(header) - args.max_tensors} more")
    print(f"  {total} elements in all; layout valid")

    try:
        from safetensors import safe_open  # optional cross-check with the reference reader
        import numpy as np
    except ImportError:
        print("  (the safetensors package is not installed: checked with json/struct only)")
        return
    with safe_open(args.file, framework="numpy") as f:
        if set(f.keys()) != set(header):
            fail("safetensors.safe_open sees other names")
        for name in f.keys():
            info = header[name]
            begin, end = info["data_offsets"]
            if f.get_tensor(name).tobytes() != bytes(data[begin:end]):
                fail(f"{name}: safetensors.safe_open reads other bytes")
        if (f.metadata() or {}) != meta:
            fail("safetensors.safe_open reads other metadata")
    print("  safetensors.safe_open reads the same names, bytes and metadata")


if __name__ == "__main__":
    main()
