"""Billing: price lists, agreements, the estimate recorded at filing, charge lines and the invoice basis.

See ``docs/billing.md``. The modules split by job: ``models`` (tables), ``money`` (the one rounding rule and
Swedish formatting), ``periods`` (months in Europe/Stockholm), ``pricing`` (what a request costs under an
agreement), ``recording`` (estimate at filing, lines at completion, staff corrections), ``catalogue`` (price
lists and agreements with their validation) and ``invoicing`` (invoice basis, CSV, closing months).
This package module imports nothing, so ``core.models`` can register the billing tables without a cycle.
"""
