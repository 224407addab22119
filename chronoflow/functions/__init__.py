"""User functions: checked at upload, run in the sandbox, versioned, with state kept between runs.

- :mod:`.checks`: what a function must be before it is saved;
- :mod:`.runners`: the API process's sandbox runners;
- :mod:`.running`: one run, its messages and its state (shared by the FUNCTION target and test runs);
- :mod:`.service`: the rules behind ``/functions``.
"""
