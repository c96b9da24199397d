#!/usr/bin/python3
"""Writes the golden files of tests/data (pickles and tokeniser cases).

Run from anywhere with the system python (no third-party modules):

    /usr/bin/python3 tests/data/golden/make_golden.py

Python 3 pickles come from pickle.dumps with protocols 0 to 5. The original
CUB metadata was written by Python 2, whose pickler emits opcodes Python 3
never writes for these values (SHORT_BINSTRING / BINSTRING / STRING for str,
INT for bools in protocol 0, batched APPENDS/SETITEMS); `py2_dumps` below
re-creates that output for lists, dicts, str (bytes here), unicode and int,
and every file it writes is checked by loading it back with Python 3's
pickle. The C++ tests hard-code the same values (test_pickle.cpp).
"""
import os
import pickle
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


# --- a Python 2 pickler for plain data (protocols 0 and 2) --------------------
def _py2_repr(b):
    quote = b"'"
    if b"'" in b and b'"' not in b:
        quote = b'"'
    out = quote
    for c in b:
        ch = bytes([c])
        if ch == quote or ch == b"\\":
            out += b"\\" + ch
        elif ch == b"\t":
            out += b"\\t"
        elif ch == b"\n":
            out += b"\\n"
        elif ch == b"\r":
            out += b"\\r"
        elif c < 0x20 or c >= 0x7F:
            out += b"\\x%02x" % c
        else:
            out += ch
    return out + quote


def py2_dumps(obj, proto):
    assert proto in (0, 2)
    out = bytearray()
    memo = {}
    binary = proto >= 1

    def put():
        i = len(memo)
        if binary:
            out.extend(b"q" + bytes([i]) if i < 256 else b"r" + struct.pack("<i", i))
        else:
            out.extend(b"p%d\n" % i)
        return i

    def memoize(o):
        memo[id(o)] = (put(), o)

    def save(o):
        if id(o) in memo and not isinstance(o, int):
            i = memo[id(o)][0]
            if binary:
                out.extend(b"h" + bytes([i]) if i < 256 else b"j" + struct.pack("<i", i))
            else:
                out.extend(b"g%d\n" % i)
            return
        if isinstance(o, int):
            if binary and 0 <= o <= 0xFF:
                out.extend(b"K" + bytes([o]))
            elif binary and 0 <= o <= 0xFFFF:
                out.extend(b"M" + struct.pack("<H", o))
            elif binary and -(2 ** 31) <= o < 2 ** 31:
                out.extend(b"J" + struct.pack("<i", o))
            else:  # Python 2 writes a 64-bit int in text even in protocol 2
                out.extend(b"I%d\n" % o)
        elif isinstance(o, bytes):  # Python 2 str
            if binary:
                out.extend((b"U" + bytes([len(o)])) if len(o) < 256 else (b"T" + struct.pack("<i", len(o))))
                out.extend(o)
            else:
                out.extend(b"S" + _py2_repr(o) + b"\n")
            memoize(o)
        elif isinstance(o, str):  # Python 2 unicode
            if binary:
                enc = o.encode("utf-8")
                out.extend(b"X" + struct.pack("<i", len(enc)) + enc)
            else:
                esc = o.replace("\\", "\\u005c").replace("\n", "\\u000a")
                out.extend(b"V" + esc.encode("raw-unicode-escape") + b"\n")
            memoize(o)
        elif isinstance(o, list):
            out.extend(b"]" if binary else b"(l")
            memoize(o)
            if not binary:
                for x in o:
                    save(x)
                    out.extend(b"a")
                return
            for start in range(0, len(o), 1000):
                batch = o[start:start + 1000]
                if len(batch) > 1:
                    out.extend(b"(")
                    for x in batch:
                        save(x)
                    out.extend(b"e")
                else:
                    save(batch[0])
                    out.extend(b"a")
        elif isinstance(o, dict):
            out.extend(b"}" if binary else b"(d")
            memoize(o)
            items = list(o.items())
            if not binary:
                for k, v in items:
                    save(k)
                    save(v)
                    out.extend(b"s")
                return
            for start in range(0, len(items), 1000):
                batch = items[start:start + 1000]
                if len(batch) > 1:
                    out.extend(b"(")
                    for k, v in batch:
                        save(k)
                        save(v)
                    out.extend(b"u")
                else:
                    save(batch[0][0])
                    save(batch[0][1])
                    out.extend(b"s")
        else:
            raise TypeError(type(o))

    if proto >= 2:
        out.extend(b"\x80" + bytes([proto]))
    save(obj)
    out.extend(b".")
    return bytes(out)


# --- the values ----------------------------------------------------------------
FILENAMES = [
    "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18",
    "001.Black_footed_Albatross/Black_Footed_Albatross_0009_34",
    "002.Laysan_Albatross/Laysan_Albatross_0002_1027",
    "200.Common_Yellowthroat/Common_Yellowthroat_0055_190967",
]
CLASS_INFO = [1, 1, 2, 200, 0, 255, 256, 65535, 65536, -1, -129, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 40,
              -(2 ** 63), 2 ** 63 - 1]
MIXED = [None, True, False, 1.5, -2.25e10, (1, "a"), (), (1, 2, 3, 4), {"k": [1, {2: "x"}], 3: None},
         "\u00fcn\u00efcode \u9e1f \U0001F426", 2 ** 40, -(2 ** 63), 2 ** 63 - 1, [], {}]


def captions_value():
    words = ["<end>", "this", "bird", "has", "a", "red", "crown", "and", "blue", "wings", "small"]
    words = [str(w) for w in words]
    ixtoword = {i: w for i, w in enumerate(words)}
    wordtoix = {w: i for i, w in enumerate(words)}  # same str objects: memo GETs
    train = [[1, 2, 3, 4, 5, 6], [4, 10, 2, 7, 8, 9], [1, 2, 3, 8, 9]]
    test = [[5, 6, 7], [10, 2]]
    return [train, test, ixtoword, wordtoix]


def write(name, data, expect):
    got = pickle.loads(data, encoding="latin1")
    if got != expect:
        raise SystemExit(f"{name}: reads back as {got!r}, expected {expect!r}")
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    for proto in range(0, 6):
        write(f"filenames_p{proto}.pickle", pickle.dumps(FILENAMES, protocol=proto), FILENAMES)
        write(f"class_info_p{proto}.pickle", pickle.dumps(CLASS_INFO, protocol=proto), CLASS_INFO)
        write(f"mixed_p{proto}.pickle", pickle.dumps(MIXED, protocol=proto), MIXED)
        caps = captions_value()
        write(f"captions_p{proto}.pickle", pickle.dumps(caps, protocol=proto), caps)

    # Python 2 output: str (bytes) and unicode file names, int class ids.
    py2_names = [n.encode("ascii") for n in FILENAMES]
    for proto in (0, 2):
        write(f"filenames_py2_str_p{proto}.pickle", py2_dumps(py2_names, proto), FILENAMES)
        write(f"filenames_py2_unicode_p{proto}.pickle", py2_dumps(list(FILENAMES), proto), FILENAMES)
        write(f"class_info_py2_p{proto}.pickle", py2_dumps(CLASS_INFO, proto), CLASS_INFO)
        caps = captions_value()
        write(f"captions_py2_p{proto}.pickle", py2_dumps(caps, proto), caps)
    # A byte string needing escapes in protocol 0 (quotes, backslash, \x).
    odd = [b"it's", b'say "hi"', b"back\\slash\ttab", b"\xc3\xa9t\xc3\xa9"]
    write("strings_py2_p0.pickle", py2_dumps(odd, 0), [o.decode("latin1") for o in odd])
    # 2500 names: APPENDS in batches of 1000 and LONG_BINPUT past memo 255.
    many = [f"{i:03d}.Class/Image_{i}" for i in range(2500)]
    write("filenames_py2_many_p2.pickle", py2_dumps([m.encode() for m in many], 2), many)

    # Refused inputs that Python itself writes.
    with open(os.path.join(HERE, "bytes_py3_p2.pickle"), "wb") as f:
        f.write(pickle.dumps([b"abc"], protocol=2))  # _codecs.encode via GLOBAL + REDUCE
    nested = []
    for _ in range(100):
        nested = [nested]
    with open(os.path.join(HERE, "nested_100_p2.pickle"), "wb") as f:
        f.write(pickle.dumps(nested, protocol=2))

    # Tokeniser cases (spec §2.2): one caption per line, and the tokens Python
    # produces for it, space-separated (an empty line: no token, skipped).
    cases = [
        "This bird has a RED crown, blue wings and a short black beak.",
        "a bird with 2 wings_and a tail",
        "the caf\u00e9 bird is na\u00efve",
        "cafe\u0301s are open",
        "small\ufffd\ufffdbird with\ufffdwhite belly",
        "\u2018curly\u2019 \u201cquotes\u201d \u2014 dash\u00a0nbsp",
        "\u0130stanbul \u212aelvin",
        "x\u00b2y \u216b roman",
        "\u9e1fbird \U0001F426 emoji",
        "tab\there\r",
        "\u00f1",
        "!!! ... ???",
        "MiXeD CaSe 123abc",
    ]
    with open(os.path.join(HERE, "tokenise_input.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(cases) + "\n")
    with open(os.path.join(HERE, "tokenise_expected.txt"), "w", encoding="utf-8", newline="") as f:
        for c in cases:
            f.write(" ".join(tokenise(c)) + "\n")


def tokenise(caption):
    """Spec §2.2 with Python's re in Unicode mode (what NLTK's RegexpTokenizer uses)."""
    caption = caption.replace("\ufffd\ufffd", " ")
    tokens = re.findall(r"\w+", caption.lower())
    tokens = [t.encode("ascii", "ignore").decode("ascii") for t in tokens]
    return [t for t in tokens if t]


if __name__ == "__main__":
    main()
