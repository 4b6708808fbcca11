import sys
from pathlib import Path

# Test helpers (harness.py, tflite_writer.py) import as top-level modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))
