"""Geometry of the surface: the face graph, its regions, point normals, the decimated proxy."""
