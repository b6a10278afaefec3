"""Case lifecycle, packet sync, ordering, clock correction and timings: no HTTP here."""
