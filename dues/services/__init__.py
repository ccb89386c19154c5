"""Writes to dues: assessments and reductions, the ledger, payments.

Admin, portal, API and jobs all call these; none writes dues rows itself.
"""
