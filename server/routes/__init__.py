"""HTTP routes: each module holds its controller and the wire types it speaks."""
