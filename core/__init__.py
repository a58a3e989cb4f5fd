"""BBGRUPPEN Portal core.

A request-type plugin imports from :mod:`core.api` (the plugin API) and, in its tests, from
:mod:`core.testing` (the test kit); nothing else of ``core`` is part of the contract.
"""
