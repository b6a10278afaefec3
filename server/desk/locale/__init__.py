"""Desk labels, one module per area (`common.py`, `board.py`, ...), each with `EN` and `ZH`
dicts of the same keys (tests/desk/test_labels.py checks it). Adding an area is adding a
module here: server/desk/i18n.py finds it."""
