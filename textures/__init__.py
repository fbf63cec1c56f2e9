"""Seeded procedural images: object textures, table and floor textures, training backgrounds.

The simulator paints objects and the table with them (domain randomization), and descriptor
training pastes them behind objects (background randomization); numpy and OpenCV only.
"""

from textures.procedural import make_background, make_texture, palette_around

__all__ = ["make_background", "make_texture", "palette_around"]
