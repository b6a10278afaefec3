"""`kancha simulate`: a branch's day played against the wire contract, with its own truth.

A client only: it speaks HTTP to the server and never touches the server's database (except
to create the users of a server it started itself, as `kancha user add` would).
"""
