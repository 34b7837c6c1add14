"""The Gradio demo: a thin shell over geosam2's session API."""
