"""Shared code for the attention-course notebooks: reference maths, checks with hints, widgets and plots.

Modules:
- ``reference``: the course's functions, written once, following the conventions in README.md;
- ``checking`` and ``checks``: the checks students run, and the mistakes they diagnose;
- ``plots`` and ``widgets``: figures, sliders and the friendly guard around unfinished student code.
"""
