#!/usr/bin/env python3
"""The classic script: presign a PUT per file (botocore, as boto3 users do), then upload
them all with asyncio + httpx under a semaphore. Peer for bench/s3.py.

usage: s3_httpx.py DIR ENDPOINT BUCKET PREFIX CONCURRENCY   (credentials from AWS_* env)
"""
import asyncio
import os
import sys

import botocore.session
import httpx
from botocore.config import Config


async def main(root, endpoint, bucket, prefix, concurrency):
    session = botocore.session.get_session()
    s3 = session.create_client("s3", endpoint_url=endpoint, region_name="us-east-1",
                               config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    files = []
    for d, _, names in os.walk(root):
        files += [os.path.join(d, n) for n in names]
    jobs = []
    for path in files:
        key = f"{prefix}/{os.path.relpath(path, root)}"
        url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)
        jobs.append((path, url))
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), timeout=60) as client:
        async def put(path, url):
            async with limit:
                with open(path, "rb") as f:
                    data = f.read()
                r = await client.put(url, content=data)
                r.raise_for_status()
        await asyncio.gather(*(put(p, u) for p, u in jobs))


if __name__ == "__main__":
    root, endpoint, bucket, prefix, conc = sys.argv[1:6]
    asyncio.run(main(root, endpoint, bucket, prefix, int(conc)))
