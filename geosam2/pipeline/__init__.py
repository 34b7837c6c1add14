"""The pipeline: the session (prompts -> parts), the parts tree, batch segmentation."""
