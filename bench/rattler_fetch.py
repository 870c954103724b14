"""py-rattler 0.28 `fetch_repo_data` for the benchmark: CHANNEL_URL... (token in the URL), cold cache dir given."""
import asyncio
import sys
import time

from rattler import Channel, Platform, fetch_repo_data
from rattler.networking import Client


async def main():
    cache, urls = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    data = await fetch_repo_data(
        channels=[Channel(u) for u in urls],
        platforms=[Platform("linux-64"), Platform("noarch")],
        cache_path=cache,
        callback=None,
        client=Client.default_client(),
    )
    records = sum(len(d.package_names()) for d in data)
    print(f"{(time.perf_counter() - start) * 1000:.0f} ms in-process, {len(data)} subdirs, {records} package names")


asyncio.run(main())
