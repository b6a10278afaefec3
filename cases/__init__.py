"""The case domain: opening and dispatch, review, the timeline and timings derived from the
packet log, limits, stages, branch rates, recalculation, the board, reports and the change
feed. The bottom of kancha: it imports nothing of sync/, media/ or server/."""
