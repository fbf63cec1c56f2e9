"""Depth estimation sharing geometry's reprojection code (issue: "Depth estimation").

Empty until that issue lands; the package exists so that the layout of ARCHITECTURE.md holds.
"""
