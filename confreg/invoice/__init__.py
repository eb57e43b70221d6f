"""Issued e-invoices coming back from the national tax platform.

`files` reads what the platform hands out (PDF, OFD, XML, or a .zip of them) into plain facts;
`matching` pairs those facts with confreg's invoice requests. Neither touches Flask or the
database: the service (confreg.services.invoices) stores, attaches and delivers.
"""
