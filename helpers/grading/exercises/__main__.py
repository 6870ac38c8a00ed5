"""Write the check data: ``python -m helpers.grading.exercises [FOLDER]`` (by default ``helpers/check_data``)."""

import sys
from pathlib import Path

from helpers.grading.exercises import write

if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[2] / "check_data")
