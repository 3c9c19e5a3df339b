"""revfield: run a B2B company's go-to-market as one revenue field.

Every signal lands in one account memory (:mod:`revfield.memory`); agents read it and propose
actions; RevOps policies decide what runs, what waits for a person and what is blocked.
"""

__version__ = "0.1.0"
