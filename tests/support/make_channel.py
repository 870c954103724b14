"""Build a tiny real conda package with conda-package-handling and write the channel's repodata.json.

usage: make_channel.py OUT_DIR CHANNEL [NAME]   (writes OUT_DIR/CHANNEL/noarch/{NAME-1.0.0-0.tar.bz2,repodata.json};
       NAME defaults to hello-private)
"""
import hashlib
import json
import os
import sys
import tempfile

from conda_package_handling import api

out_dir, channel = os.path.abspath(sys.argv[1]), sys.argv[2]
subdir_dir = os.path.join(out_dir, channel, "noarch")
os.makedirs(subdir_dir, exist_ok=True)
name = sys.argv[3] if len(sys.argv) > 3 else "hello-private"
version, build = "1.0.0", "0"
index = {
    "name": name, "version": version, "build": build, "build_number": 0, "depends": [],
    "license": "BSD-3-Clause", "subdir": "noarch", "noarch": "generic", "timestamp": 1700000000000,
}
with tempfile.TemporaryDirectory() as prefix:
    payload = os.path.join("share", name, "hello.txt")
    os.makedirs(os.path.join(prefix, "info"))
    os.makedirs(os.path.dirname(os.path.join(prefix, payload)))
    data = b"hello from a private channel\n"
    with open(os.path.join(prefix, payload), "wb") as f:
        f.write(data)
    with open(os.path.join(prefix, "info", "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(prefix, "info", "files"), "w") as f:
        f.write(payload + "\n")
    with open(os.path.join(prefix, "info", "paths.json"), "w") as f:
        json.dump({"paths_version": 1, "paths": [{"_path": payload, "path_type": "hardlink",
                   "sha256": hashlib.sha256(data).hexdigest(), "size_in_bytes": len(data)}]}, f)
    with open(os.path.join(prefix, "info", "about.json"), "w") as f:
        json.dump({"summary": "test package"}, f)
    fn = f"{name}-{version}-{build}.tar.bz2"
    api.create(prefix, None, fn, out_folder=subdir_dir)
pkg = os.path.join(subdir_dir, fn)
blob = open(pkg, "rb").read()
record = dict(index, md5=hashlib.md5(blob).hexdigest(), sha256=hashlib.sha256(blob).hexdigest(), size=len(blob))
repodata = {"info": {"subdir": "noarch"}, "packages": {fn: record}, "packages.conda": {}, "removed": [],
            "repodata_version": 1}
with open(os.path.join(subdir_dir, "repodata.json"), "w") as f:
    json.dump(repodata, f)
print(pkg)
