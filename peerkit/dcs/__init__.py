"""Collaboration: shared pycrdt documents over per-author change streams of encrypted updates."""
