"""Bank statements: reading the account's transactions as the bank exports them.

`statement` reads the file (no Flask, no database); matching transactions to registrations
and recording payments build on what it returns.
"""
