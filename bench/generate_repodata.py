"""Deterministic, conda-forge-shaped repodata for the Update Index benchmark.

usage: generate_repodata.py OUT_DIR TOTAL_RECORDS [CHANNEL ...]   (default channels: main internal r)
TOTAL_RECORDS up to millions (1,000,000 ≈ 520 MB of JSON, about a minute); names are reused the way conda-forge's
are (about one distinct name per eight records per directory).
Writes OUT_DIR/<channel>/<subdir>/repodata.json and repodata.json.zst for subdirs linux-64 and noarch, with
TOTAL_RECORDS records spread evenly; ~30 % under "packages" (.tar.bz2), ~70 % under "packages.conda".
"""
import hashlib
import json
import os
import random
import sys

import zstandard

SYLLABLES = ["py", "lib", "num", "sci", "data", "arrow", "zlib", "ssl", "xml", "json", "geo", "torch", "net", "io",
             "core", "base", "utils", "fast", "sql", "plot", "stat", "graph", "learn", "compute", "cuda", "boost"]
LICENSES = ["MIT", "BSD-3-Clause", "Apache-2.0", "GPL-3.0-or-later", "LGPL-2.1", "PSF-2.0", "MPL-2.0"]


def name(rng):
    return "-".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) + rng.choice(["", "", "2", "-python", "-cpp"])


def record(rng, subdir, names):
    n = rng.choice(names)
    version = f"{rng.randint(0, 30)}.{rng.randint(0, 40)}.{rng.randint(0, 20)}"
    py = rng.choice(["310", "311", "312", "313"])
    h = hashlib.sha1(f"{n}{version}{rng.random()}".encode()).hexdigest()[:7]
    number = rng.randint(0, 5)
    build = f"py{py}h{h}_{number}" if subdir != "noarch" else f"pyhd8ed1ab_{number}"
    depends = [f"python >={py[0]}.{py[1:]},<{py[0]}.{int(py[1:]) + 1}.0a0"] if subdir != "noarch" else ["python >=3.9"]
    for _ in range(rng.randint(0, 12)):
        d = rng.choice(names)
        depends.append(rng.choice([d, f"{d} >={rng.randint(0, 9)}.{rng.randint(0, 9)}", f"{d} >={rng.randint(1, 5)},<{rng.randint(6, 12)}"]))
    if subdir != "noarch":
        depends += ["libgcc >=13", f"python_abi {py[0]}.{py[1:]}.* *_cp{py}"]
    rec = {
        "build": build, "build_number": number, "depends": depends, "license": rng.choice(LICENSES),
        "md5": hashlib.md5(h.encode()).hexdigest(), "name": n,
        "sha256": hashlib.sha256(h.encode()).hexdigest(), "size": rng.randint(4_000, 90_000_000),
        "subdir": subdir, "timestamp": 1_600_000_000_000 + rng.randint(0, 150_000_000_000), "version": version,
    }
    if rng.random() < 0.2:
        rec["constrains"] = [f"{rng.choice(names)} >={rng.randint(1, 4)}"]
    if subdir == "noarch":
        rec["noarch"] = "python"
    return rec


def write(out_dir, channel, subdir, count, seed):
    rng = random.Random(seed)
    names = [name(rng) for _ in range(max(50, count // 8))]
    packages, conda = {}, {}
    while len(packages) + len(conda) < count:
        rec = record(rng, subdir, names)
        stem = f"{rec['name']}-{rec['version']}-{rec['build']}"
        if stem + ".tar.bz2" in packages or stem + ".conda" in conda:
            continue  # file names are unique in a channel directory
        if rng.random() < 0.3:
            packages[stem + ".tar.bz2"] = rec
        else:
            conda[stem + ".conda"] = rec
    doc = {"info": {"subdir": subdir}, "packages": packages, "packages.conda": conda, "removed": [], "repodata_version": 1}
    d = os.path.join(out_dir, channel, subdir)
    os.makedirs(d, exist_ok=True)
    raw = json.dumps(doc, separators=(",", ":")).encode()
    with open(os.path.join(d, "repodata.json"), "wb") as f:
        f.write(raw)
    zst = zstandard.ZstdCompressor(level=3).compress(raw)
    with open(os.path.join(d, "repodata.json.zst"), "wb") as f:
        f.write(zst)
    return len(packages) + len(conda), len(raw), len(zst)


def main():
    out_dir, total = sys.argv[1], int(sys.argv[2])
    channels = sys.argv[3:] or ["main", "internal", "r"]
    subdirs = ["linux-64", "noarch"]
    each = total // (len(channels) * len(subdirs))
    size = zst_size = 0
    for ci, ch in enumerate(channels):
        for si, sd in enumerate(subdirs):
            _, n, z = write(out_dir, ch, sd, each, 42 + ci * 10 + si)
            size += n
            zst_size += z
    print(json.dumps({"records": each * len(channels) * len(subdirs), "bytes": size, "zst_bytes": zst_size}))


if __name__ == "__main__":
    main()
