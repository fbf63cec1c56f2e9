"""Correspondences, dense descriptor training, evaluation and tracking (later issues).

Empty until those issues land; the package exists so that the layout of ARCHITECTURE.md holds.
"""
