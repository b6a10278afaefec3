"""The tablet wire protocol: packets and their digest, push and replay, settlement, pull
cursors, tablet clock offsets and what the desk sees of refused packets. No HTTP here."""
