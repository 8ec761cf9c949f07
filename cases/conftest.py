import os
import sys
from pathlib import Path

from hypothesis import settings

from parity.core.profiles import register_pytest_profiles

sys.path.insert(0, str(Path(__file__).parent))  # cases/seed001_model.py is imported by its test
register_pytest_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
