"""GeoSAM2 demo (Hugging Face Spaces entry point): `python app.py`, then open http://127.0.0.1:7860.

The GeoSAM2 weights come from GEOSAM2_CHECKPOINT or the Hugging Face Hub; without
them the demo runs the offline geometry segmenter. GRADIO_SERVER_NAME=0.0.0.0
makes it reachable from other machines (as on Spaces); GEOSAM2_DEMO_MAX_FACES
sets the largest mesh accepted (default 500,000 faces).
"""

import os

from demo.callbacks import DemoApp
from demo.layout import build_demo, launch_options
from demo.model import load_shared_model

demo = build_demo(DemoApp(load_shared_model(), max_faces=int(os.environ.get("GEOSAM2_DEMO_MAX_FACES", "500000"))))

if __name__ == "__main__":
    demo.launch(**launch_options())
