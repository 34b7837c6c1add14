"""From per-view masks to per-element labels: visibility, votes, clean-up, and the
mesh / point-cloud seam (`surface`)."""
