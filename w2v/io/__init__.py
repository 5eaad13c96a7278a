"""Bytes in and out: corpora read (corpus.py), vector and model files (formats.py), and the
one writer every output goes through (files.py). Nothing here knows about training."""
