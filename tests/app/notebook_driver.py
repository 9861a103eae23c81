"""Runs a chapter's notebook blocks in one interpreter, in order, as a learner pasting them into a notebook would.

Usage: python notebook_driver.py BLOCKS.json OUTPUTS.json. Each block's stdout is captured on its own and written
to OUTPUTS.json as a list; a block that raises stops the chain, with its index and traceback on stderr (exit 1).
"""

import contextlib
import io
import json
import sys
import time
import traceback


def main(blocks_path: str, outputs_path: str) -> int:
    blocks = json.loads(open(blocks_path, encoding="utf-8").read())
    namespace: dict = {"__name__": "__main__"}
    outputs: list[str] = []
    for index, block in enumerate(blocks):
        captured = io.StringIO()
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(captured):
                exec(compile(block["source"], block["name"], "exec"), namespace)
        except BaseException:
            outputs.append(captured.getvalue())
            print(f"block {index} ({block['name']}) raised:\n{traceback.format_exc()}", file=sys.stderr)
            json.dump(outputs, open(outputs_path, "w", encoding="utf-8"))
            return 1
        outputs.append(captured.getvalue())
        print(f"block {index} ({block['name']}): {time.perf_counter() - started:.1f} s", file=sys.stderr)
    json.dump(outputs, open(outputs_path, "w", encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
