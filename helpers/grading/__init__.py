"""The instructor's side of the course: solutions, grading, and what never ships to a class (see README.md).

Importing :mod:`helpers` never imports this package; a class release is built without it.
"""
