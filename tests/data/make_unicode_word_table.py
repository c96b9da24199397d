#!/usr/bin/python3
"""Prints the range table of non-ASCII Unicode word characters used by
include/attngan/data/unicode.hpp (kWordRanges).

A code point is a word character of Python's `re` pattern `\\w` (str patterns,
the mode NLTK's RegexpTokenizer uses) iff `chr(c).isalnum()` or c == '_'.
Below U+0080 the header classifies directly ([0-9A-Za-z_]); this script lists
the closed ranges [first, last] above it. Run with the system python and paste
the output over the table; the header records the Unicode version printed in
the first line.

    /usr/bin/python3 tests/data/make_unicode_word_table.py
"""
import unicodedata


def main():
    ranges = []
    start = None
    for c in range(0x80, 0x110001):
        word = c <= 0x10FFFF and chr(c).isalnum()
        if word and start is None:
            start = c
        elif not word and start is not None:
            ranges.append((start, c - 1))
            start = None
    print(f"// Unicode {unicodedata.unidata_version}: {len(ranges)} ranges")
    per_line = 5
    for i in range(0, len(ranges), per_line):
        row = ", ".join(f"{{0x{a:05X}, 0x{b:05X}}}" for a, b in ranges[i:i + per_line])
        print(f"    {row},")


if __name__ == "__main__":
    main()
