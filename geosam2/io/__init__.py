"""Input and output: meshes, point clouds and their readers, exports, weights, file digests."""
