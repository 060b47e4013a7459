"""What one Mac builds for the others: the build key and the archive (archive.py)."""
