"""Reading the model server's streamed answer: a POST whose 200 reply is NDJSON, one event object per line.

Any client of the model-server protocol can use it (the Ray Serve client does); `checked` turns a reply other
than 200 into that client's exception.
"""

import json
from collections.abc import AsyncIterator, Callable

import httpx


async def ndjson_events(http: httpx.AsyncClient, url: str, body: dict, headers: dict, timeout: float,
                        checked: Callable[[httpx.Response], object]) -> AsyncIterator[dict]:
    async with http.stream("POST", url, json=body, headers=headers, timeout=timeout) as response:
        if response.status_code != 200:
            await response.aread()
            checked(response)  # raises
        async for line in response.aiter_lines():
            if line.strip():
                yield json.loads(line)
