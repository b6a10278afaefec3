"""`kancha simulate`: a branch's day played against the wire contract, with its own truth.

A client only: it speaks HTTP to the server and imports nothing of it; a server of its own
is started, and given its users, through the `kancha` command line as an operator would.
"""
