"""GeoSAM2 demo (Hugging Face Spaces entry point): `python app.py`, then open http://127.0.0.1:7860.

The GeoSAM2 weights come from GEOSAM2_CHECKPOINT or the Hugging Face Hub; without
them the demo runs the offline geometry segmenter. GRADIO_SERVER_NAME=0.0.0.0
makes it reachable from other machines (as on Spaces). GEOSAM2_MAX_FACES,
GEOSAM2_FACE_BUDGET, GEOSAM2_DEMO_CACHE_MB, GEOSAM2_DEMO_STORE_MB and
GEOSAM2_DEMO_IDLE_MINUTES bound what one server accepts and keeps (defaults and
ranges in geosam2/settings.py).
The users' temporary files are removed when the server stops (Ctrl-C or SIGTERM).
"""

import atexit
import signal

from demo.callbacks import DemoApp
from demo.layout import build_demo, launch_options
from demo.model import load_shared_model
from demo.state import demo_settings

app = DemoApp(load_shared_model(), demo_settings())
atexit.register(app.close)
demo = build_demo(app)

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C, so that the temporary files go
    demo.launch(**launch_options())
