"""`make bench`: the Users page and the payment-profile transitions at scale.

Run with ``python -m bench`` (``--help`` for the options). Everything here works on
a throwaway database of its own, never the app's default one.
"""
