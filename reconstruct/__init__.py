"""TSDF fusion, workspace crop, mesh extraction and rendering (issue: "Reconstruction").

Empty until that issue lands; the package exists so that the layout of ARCHITECTURE.md holds.
"""
