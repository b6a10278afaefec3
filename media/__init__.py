"""Object storage, image checks, EXIF and thumbnails: no HTTP here."""
