"""Training GeoSAM2: part curation from artist meshes (`curate`, geometry only), rendered
sequences (`dataset`, torch), the loss (`loss`) and the fine-tuning loop (`train`).

Import the module you need: this package imports none of them, so that curation
never loads torch.
"""
