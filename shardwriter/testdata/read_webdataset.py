"""Reads clipstream shards with the real webdataset library, as a user would.

    python read_webdataset.py SHARD.tar.zst ...

Prints one JSON line per sample: key, caption, SHA-256 of the image bytes,
the metadata as parsed, and the member extensions. The Go interop test
(shardwriter/interop_test.go) compares this with what it wrote.
"""
import hashlib
import json
import sys

import webdataset as wds


def main(paths):
    urls = [f"pipe:zstd -dc < '{p}'" for p in paths]
    ds = wds.WebDataset(urls, shardshuffle=False)
    for s in ds:
        print(json.dumps({
            "key": s["__key__"],
            "caption": s["txt"].decode("utf-8"),
            "jpg_sha256": hashlib.sha256(s["jpg"]).hexdigest(),
            "meta": json.loads(s["json"]),
            "members": sorted(k for k in s if not k.startswith("__")),
        }))


if __name__ == "__main__":
    main(sys.argv[1:])
