"""Serves the course with the known exercises of tests/exercise_course.py, for the browser tests.

`python -m tests.browser.exercise_server --port P --data-dir D`: like `course serve`, but the course
is the copy with exercises in chapter 3 (written under the data dir).
"""

import argparse
from pathlib import Path

import uvicorn

from app.content import load_course
from app.db import migrate
from app.main import create_app
from app.settings import Settings
from tests.exercise_course import write_exercise_course


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir)
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    app.state.course = load_course(write_exercise_course(args.data_dir / "chapters"))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
