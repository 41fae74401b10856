#!/usr/bin/env python3
"""The naive release upload most scripts and actions do: create the release, then for each
asset re-GET the release (as octocrab's and several actions' upload helpers do) and POST the
asset; `sequential` one by one, `parallel` all at once (Promise.all style). Peer for
bench/release.py.

usage: release_naive.py API REPO TAG DIR sequential|parallel   (token in GITHUB_TOKEN)
"""
import asyncio
import os
import sys

import httpx


async def main(api, repo, tag, root, mode):
    headers = {"authorization": f"Bearer {os.environ['GITHUB_TOKEN']}", "accept": "application/vnd.github+json"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        r = await client.post(f"{api}/repos/{repo}/releases", json={"tag_name": tag, "name": tag})
        r.raise_for_status()
        release_id = r.json()["id"]

        async def one(name):
            rel = await client.get(f"{api}/repos/{repo}/releases/{release_id}")
            rel.raise_for_status()
            upload = rel.json()["upload_url"].split("{")[0]
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            up = await client.post(upload, params={"name": name}, content=data,
                                   headers={"content-type": "application/octet-stream"})
            up.raise_for_status()

        names = sorted(os.listdir(root))
        if mode == "parallel":
            await asyncio.gather(*(one(n) for n in names))
        else:
            for n in names:
                await one(n)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
