"""ODK Collect over OpenRosa 1.0: the form it fills in (built from an XLSForm), and a
submission turned into the packets the JSON protocol carries, settled the same way."""
