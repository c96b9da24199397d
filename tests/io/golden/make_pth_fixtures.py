#!/usr/bin/env python3
"""Fixtures for tests/io_pth (include/attngan/io/torch_import.hpp): small
PyTorch checkpoints in the formats the importer reads, and the oracle's
outputs of the networks saved in them.

Checkpoints (binary, committed):
  pth_text_encoder_py2.pth  the oracle's text encoder (vocabulary 20, word dim
                            12, nef 8) in the legacy format exactly as PyTorch
                            0.3 under Python 2 wrote the released files:
                            written by hand below (Python 2 str opcodes,
                            OrderedDict([[key, value], ...]),
                            torch._utils._rebuild_tensor with 4 arguments,
                            6-field storage ids of torch.cuda.FloatStorage on
                            'cuda:0'); no num_batches_tracked.
  pth_text_encoder_zip.pth  the same state_dict, torch.save zip format.
  pth_g_legacy.pth          a reduced generator (gf_dim 2, two stages 64/128,
                            r_num 1, nef 16) saved by torch.save with
                            _use_new_zipfile_serialization=False, its
                            num_batches_tracked entries removed (as in the
                            released files, which predate them).
  pth_g_zip.pth             the same generator, zip format, num_batches_tracked
                            present (set to 7).
  pth_d64_zip.pth           a reduced D64 (df_dim 2, nef 16), zip format.
  pth_views_legacy.pth, pth_views_zip.pth
                            a dict of tensors that are views: a transpose of
                            another saved tensor (shared storage), a slice with
                            a storage offset and strides (4, 2), a stride-0
                            expand, and float64 / float16 / bfloat16 / int32 /
                            int64 (0-dim) / uint8 / bool tensors.
  pth_views_py2.pth         hand-written legacy file whose storage id carries
                            view_metadata (a storage view at element offset 2).
  pth_evil_legacy.pth, pth_evil_zip.pth
                            a dict whose value pickles as a call of os.system
                            (GLOBAL posix.system): must be refused, never run.
Golden text files (tests/support/golden.hpp format):
  pth_text_encoder.txt  captions, lengths and the encoder's word and sentence
                        features (eval mode; oracle in float64 on the float32
                        weights of the files)
  pth_gan.txt           G's images and attention maps in eval mode (inputs from
                        the hash formula of tests/models/golden/
                        make_gen_fixtures.py, which this script imports), and
                        D64's code and both heads on the 64x64 input
  pth_views.txt         every tensor of the views dict, contiguous, as float

Run with Debian's PyTorch:
    /usr/bin/python3 tests/io/golden/make_pth_fixtures.py [out_dir]
The oracle is imported from $ATTNGAN_REFERENCE_DIR, default ../shared/reference
relative to the repository root.
"""
import collections
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.environ.get("ATTNGAN_REFERENCE_DIR", os.path.join(REPO, "..", "shared", "reference")))
sys.path.insert(0, os.path.join(REPO, "tests", "models", "golden"))
import attngan_ref as ref  # noqa: E402
import make_gen_fixtures as gen  # noqa: E402  (hash formula, Writer)

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

MAGIC = 0x1950A86A20F9469CFC6C


# --------------------------------------------------------------------------
# the legacy format as PyTorch 0.3 / Python 2 wrote it, by hand
# --------------------------------------------------------------------------
class Py2Pickler:
    """Emits protocol-2 opcodes the way Python 2's cPickle does for the
    objects torch.save met: str -> SHORT_BINSTRING/BINSTRING, memo BINPUT
    after every container, string and global, BINGET for a repeated global."""

    def __init__(self):
        self.b = bytearray(b"\x80\x02")
        self.n = 0
        self.globals = {}

    def put(self):
        self.b += (b"q" + bytes([self.n])) if self.n < 256 else (b"r" + struct.pack("<I", self.n))
        self.n += 1
        return self.n - 1

    def glob(self, module, name):
        key = (module, name)
        if key in self.globals:
            i = self.globals[key]
            self.b += (b"h" + bytes([i])) if i < 256 else (b"j" + struct.pack("<I", i))
            return
        self.b += b"c" + f"{module}\n{name}\n".encode()
        self.globals[key] = self.put()

    def string(self, s):
        s = s.encode()
        self.b += (b"U" + bytes([len(s)])) if len(s) < 256 else (b"T" + struct.pack("<i", len(s)))
        self.b += s
        self.put()

    def int_(self, v):
        if 0 <= v < 256:
            self.b += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.b += b"M" + struct.pack("<H", v)
        else:
            self.b += b"J" + struct.pack("<i", v)

    def tuple_(self, emit_items, n):
        if n == 0:
            self.b += b")"
            return
        if n > 3:
            self.b += b"("
        emit_items()
        self.b += b"t" if n > 3 else bytes([0x84 + n])
        self.put()

    def ints(self, values):
        def items():
            for v in values:
                self.int_(v)
        self.tuple_(items, len(values))

    def list_(self, emit_items, n):
        self.b += b"]"
        self.put()
        if n:
            self.b += b"("
            emit_items()
            self.b += b"e"

    def stop(self):
        self.b += b"."
        return bytes(self.b)


def py2_legacy_bytes(entries, storages, cuda=False):
    """entries: [(key, storage_key, offset, size, stride, view)] with view None or
    (view_key, view_offset, view_size); storages: {storage_key: float32 tensor};
    cuda: the storages as torch.cuda.FloatStorage on 'cuda:0' (the original code
    saved its models from the GPU)."""
    out = bytearray(b"\x80\x02\x8a\x0a" + MAGIC.to_bytes(10, "little") + b".")
    out += b"\x80\x02M\xe9\x03."
    p = Py2Pickler()
    p.b += b"}"
    p.put()
    p.b += b"("
    p.string("protocol_version")
    p.int_(1001)
    p.string("little_endian")
    p.b += b"\x88"
    p.string("type_sizes")
    p.b += b"}"
    p.put()
    p.b += b"("
    for k, v in (("int", 4), ("short", 2), ("long", 8)):
        p.string(k)
        p.int_(v)
    p.b += b"uu"
    out += p.stop()

    p = Py2Pickler()
    p.glob("collections", "OrderedDict")

    def pairs():
        for key, skey, offset, size, stride, view in entries:
            def pair():
                p.string(key)
                p.glob("torch._utils", "_rebuild_tensor")

                def args():
                    def pid():
                        p.string("storage")
                        p.glob("torch.cuda" if cuda else "torch", "FloatStorage")
                        p.string(skey)
                        p.string("cuda:0" if cuda else "cpu")
                        p.int_(storages[skey].numel())
                        if view is None:
                            p.b += b"N"
                        else:
                            def vitems():
                                p.string(view[0])
                                p.int_(view[1])
                                p.int_(view[2])
                            p.tuple_(vitems, 3)
                    p.tuple_(pid, 6)
                    p.b += b"Q"
                    p.int_(offset)
                    p.ints(size)
                    p.ints(stride)
                p.tuple_(args, 4)
                p.b += b"R"
                p.put()
            p.list_(pair, 2)
    p.list_(pairs, len(entries))
    p.b += b"\x85"  # TUPLE1 (items,)
    p.put()
    p.b += b"R"
    p.put()
    out += p.stop()

    keys = sorted(storages)
    p = Py2Pickler()

    def key_items():
        for k in keys:
            p.string(k)
    p.list_(key_items, len(keys))
    out += p.stop()
    for k in keys:
        t = storages[k].to(torch.float32).contiguous()
        out += struct.pack("<q", t.numel()) + t.numpy().tobytes()
    return bytes(out)


def py2_state_dict_bytes(sd):
    """A float32 state_dict (contiguous tensors) in the Python 2 legacy format,
    one storage per tensor with keys as 0.3 wrote them (large decimal ids),
    saved from the GPU as the original code did."""
    entries, storages = [], {}
    for i, (name, t) in enumerate(sd.items()):
        skey = str(94000000 + 4096 * i)
        storages[skey] = t.detach().reshape(-1).clone()
        entries.append((name, skey, 0, list(t.shape), list(t.stride()), None))
    return py2_legacy_bytes(entries, storages, cuda=True)


def save_both(sd, out_dir, stem, legacy=True, zipped=True):
    if legacy:
        torch.save(sd, os.path.join(out_dir, stem + "_legacy.pth"), _use_new_zipfile_serialization=False)
    if zipped:
        torch.save(sd, os.path.join(out_dir, stem + "_zip.pth"), _use_new_zipfile_serialization=True)


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
def text_encoder(out_dir):
    cfg = ref.AttnGANConfig(n_words=20, word_dim=12, emb_dim=8)
    torch.manual_seed(7)
    enc = ref.TextEncoder(cfg)
    with torch.no_grad():
        for t in enc.state_dict().values():
            t.uniform_(-0.4, 0.4)
    sd = enc.state_dict()
    with open(os.path.join(out_dir, "pth_text_encoder_py2.pth"), "wb") as f:
        f.write(py2_state_dict_bytes(sd))
    torch.save(sd, os.path.join(out_dir, "pth_text_encoder_zip.pth"))

    captions = torch.tensor([[3, 7, 1, 19, 4, 2, 0], [5, 5, 9, 11, 8, 0, 0],
                             [2, 13, 17, 6, 1, 0, 0], [12, 14, 10, 0, 0, 0, 0]])
    lengths = torch.tensor([6, 5, 5, 3])
    enc.double().eval()
    with torch.no_grad():
        words, sent = enc(captions, lengths)
    w = gen.Writer()
    w.raw("captions", captions.double())
    w.raw("lengths", lengths.double())
    w.put("words", words)
    w.put("sent", sent)
    w.save(os.path.join(out_dir, "pth_text_encoder.txt"))


def gan(out_dir):
    cfg = ref.AttnGANConfig(n_words=50, word_dim=8, emb_dim=16, z_dim=8, cond_dim=6, gf_dim=2, df_dim=2,
                            r_num=1, branch_num=2, base_size=64)
    g = ref.Generator(cfg)
    d = ref.Discriminator(cfg, 64)
    gen.set_formula_state(g)
    gen.set_formula_state(d)
    with torch.no_grad():
        for m in (g, d):
            for name, t in m.state_dict().items():
                if name.endswith("num_batches_tracked"):
                    t.fill_(7)
    sd = g.state_dict()
    released_like = collections.OrderedDict(
        (k, v) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    assert len(released_like) < len(sd)
    torch.save(released_like, os.path.join(out_dir, "pth_g_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save(sd, os.path.join(out_dir, "pth_g_zip.pth"))
    torch.save(d.state_dict(), os.path.join(out_dir, "pth_d64_zip.pth"))

    lengths = [5, 3]
    z, eps, sent, words, mask, reals = gen.inputs(cfg, 2, 5, lengths)
    g.double().eval()
    d.double().eval()
    w = gen.Writer()
    with torch.no_grad():
        imgs, atts, mu, logvar = g(z, sent, words, mask, eps)
        w.put("ca.mu", mu)
        for i, x in enumerate(imgs):
            w.put(f"image{i}", x)
        for i, a in enumerate(atts):
            w.put(f"attention{i}", a)
        code = d(reals[0])
        w.put("d64.code", code)
        w.put("d64.uncond", d.UNCOND_DNET(code))
        w.put("d64.cond", d.COND_DNET(code, sent))
    w.save(os.path.join(out_dir, "pth_gan.txt"))


def views(out_dir):
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5 - 1
    vs = collections.OrderedDict()
    vs["base"] = base
    vs["transposed"] = base.t()                                      # strides (1, 4), shared storage
    vs["sliced"] = base[1:, ::2]                                     # offset 4, strides (4, 2)
    vs["expanded"] = torch.tensor([1.5, -2.0, 3.25]).expand(2, 3)    # strides (0, 1)
    vs["float64"] = torch.tensor([[1.0 / 3, -2.5e-3]], dtype=torch.float64)
    vs["float16"] = torch.tensor([0.5, -65504.0, 6.1e-5, 1e-7], dtype=torch.float16)
    vs["bfloat16"] = torch.tensor([1.0, -3.140625], dtype=torch.bfloat16)
    vs["int32"] = torch.tensor([-7, 2147483647], dtype=torch.int32)
    vs["int64"] = torch.tensor(123456789012, dtype=torch.int64)     # 0-dim
    vs["uint8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    vs["bool"] = torch.tensor([True, False, True])
    save_both(vs, out_dir, "pth_views")
    w = gen.Writer()
    for k, t in vs.items():
        w.raw(k, t.to(torch.float64).contiguous())
    # the storage view of pth_views_py2.pth: elements 2..7 of a root of 10, as a (2, 3) tensor
    root = torch.arange(10, dtype=torch.float32) * 0.25
    entries = [("window", "140001", 0, [2, 3], [3, 1], ("140002", 2, 6)),
               ("whole", "140001", 1, [3], [3], None)]
    with open(os.path.join(out_dir, "pth_views_py2.pth"), "wb") as f:
        f.write(py2_legacy_bytes(entries, {"140001": root}))
    w.raw("window", root[2:8].reshape(2, 3).double())
    w.raw("whole", root[1::3].double())
    w.save(os.path.join(out_dir, "pth_views.txt"))


class Evil:
    def __reduce__(self):
        return (os.system, ("echo attngan-pwned",))


def evil(out_dir):
    sd = collections.OrderedDict(weight=torch.zeros(2), payload=Evil())
    save_both(sd, out_dir, "pth_evil")


def main(out_dir):
    text_encoder(out_dir)
    gan(out_dir)
    views(out_dir)
    evil(out_dir)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE)
